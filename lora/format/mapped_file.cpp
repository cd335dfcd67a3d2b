#include "lora/format/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace fedlora::lora {
namespace {

std::string os_error(const std::string& what, const std::filesystem::path& path, int err) {
  return what + " '" + path.string() + "': " + std::strerror(err);
}

// Closes a descriptor on scope exit; the mapping keeps its own reference to the file.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

MappedFile MappedFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(os_error("cannot open", path, errno));
  FdGuard guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw IoError(os_error("cannot stat", path, errno));
  if (!S_ISREG(st.st_mode)) throw IoError("cannot map '" + path.string() + "': not a regular file");
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) return MappedFile(nullptr, 0);
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED) throw IoError(os_error("cannot mmap", path, errno));
  return MappedFile(addr, size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    reset();
    addr_ = std::exchange(other.addr_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() { reset(); }

void MappedFile::reset() noexcept {
  if (addr_ != nullptr) ::munmap(addr_, size_);
  addr_ = nullptr;
  size_ = 0;
}

std::span<const std::byte> ReadOnlyBytes::bytes() const noexcept {
  if (const auto* buffer = std::get_if<std::vector<std::byte>>(&storage_)) return {buffer->data(), buffer->size()};
  return std::get<MappedFile>(storage_).bytes();
}

}  // namespace fedlora::lora
