// Every file under fuzz/corpus/<target>/ and fuzz/regressions/<target>/ goes through the
// target's fuzz body: it must return (typed errors are caught inside), never crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets/fuzz_targets.h"

namespace fs = std::filesystem;

namespace {

int replay(const fs::path& root) {
  int files = 0;
  if (!fs::exists(root)) return 0;
  for (const auto& dir : fs::directory_iterator(root)) {
    if (!dir.is_directory()) continue;
    const auto target = fedlora::fuzz::find_target(dir.path().filename().string());
    EXPECT_NE(target, nullptr) << "no fuzz target named " << dir.path().filename();
    if (!target) continue;
    for (const auto& f : fs::directory_iterator(dir.path())) {
      std::ifstream in(f.path(), std::ios::binary);
      const std::string bytes(std::istreambuf_iterator<char>(in), {});
      SCOPED_TRACE(f.path().string());
      target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++files;
    }
  }
  return files;
}

TEST(FuzzRegressions, SeedCorporaRunCleanly) {
  EXPECT_GT(replay(fs::path(FEDLORA_FUZZ_DIR) / "corpus"), 20);
}

TEST(FuzzRegressions, KeptCrashInputsStayFixed) { replay(fs::path(FEDLORA_FUZZ_DIR) / "regressions"); }

}  // namespace
