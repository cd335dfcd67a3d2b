#include "lora/format/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "lora/format/mapped_file.h"

namespace fedlora::lora {
namespace {

[[noreturn]] void throw_os(const std::string& what, const std::filesystem::path& path, int err) {
  throw IoError(what + " '" + path.string() + "': " + std::strerror(err));
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::filesystem::path dest) : dest_(std::move(dest)) {
  if (dest_.filename().empty()) throw IoError("cannot write '" + dest_.string() + "': path names no file");
  std::string pattern = dest_.string() + ".tmp-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0) throw_os("cannot create a temporary file for", dest_, errno);
  tmp_ = std::filesystem::path(buf.data());
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFileWriter::append(std::span<const std::byte> bytes) {
  if (fd_ < 0) throw IoError("write to '" + dest_.string() + "' after commit");
  const std::byte* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_os("cannot write", tmp_, errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void AtomicFileWriter::append_zeros(std::size_t n) {
  static constexpr std::array<std::byte, 4096> kZeros{};
  while (n > 0) {
    const std::size_t chunk = n < kZeros.size() ? n : kZeros.size();
    append(std::span<const std::byte>(kZeros.data(), chunk));
    n -= chunk;
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) throw IoError("commit of '" + dest_.string() + "' called twice");
  if (::fsync(fd_) != 0) throw_os("cannot fsync", tmp_, errno);
  // mkstemp creates 0600; a model or adapter file is meant to be readable by others.
  if (::fchmod(fd_, 0644) != 0) throw_os("cannot chmod", tmp_, errno);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) throw_os("cannot close", tmp_, errno);
  if (::rename(tmp_.c_str(), dest_.c_str()) != 0) throw_os("cannot rename the temporary file onto", dest_, errno);
  committed_ = true;
  // Make the rename itself durable. A failure here leaves a complete file in place, so it
  // is not reported.
  std::filesystem::path dir = dest_.parent_path();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace fedlora::lora
