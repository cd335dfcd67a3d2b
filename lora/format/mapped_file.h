#pragma once
// Read-only views of whole files for the format readers: a memory mapping of a file
// (mmap, PROT_READ, MAP_PRIVATE) or an owned in-memory buffer, behind one type.
#include <cstddef>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace fedlora::lora {

/// A file could not be opened, mapped, written or renamed. The message names the path and
/// the OS error (strerror).
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A read-only memory mapping of a whole file, unmapped on destruction.
/// Movable (the mapping address does not change on move), not copyable.
/// An empty file maps to an empty span (no mmap call is made for it).
/// Caveat of any mmap reader: if another process truncates the file while it is mapped,
/// touching the lost pages raises SIGBUS; files are not locked.
class MappedFile {
 public:
  /// Maps `path`. Throws IoError if it cannot be opened, is not a regular file, or
  /// cannot be mapped.
  static MappedFile open(const std::filesystem::path& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const noexcept { return {static_cast<const std::byte*>(addr_), size_}; }

 private:
  MappedFile(void* addr, std::size_t size) noexcept : addr_(addr), size_(size) {}
  void reset() noexcept;

  void* addr_ = nullptr;
  std::size_t size_ = 0;
};

/// The bytes a parser reads: a mapped file or a buffer it owns. `bytes()` stays valid,
/// at the same address, when a ReadOnlyBytes is moved.
class ReadOnlyBytes {
 public:
  static ReadOnlyBytes map_file(const std::filesystem::path& path) { return ReadOnlyBytes(MappedFile::open(path)); }
  static ReadOnlyBytes own(std::vector<std::byte> buffer) { return ReadOnlyBytes(std::move(buffer)); }

  std::span<const std::byte> bytes() const noexcept;

 private:
  explicit ReadOnlyBytes(MappedFile file) : storage_(std::move(file)) {}
  explicit ReadOnlyBytes(std::vector<std::byte> buffer) : storage_(std::move(buffer)) {}

  std::variant<std::vector<std::byte>, MappedFile> storage_;
};

}  // namespace fedlora::lora
