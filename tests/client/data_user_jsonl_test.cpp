#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/data/data_error.h"
#include "client/data/user_jsonl.h"
#include "temp_dir.h"

namespace fedlora::client::data {
namespace {

// Fixture by hand: u1 has 3 non-empty texts (+1 empty), u2 2, u3 1; line 3 is blank.
TEST(UserJsonl, LoadsFixture) {
  const Corpus corpus = load_user_jsonl("tests/client/fixtures/users.jsonl");
  const Population& pop = corpus.population;
  ASSERT_EQ(pop.size(), 2u);
  EXPECT_EQ(pop.at(std::size_t{0}).user_id, "u1");
  EXPECT_EQ(pop.at(std::size_t{1}).user_id, "u2");
  EXPECT_EQ(pop.at("u1").train, (std::vector<std::string>{"hello there", "second of u1"}));
  EXPECT_EQ(pop.at("u1").test, std::vector<std::string>{"third\nline"});
  EXPECT_EQ(pop.at("u2").train, std::vector<std::string>{"first of u2"});
  EXPECT_EQ(pop.at("u2").test, std::vector<std::string>{"caf\xC3\xA9 \xE2\x98\x95"});
  EXPECT_EQ(pop.find("u3"), nullptr);
  const CorpusStats& s = corpus.stats;
  EXPECT_EQ(s.users_seen, 3u);
  EXPECT_EQ(s.users_kept, 2u);
  EXPECT_EQ(s.examples_seen, 7u);
  EXPECT_EQ(s.examples_empty, 1u);
  EXPECT_EQ(s.examples_kept, 5u);
  EXPECT_EQ(s.bytes_kept, 11u + 12u + 10u + 11u + 9u);
  EXPECT_EQ(s.characters_kept, 11u + 12u + 10u + 11u + 6u);  // "café ☕" is 6 code points
}

// Expects parse_user_jsonl to throw with "src.jsonl:<line>:" in the message.
void expect_error_on_line(const std::string& text, std::size_t line) {
  try {
    parse_user_jsonl(text, {}, "src.jsonl");
    FAIL() << "accepted: " << text;
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("src.jsonl:" + std::to_string(line) + ":"),
              std::string::npos)
        << e.what();
  }
}

TEST(UserJsonl, MalformedLinesNameTheLine) {
  const std::string ok = "{\"user\":\"a\",\"text\":\"x\"}\n";
  expect_error_on_line(ok + ok + "{\"user\":\"a\",\"text\":\"x\"\n", 3);     // unterminated
  expect_error_on_line(ok + "{\"user\":\"a\",\"text\":\"x\"} junk\n", 2);     // trailing junk
  expect_error_on_line("[1, 2]\n", 1);                                          // not an object
  expect_error_on_line(ok + "\n{\"text\":\"x\"}\n", 3);                        // missing user
  expect_error_on_line("{\"user\":7,\"text\":\"x\"}\n", 1);                    // user not string
  expect_error_on_line("{\"user\":\"a\",\"text\":null}\n", 1);                 // text not string
  expect_error_on_line("{\"user\":\"a\"}\n", 1);                               // missing text
  expect_error_on_line("{\"user\":\"\",\"text\":\"x\"}\n", 1);                 // empty user
  expect_error_on_line("{\"user\":\"a\",\"text\":\"\\ud800\"}\n", 1);          // lone surrogate
  expect_error_on_line(ok + "{\"user\":\"a\",\"text\":\"x\r\n", 2);           // CRLF, broken
  // A user whose every text is empty: named at its first line.
  expect_error_on_line(ok + ok + "{\"user\":\"b\",\"text\":\"\"}\n" + ok + "{\"user\":\"b\",\"text\":\"\"}\n", 3);
  expect_error_on_line(ok + "{\"user\":\"a\",\"text\":\"\xC3\"}\n", 2);          // invalid UTF-8
  // A number too large for a double is nlohmann's out_of_range, not a parse_error (found by
  // fuzz/ user_corpus): still a DataError naming the line.
  expect_error_on_line(ok + "{\"user\":\"a\",\"text\":1e999999}\n", 2);
}

TEST(UserJsonl, AcceptsCrlfAndIgnoresExtraKeys) {
  const Corpus c = parse_user_jsonl(
      "{\"user\":\"a\",\"text\":\"1\",\"lang\":\"en\"}\r\n{\"user\":\"a\",\"text\":\"2\"}\r\n");
  ASSERT_EQ(c.population.size(), 1u);
  EXPECT_EQ(c.population.at("a").test, std::vector<std::string>{"2"});
}

TEST(UserJsonl, RejectsInvalidUtf8WithFileAndOffset) {
  test::TempDir dir;
  const std::string line = "{\"user\":\"a\",\"text\":\"x\"}\n";  // 24 bytes
  const auto file = dir.write("bad.jsonl", line + "{\"user\":\"a\",\"text\":\"\xFF\"}\n");
  try {
    load_user_jsonl(file);
    FAIL() << "accepted invalid UTF-8";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte offset 44 "), std::string::npos) << msg;  // 24 + 20
    EXPECT_NE(msg.find(file.string() + ":2:21: "), std::string::npos) << msg;
  }
  EXPECT_THROW(load_user_jsonl(dir.path() / "missing.jsonl"), DataError);
}

}  // namespace
}  // namespace fedlora::client::data
