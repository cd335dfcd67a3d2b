#include <gtest/gtest.h>

#include <string>

#include "client/data/data_error.h"
#include "client/data/text_file.h"
#include "client/data/utf8.h"
#include "temp_dir.h"

namespace fedlora::client::data {
namespace {

// Expects validate_utf8 to throw and the message to name the source and `offset`.
void expect_invalid_at(const std::string& bytes, std::size_t offset) {
  try {
    validate_utf8(bytes, "src.txt");
    FAIL() << "accepted invalid UTF-8";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("src.txt"), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte offset " + std::to_string(offset) + " "), std::string::npos) << msg;
  }
}

TEST(Utf8, AcceptsWellFormedSequences) {
  // Boundary code points of each length (RFC 3629 §4, Unicode Table 3-7).
  EXPECT_NO_THROW(validate_utf8("", "s"));
  EXPECT_NO_THROW(validate_utf8(std::string("a\0b", 3), "s"));
  EXPECT_NO_THROW(validate_utf8("\x7F", "s"));
  EXPECT_NO_THROW(validate_utf8("\xC2\x80\xDF\xBF", "s"));          // U+0080, U+07FF
  EXPECT_NO_THROW(validate_utf8("\xE0\xA0\x80\xEF\xBF\xBF", "s"));  // U+0800, U+FFFF
  EXPECT_NO_THROW(validate_utf8("\xED\x9F\xBF\xEE\x80\x80", "s"));  // U+D7FF, U+E000
  EXPECT_NO_THROW(validate_utf8("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", "s"));  // U+10000, U+10FFFF
  EXPECT_NO_THROW(validate_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E", "s"));  // é € 𝄞
}

TEST(Utf8, RejectsMalformedSequencesAtTheirOffset) {
  expect_invalid_at("ab\x80", 2);                   // lone continuation byte
  expect_invalid_at("\xC0\xAF", 0);                 // overlong '/'
  expect_invalid_at("x\xC1\xBF", 1);                // overlong
  expect_invalid_at("\xE0\x80\xAF", 0);             // overlong 3-byte
  expect_invalid_at("\xF0\x80\x80\xAF", 0);         // overlong 4-byte
  expect_invalid_at("ok\xED\xA0\x80", 2);           // surrogate U+D800
  expect_invalid_at("\xED\xBF\xBF", 0);             // surrogate U+DFFF
  expect_invalid_at("\xF4\x90\x80\x80", 0);         // U+110000
  expect_invalid_at("abc\xF5\x80\x80\x80", 3);      // lead byte never valid
  expect_invalid_at("\xFF", 0);
  expect_invalid_at("abcd\xE2\x82", 4);             // truncated at end
  expect_invalid_at("\xE2\x82z", 0);                // missing continuation
  expect_invalid_at("\xC3", 0);                     // truncated 2-byte
  expect_invalid_at("\xF0\x9D\x84", 0);             // truncated 4-byte
  expect_invalid_at("\xF0\x9D\x84\x41", 0);         // bad 4th byte
}

TEST(Utf8, CountsCodePoints) {
  EXPECT_EQ(count_code_points(""), 0u);
  EXPECT_EQ(count_code_points("abc"), 3u);
  EXPECT_EQ(count_code_points("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E"), 8u);  // c a f é ␠ € ␠ 𝄞
}

TEST(TextFile, ReadsFileDropsBomAndReportsFileOffsets) {
  test::TempDir dir;
  const auto good = dir.write("good.txt", "\xEF\xBB\xBFhello\r\nworld");
  EXPECT_EQ(read_text_file(good), "hello\r\nworld");

  // Offset is the file offset, counting the BOM: 3 (BOM) + 5 ("hello").
  const auto bad = dir.write("bad.txt", "\xEF\xBB\xBFhello\xFFworld");
  try {
    read_text_file(bad);
    FAIL() << "accepted invalid UTF-8";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(bad.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte offset 8 "), std::string::npos) << msg;
  }
  EXPECT_THROW(read_text_file(dir.path() / "missing.txt"), DataError);
  EXPECT_THROW(read_text_file(dir.path()), DataError);  // a directory
}

}  // namespace
}  // namespace fedlora::client::data
