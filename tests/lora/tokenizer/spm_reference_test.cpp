// The key check: a vocabulary learned by spm_train on part of the public novels, then our
// encoder against `spm_encode --output_format=id` (the SentencePiece reference
// implementation) token for token, line by line, on held-out text: the other part of the
// novels and tinyshakespeare. Needs the Debian package `sentencepiece` (label `spm`).

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>

#include "lora/tokenizer/gguf_vocab.h"
#include "lora/tokenizer/spm_model_file.h"
#include "lora/tokenizer/spm_tokenizer.h"
#include "lora/tokenizer/spm_train.h"
#include "lora/tokenizer/tokenizer_error.h"
#include "lora/format/data_dir.h"

namespace fedlora::lora {
namespace {

namespace fs = std::filesystem;

const char* const kNovels[] = {"dracula", "frankenstein", "moby_dick", "pride_and_prejudice", "sherlock"};
fs::path shakespeare_path() { return data_dir() / "shakespeare" / "tinyshakespeare.txt"; }

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string() + " (run from the repo root)");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

fs::path novel(const char* name) { return (data_dir() / "public") / (std::string(name) + ".txt"); }

std::string join_lines(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

std::string run_and_check(const std::string& command) {
  const int rc = std::system(command.c_str());
  EXPECT_EQ(rc, 0) << command;
  return command;
}

class SpmReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("fedlora-spm-test-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    // Training text: the first 60% of the lines of every novel.
    std::vector<std::string> train;
    held_out_ = new std::vector<std::string>();
    for (const char* n : kNovels) {
      const auto lines = read_lines(novel(n));
      const std::size_t cut = lines.size() * 6 / 10;
      train.insert(train.end(), lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(cut));
      held_out_->insert(held_out_->end(), lines.begin() + static_cast<std::ptrdiff_t>(cut), lines.end());
    }
    const auto shakespeare = read_lines(shakespeare_path());
    held_out_->insert(held_out_->end(), shakespeare.begin(), shakespeare.end());

    options_ = new SpmTrainOptions();
    options_->input_text = join_lines(train);
    options_->output_dir = *dir_ / "a";
    options_->model_prefix = "novels";
    options_->vocab_size = 2000;
    options_->input_sentence_size = 50000;  // of ~68k lines: exercises the seeded sampling
    options_->seed = 1234;
    trained_ = new SpmTrainResult(train_spm_vocab(*options_));
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete trained_;
    delete options_;
    delete held_out_;
    delete dir_;
  }

  static fs::path* dir_;
  static std::vector<std::string>* held_out_;
  static SpmTrainOptions* options_;
  static SpmTrainResult* trained_;
};

fs::path* SpmReference::dir_ = nullptr;
std::vector<std::string>* SpmReference::held_out_ = nullptr;
SpmTrainOptions* SpmReference::options_ = nullptr;
SpmTrainResult* SpmReference::trained_ = nullptr;

TEST_F(SpmReference, TrainedVocabularyAgreesWithTheVocabFile) {
  const SpmVocab& v = trained_->vocab;
  ASSERT_EQ(v.size(), 2000);
  EXPECT_TRUE(fs::exists(trained_->model_file));
  // spm_train's own text export: "piece TAB score" per line, in id order.
  const auto lines = read_lines(trained_->vocab_file);
  ASSERT_EQ(lines.size(), 2000u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto tab = lines[i].find('\t');
    ASSERT_NE(tab, std::string::npos) << lines[i];
    const std::string piece = lines[i].substr(0, tab);
    const float score = std::stof(lines[i].substr(tab + 1));
    const auto id = static_cast<TokenId>(i);
    ASSERT_EQ(v.piece(id), piece) << "id " << i;
    ASSERT_EQ(v.score(id), score) << "id " << i;  // BPE scores are integers: exact in text
    // Types from the naming rule: <unk> unknown, <s> </s> control, <0xXX> byte, else normal.
    const TokenType expected = piece == "<unk>"                       ? TokenType::unknown
                               : (piece == "<s>" || piece == "</s>")  ? TokenType::control
                               : parse_byte_piece(piece).has_value()  ? TokenType::byte
                                                                      : TokenType::normal;
    ASSERT_EQ(v.type(id), expected) << "id " << i << " '" << piece << "'";
  }
  EXPECT_EQ(v.unk_id(), 0);
  EXPECT_EQ(v.bos_id(), 1);
  EXPECT_EQ(v.eos_id(), 2);
  EXPECT_EQ(v.pad_id(), kNoToken);
  EXPECT_TRUE(v.byte_fallback());
  EXPECT_TRUE(v.add_dummy_prefix());
}

TEST_F(SpmReference, EncoderMatchesSpmEncodeOnHeldOutText) {
  const fs::path input = *dir_ / "held_out.txt";
  const fs::path output = *dir_ / "held_out.ids";
  {
    std::ofstream out(input, std::ios::binary);
    out << join_lines(*held_out_);
  }
  run_and_check("spm_encode --model='" + trained_->model_file.string() +
                "' --output_format=id --input='" + input.string() + "' --output='" +
                output.string() + "'");
  const auto reference = read_lines(output);
  ASSERT_EQ(reference.size(), held_out_->size());

  const SpmTokenizer tok(trained_->vocab);
  std::size_t tokens = 0, mismatches = 0, byte_tokens = 0;
  std::vector<TokenId> all_reference;  // lines joined with the newline token
  for (std::size_t i = 0; i < held_out_->size(); ++i) {
    std::vector<TokenId> expected;
    std::istringstream ids(reference[i]);
    for (TokenId id; ids >> id;) expected.push_back(id);
    const auto ours = tok.encode((*held_out_)[i]);
    if (ours != expected && ++mismatches <= 5) {
      ADD_FAILURE() << "line " << i << " '" << (*held_out_)[i] << "'\n  spm_encode: " << reference[i];
    }
    tokens += expected.size();
    for (const TokenId id : expected) byte_tokens += tok.vocab().type(id) == TokenType::byte;
    ASSERT_EQ(tok.decode(ours), (*held_out_)[i]) << "line " << i;
    if (i > 0) all_reference.push_back(*tok.newline_id());
    all_reference.insert(all_reference.end(), expected.begin(), expected.end());
  }
  EXPECT_EQ(mismatches, 0u);
  std::cout << "[spm] compared " << held_out_->size() << " lines, " << tokens
            << " tokens (" << byte_tokens << " byte-fallback) with spm_encode: " << mismatches
            << " mismatching lines\n";
  RecordProperty("lines", static_cast<int>(held_out_->size()));
  RecordProperty("tokens", static_cast<int>(tokens));
  // Multi-line text: encode_lines == per-line spm_encode joined with <0x0A>.
  std::string text = join_lines(*held_out_);
  text.pop_back();  // the file's last '\n' would add a trailing newline token
  EXPECT_EQ(tok.encode_lines(text), all_reference);
  EXPECT_EQ(tok.decode_lines(all_reference), text);
}

TEST_F(SpmReference, TrainedVocabularyRoundTripsThroughAGgufFile) {
  gguf::GgufWriter w;
  w.set("general.architecture", std::string("llama"));
  write_gguf_vocab(trained_->vocab, w);
  const fs::path path = *dir_ / "vocab.gguf";
  w.write(path);
  const SpmVocab back = read_gguf_vocab(gguf::GgufFile::open(path));
  EXPECT_EQ(back.pieces(), trained_->vocab.pieces());
  EXPECT_EQ(back.scores(), trained_->vocab.scores());
  EXPECT_EQ(back.types(), trained_->vocab.types());
  EXPECT_EQ(back.bos_id(), 1);
  EXPECT_EQ(back.eos_id(), 2);
  EXPECT_TRUE(back.byte_fallback());
  const SpmTokenizer a(trained_->vocab), b(back);
  for (std::size_t i = 0; i < held_out_->size(); i += 97) {
    ASSERT_EQ(b.encode((*held_out_)[i]), a.encode((*held_out_)[i])) << "line " << i;
  }
}

TEST_F(SpmReference, TrainingIsDeterministicForAGivenSeed) {
  SpmTrainOptions again = *options_;
  again.output_dir = *dir_ / "b";
  again.num_threads = 2;
  const SpmTrainResult second = train_spm_vocab(again);
  EXPECT_EQ(second.vocab.pieces(), trained_->vocab.pieces());
  EXPECT_EQ(second.vocab.scores(), trained_->vocab.scores());
}

TEST_F(SpmReference, TrainsFromFilePathsAndReportsFailures) {
  SpmTrainOptions o;
  o.input_files = {novel("frankenstein"), novel("sherlock")};
  o.output_dir = *dir_ / "files";
  o.vocab_size = 400;
  const SpmTrainResult r = train_spm_vocab(o);
  EXPECT_EQ(r.vocab.size(), 400);
  EXPECT_EQ(r.model_file, o.output_dir / "tokenizer.model");
  // Same vocabulary from the same .model read back independently.
  EXPECT_EQ(load_spm_model(r.model_file).pieces(), r.vocab.pieces());

  // spm_train itself fails: too many pieces for a two-word corpus. The error carries its output.
  SpmTrainOptions tiny;
  tiny.input_text = "ab ab\n";
  tiny.output_dir = *dir_ / "tiny";
  tiny.vocab_size = 5000;
  try {
    train_spm_vocab(tiny);
    ADD_FAILURE() << "spm_train should have failed";
  } catch (const TokenizerError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("exited with status"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ocab"), std::string::npos) << msg;  // spm_train's complaint about the size
  }
  // Program missing: the message names the Debian package.
  SpmTrainOptions missing = o;
  missing.spm_train_program = "/nonexistent/bin/spm_train";
  try {
    train_spm_vocab(missing);
    ADD_FAILURE() << "should have failed";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("sentencepiece"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedlora::lora
