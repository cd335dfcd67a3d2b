#pragma once
// Helpers shared by the fuzz bodies: invariant failures, the typed-error filter, and a
// per-process scratch directory for the loaders that only read files.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <new>
#include <string>
#include <string_view>

namespace fedlora::fuzz {

/// A bug the fuzzer must report: an invariant broken without an exception.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

/// Runs `f`; exceptions derived from std::exception are the typed errors bad input should
/// get and are swallowed. std::bad_alloc is rethrown: a length field trusted into a huge
/// allocation is a bug the fuzzer must see.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception&) {
  }
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// A directory of this process under the system temp dir, created once, removed at exit.
const std::filesystem::path& scratch_dir();

/// Writes `bytes` to scratch_dir()/name and returns the path.
std::filesystem::path write_scratch(const std::string& name, std::string_view bytes);

}  // namespace fedlora::fuzz
