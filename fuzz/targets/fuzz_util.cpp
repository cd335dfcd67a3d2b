#include "fuzz/targets/fuzz_util.h"

#include <unistd.h>

#include <fstream>

namespace fedlora::fuzz {

const std::filesystem::path& scratch_dir() {
  // Never destroyed, so the exit handler can still read it.
  static const std::filesystem::path* dir = [] {
    auto* d = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                        ("fedlora-fuzz-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return *dir;
}

std::filesystem::path write_scratch(const std::string& name, std::string_view bytes) {
  const auto p = scratch_dir() / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) fail("cannot write the fuzz scratch file");
  return p;
}

}  // namespace fedlora::fuzz
