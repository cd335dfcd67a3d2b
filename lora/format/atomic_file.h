#pragma once
// Crash-safe file replacement: data goes to a temporary file in the destination's
// directory, is fsync'ed, then renamed over the destination (rename(2) is atomic within
// one file system), so readers see either the old file or the complete new one.
#include <cstddef>
#include <filesystem>
#include <span>

namespace fedlora::lora {

/// Writes one file atomically. Usage: construct, `append` any number of times, `commit`.
/// If `commit` is never reached (an exception, an early return), the destructor deletes
/// the temporary file and the destination is untouched. All failures throw IoError
/// naming the path and the OS error. Not copyable or movable.
class AtomicFileWriter {
 public:
  /// Creates `<dest>.tmp-XXXXXX` next to `dest` (mkstemp).
  explicit AtomicFileWriter(std::filesystem::path dest);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  void append(std::span<const std::byte> bytes);
  /// Appends `n` zero bytes (format padding).
  void append_zeros(std::size_t n);
  /// fsync, close, chmod 0644, rename over the destination, fsync the directory.
  void commit();

 private:
  std::filesystem::path dest_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace fedlora::lora
