// FEDLORA_DATA_DIR: expansion of config paths, and errors that name the variable.
#include "lora/format/data_dir.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>

#include "tests/lora/format/expect_error.h"
#include "tests/lora/format/temp_dir.h"

namespace fedlora::lora {
namespace {

// Sets the variable for one test and restores what was there.
class DataDirEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv(kDataDirVariable)) saved_ = v, had_ = true;
  }
  void TearDown() override {
    if (had_) setenv(kDataDirVariable, saved_.c_str(), 1);
    else unsetenv(kDataDirVariable);
  }
  std::string saved_;
  bool had_ = false;
};

TEST_F(DataDirEnv, ExpandsALeadingVariableInBothSpellings) {
  test::TempDir dir("data_dir");
  setenv(kDataDirVariable, dir.path().c_str(), 1);
  EXPECT_EQ(expand_data_path("${FEDLORA_DATA_DIR}/shakespeare/t.txt"), dir.path() / "shakespeare" / "t.txt");
  EXPECT_EQ(expand_data_path("$FEDLORA_DATA_DIR/public"), dir.path() / "public");
  EXPECT_EQ(expand_data_path("${FEDLORA_DATA_DIR}"), dir.path());
}

TEST_F(DataDirEnv, LeavesOtherPathsAloneWithoutReadingTheVariable) {
  unsetenv(kDataDirVariable);
  EXPECT_EQ(expand_data_path("users.jsonl"), std::filesystem::path("users.jsonl"));
  EXPECT_EQ(expand_data_path("/abs/${FEDLORA_DATA_DIR}/x"), std::filesystem::path("/abs/${FEDLORA_DATA_DIR}/x"));
  // Another variable whose name starts with ours is not ours.
  EXPECT_EQ(expand_data_path("$FEDLORA_DATA_DIRS/x"), std::filesystem::path("$FEDLORA_DATA_DIRS/x"));
}

TEST_F(DataDirEnv, UnsetOrMissingDirectoryIsAnErrorNamingTheVariable) {
  unsetenv(kDataDirVariable);
  std::string m = test::error_message_of<std::runtime_error>([] { expand_data_path("${FEDLORA_DATA_DIR}/x"); });
  EXPECT_MSG_HAS(m, "FEDLORA_DATA_DIR is not set");
  setenv(kDataDirVariable, "", 1);
  m = test::error_message_of<std::runtime_error>([] { data_dir(); });
  EXPECT_MSG_HAS(m, "FEDLORA_DATA_DIR is not set");
  setenv(kDataDirVariable, "/nonexistent/fedlora-data", 1);
  m = test::error_message_of<std::runtime_error>([] { data_dir(); });
  EXPECT_MSG_HAS(m, "FEDLORA_DATA_DIR=/nonexistent/fedlora-data is not a directory");
}

}  // namespace
}  // namespace fedlora::lora
