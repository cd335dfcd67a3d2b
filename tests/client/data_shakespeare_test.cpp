#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "client/data/data_error.h"
#include "client/data/shakespeare.h"

namespace fedlora::client::data {
namespace {

const char* kFixture = "tests/client/fixtures/shakespeare_small.txt";

TEST(SpeakerLine, RecognisesNameColonLines) {
  EXPECT_EQ(parse_speaker_line("First Citizen:"), "First Citizen");
  EXPECT_EQ(parse_speaker_line("KING RICHARD III:"), "KING RICHARD III");
  EXPECT_EQ(parse_speaker_line("Senators, &C:"), "Senators, &C");
  EXPECT_EQ(parse_speaker_line("  LADY  CAPULET:\t\r"), "LADY CAPULET");
  EXPECT_EQ(parse_speaker_line("JOS\xC3\x89:"), "JOS\xC3\x89");
  EXPECT_EQ(parse_speaker_line("All:"), "All");
}

TEST(SpeakerLine, RejectsOtherLines) {
  EXPECT_EQ(parse_speaker_line(""), std::nullopt);
  EXPECT_EQ(parse_speaker_line(":"), std::nullopt);
  EXPECT_EQ(parse_speaker_line("   :"), std::nullopt);
  EXPECT_EQ(parse_speaker_line("123:"), std::nullopt);            // no letter
  EXPECT_EQ(parse_speaker_line("ROMEO"), std::nullopt);           // no colon
  EXPECT_EQ(parse_speaker_line("ROMEO: Good morrow"), std::nullopt);  // text after colon
  EXPECT_EQ(parse_speaker_line("Note: a:"), std::nullopt);        // colon inside the name
}

// The fixture, checked by hand: 12 speeches (one, TITUS at line 22, has no body), 5 speakers
// (First Citizen, All, SOLO, LADY CAPULET, TITUS). Non-empty speeches: First Citizen 4,
// All 3, LADY CAPULET 2, SOLO 1, TITUS 1 → with min_speeches 2, three users are kept.
// "Come:" (line 10) and "Nay, let them follow:" (line 26) end in a colon inside a speech and
// must stay body text; a leading blank line and a run of three blank lines separate nothing.
TEST(Shakespeare, ParsesSpeechesOfHandWrittenFixture) {
  std::ifstream in(kFixture, std::ios::binary);
  ASSERT_TRUE(in) << "run from the repository root";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::vector<Speech> speeches = parse_shakespeare_speeches(ss.str(), kFixture);
  const std::vector<std::string> speakers = {"First Citizen", "All", "First Citizen", "All",
                                             "SOLO", "LADY CAPULET", "TITUS", "First Citizen",
                                             "LADY CAPULET", "TITUS", "First Citizen", "All"};
  const std::vector<std::size_t> lines = {2, 5, 8, 13, 16, 19, 22, 24, 30, 33, 36, 39};
  ASSERT_EQ(speeches.size(), speakers.size());
  for (std::size_t i = 0; i < speeches.size(); ++i) {
    EXPECT_EQ(speeches[i].speaker, speakers[i]) << i;
    EXPECT_EQ(speeches[i].line, lines[i]) << i;
  }
  EXPECT_EQ(speeches[2].text,
            "You are all resolved rather to die than to famish?\nCome:\nIs't a verdict?");
  EXPECT_EQ(speeches[6].text, "");
  EXPECT_EQ(speeches[7].text,
            "First, you know Caius Marcius is chief enemy to the people.\nNay, let them follow:");
}

TEST(Shakespeare, BuildsUsersWithSplitAndStats) {
  const Corpus corpus = load_shakespeare_file(kFixture);
  const Population& pop = corpus.population;
  ASSERT_EQ(pop.size(), 3u);
  EXPECT_EQ(pop.at(std::size_t{0}).user_id, "First Citizen");  // order of first appearance
  EXPECT_EQ(pop.at(std::size_t{1}).user_id, "All");
  EXPECT_EQ(pop.at(std::size_t{2}).user_id, "LADY CAPULET");
  EXPECT_EQ(pop.find("SOLO"), nullptr);   // one speech
  EXPECT_EQ(pop.find("TITUS"), nullptr);  // two speeches, but one is empty
  EXPECT_EQ(pop.find("Come"), nullptr);   // never a speaker

  const UserData& citizen = pop.at("First Citizen");  // 4 speeches → 3 train / 1 test
  const std::vector<std::string> citizen_train = {
      "Before we proceed any further, hear me speak.",
      "You are all resolved rather to die than to famish?\nCome:\nIs't a verdict?",
      "First, you know Caius Marcius is chief enemy to the people.\nNay, let them follow:"};
  EXPECT_EQ(citizen.train, citizen_train);
  EXPECT_EQ(citizen.test, std::vector<std::string>{"Let us kill him."});

  const UserData& all = pop.at("All");  // 3 speeches → 2 / 1
  EXPECT_EQ(all.train, (std::vector<std::string>{"Speak, speak.", "Resolved. resolved."}));
  EXPECT_EQ(all.test, std::vector<std::string>{"No more talking on't."});

  const UserData& lady = pop.at("LADY CAPULET");  // 2 speeches → 1 / 1
  EXPECT_EQ(lady.train, std::vector<std::string>{"What noise is here?"});
  const std::string lady_test = "Thou knowest my daughter's of a pretty age \xE2\x80\x94 na\xC3\xAFve.";
  EXPECT_EQ(lady.test, std::vector<std::string>{lady_test});

  const CorpusStats& s = corpus.stats;
  EXPECT_EQ(s.examples_seen, 12u);
  EXPECT_EQ(s.examples_empty, 1u);
  EXPECT_EQ(s.users_seen, 5u);
  EXPECT_EQ(s.users_kept, 3u);
  EXPECT_EQ(s.train_examples, 6u);
  EXPECT_EQ(s.test_examples, 3u);
  EXPECT_EQ(s.examples_kept, 9u);
  std::size_t bytes = 0;
  for (const auto* v : {&citizen_train, &all.train, &all.test, &lady.train}) {
    for (const auto& t : *v) bytes += t.size();
  }
  bytes += std::string("Let us kill him.").size() + lady_test.size();
  EXPECT_EQ(s.bytes_kept, bytes);
  EXPECT_EQ(s.characters_kept, bytes - 3);  // "—" is 3 bytes, "ï" 2: three extra bytes
  EXPECT_EQ(pop.total_examples(), 9u);
}

TEST(Shakespeare, OptionsChangeFilterAndSplit) {
  const Corpus three = load_shakespeare_file(kFixture, SplitOptions{3, 80});
  ASSERT_EQ(three.population.size(), 2u);  // First Citizen (4), All (3)
  const Corpus half = load_shakespeare_file(kFixture, SplitOptions{2, 50});
  EXPECT_EQ(half.population.at("First Citizen").train.size(), 2u);
  EXPECT_EQ(half.population.at("All").train.size(), 1u);  // floor(1.5)
  EXPECT_THROW(load_shakespeare_file(kFixture, SplitOptions{1, 80}), DataError);
}

TEST(Shakespeare, AcceptsCrlfAndRejectsBlocksWithoutSpeaker) {
  const Corpus crlf = load_shakespeare("A:\r\none\r\n\r\nA:\r\ntwo\r\nmore\r\n");
  ASSERT_EQ(crlf.population.size(), 1u);
  EXPECT_EQ(crlf.population.at("A").train, std::vector<std::string>{"one"});
  EXPECT_EQ(crlf.population.at("A").test, std::vector<std::string>{"two\nmore"});

  try {
    load_shakespeare("A:\nhello\n\nthis is not a speaker\nB:\n", {}, "play.txt");
    FAIL() << "accepted a block without a speaker line";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("play.txt:4:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_shakespeare("A:\nok\n\nbad \xC0\xAF\n"), DataError);  // invalid UTF-8
  const Corpus empty = load_shakespeare("\n\n");
  EXPECT_EQ(empty.population.size(), 0u);
  EXPECT_EQ(empty.stats.examples_seen, 0u);
}

// Independent speech count: a speech starts at each non-blank line that follows a blank
// line or the start of the file (a line scan, not the block splitter).
struct IndependentCount {
  std::size_t speeches = 0;
  std::set<std::string> speakers;
};
IndependentCount count_by_line_scan(const std::string& path) {
  std::ifstream in(path);
  IndependentCount c;
  std::string line;
  bool after_blank = true;
  while (std::getline(in, line)) {
    const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
    if (!blank && after_blank) {
      ++c.speeches;
      std::istringstream words(line.substr(0, line.rfind(':')));
      std::string word, name;
      while (words >> word) name += (name.empty() ? "" : " ") + word;
      c.speakers.insert(name);
    }
    after_blank = blank;
  }
  return c;
}

// The data set's own description: 7,222 speeches by about 308 speakers, 247 of whom have at least
// two speeches, about 1.0 MB of their text. The exact figures below (125 speeches with no
// body, 7,046 kept speeches, 1,014,107 bytes, 5,542/1,504 split, GLOUCESTER's 211) come from
// an independent Python script over the same file (blocks split on blank lines; name =
// first line without its colon, whitespace collapsed; 80/20 via n*80//100).
TEST(Shakespeare, RealFileMatchesReadmeAndIndependentCounts) {
  const IndependentCount ref = count_by_line_scan(tinyshakespeare_path().string());
  ASSERT_EQ(ref.speeches, 7222u) << "is " << tinyshakespeare_path() << " the tinyshakespeare file?";
  ASSERT_EQ(ref.speakers.size(), 308u);

  const Corpus corpus = load_shakespeare_file(tinyshakespeare_path());
  const CorpusStats& s = corpus.stats;
  EXPECT_EQ(s.examples_seen, ref.speeches);
  EXPECT_EQ(s.users_seen, ref.speakers.size());
  EXPECT_EQ(s.users_kept, 247u);
  EXPECT_EQ(s.examples_empty, 125u);
  EXPECT_EQ(s.examples_kept, 7046u);
  EXPECT_EQ(s.bytes_kept, 1014107u);
  EXPECT_EQ(s.characters_kept, s.bytes_kept);  // the file is ASCII
  EXPECT_EQ(s.train_examples, 5542u);
  EXPECT_EQ(s.test_examples, 1504u);

  const Population& pop = corpus.population;
  ASSERT_EQ(pop.size(), 247u);
  EXPECT_EQ(pop.at(std::size_t{0}).user_id, "First Citizen");
  EXPECT_EQ(pop.at(std::size_t{0}).train.front(), "Before we proceed any further, hear me speak.");
  const UserData& gloucester = pop.at("GLOUCESTER");
  EXPECT_EQ(gloucester.num_examples(), 211u);
  EXPECT_EQ(gloucester.train.size(), 168u);
  EXPECT_EQ(gloucester.train.front().rfind("Now is the winter of our discontent\n", 0), 0u);
  EXPECT_NE(pop.find("LADY CAPULET"), nullptr);
  EXPECT_EQ(pop.find("LADY  CAPULET"), nullptr);  // merged by whitespace normalisation
  for (const UserData& u : pop.users()) {
    EXPECT_GE(u.train.size(), 1u) << u.user_id;
    EXPECT_GE(u.test.size(), 1u) << u.user_id;
    for (const auto& t : u.train) EXPECT_FALSE(t.empty());
  }
}

}  // namespace
}  // namespace fedlora::client::data
