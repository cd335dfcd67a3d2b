#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/data/data_error.h"
#include "client/data/user_directory.h"
#include "temp_dir.h"

namespace fedlora::client::data {
namespace {

// Fixture by hand: alice.txt has 5 documents (one of two lines, a run of blank lines),
// bob.md 2 (CRLF, leading blank lines), carol.txt 1; .hidden.txt and sub/ are
// skipped. Kept (>= 2): alice 4/1, bob 1/1, in file-name order.
TEST(UserDirectory, LoadsFixture) {
  const Corpus corpus = load_user_directory("tests/client/fixtures/users_dir");
  const Population& pop = corpus.population;
  ASSERT_EQ(pop.size(), 2u);
  EXPECT_EQ(pop.at(std::size_t{0}).user_id, "alice");
  EXPECT_EQ(pop.at(std::size_t{1}).user_id, "bob");
  const UserData& alice = pop.at("alice");
  const std::vector<std::string> alice_train = {"alice one", "alice two, line 1\nalice two, line 2",
                                                "alice three", "alice four"};
  EXPECT_EQ(alice.train, alice_train);
  EXPECT_EQ(alice.test, std::vector<std::string>{"alice five"});
  const UserData& bob = pop.at("bob");
  EXPECT_EQ(bob.train, std::vector<std::string>{"bob one\nstill bob one"});
  EXPECT_EQ(bob.test, std::vector<std::string>{"bob two"});
  EXPECT_EQ(pop.find("carol"), nullptr);
  EXPECT_EQ(pop.find(".hidden"), nullptr);
  EXPECT_EQ(pop.find("dave"), nullptr);

  const CorpusStats& s = corpus.stats;
  EXPECT_EQ(s.users_seen, 3u);  // alice, bob, carol
  EXPECT_EQ(s.users_kept, 2u);
  EXPECT_EQ(s.examples_seen, 8u);
  EXPECT_EQ(s.examples_empty, 0u);
  EXPECT_EQ(s.examples_kept, 7u);
  EXPECT_EQ(s.train_examples, 5u);
  EXPECT_EQ(s.test_examples, 2u);
  // 9 + 35 + 11 + 10 + 10 (alice) + 21 + 7 (bob)
  EXPECT_EQ(s.bytes_kept, 103u);
}

TEST(UserDirectory, RejectsBadDirectories) {
  test::TempDir dir;
  EXPECT_THROW(load_user_directory(dir.path()), DataError);  // no user files
  EXPECT_THROW(load_user_directory(dir.path() / "missing"), DataError);
  dir.write("a.txt", "x\n\ny\n");
  EXPECT_THROW(load_user_directory(dir.path() / "a.txt"), DataError);  // not a directory
  dir.write("a.md", "z\n\nw\n");
  try {
    load_user_directory(dir.path());
    FAIL() << "accepted two files with the same stem";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("\"a\""), std::string::npos) << e.what();
  }
}

TEST(UserDirectory, ReportsInvalidUtf8WithFileAndOffset) {
  test::TempDir dir;
  dir.write("good.txt", "one\n\ntwo\n");
  const auto bad = dir.write("bad.txt", "one\n\ntw\xED\xA0\x80o\n");
  try {
    load_user_directory(dir.path());
    FAIL() << "accepted invalid UTF-8";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(bad.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte offset 7 "), std::string::npos) << msg;
    EXPECT_NE(msg.find(bad.string() + ":3:3: "), std::string::npos) << msg;  // "tw" then the bad byte
  }
}

TEST(UserDirectory, AUserFileWithoutTextIsNamed) {
  for (const std::string empty : {"", "\n\n  \n"}) {
    test::TempDir dir;
    dir.write("good.txt", "one\n\ntwo\n");
    const auto bad = dir.write("ghost.txt", empty);
    try {
      load_user_directory(dir.path());
      FAIL() << "accepted a user with no text";
    } catch (const DataError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(bad.string() + ": user \"ghost\" has 0 examples"), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace fedlora::client::data
