// train_spm_vocab's option checks and the exact spm_train command line (no process is run).

#include <gtest/gtest.h>

#include <algorithm>

#include "lora/tokenizer/spm_train.h"
#include "lora/tokenizer/tokenizer_error.h"

namespace fedlora::lora {
namespace {

SpmTrainOptions valid() {
  SpmTrainOptions o;
  o.input_text = "a b c\n";
  o.output_dir = "/tmp/unused-fedlora-dir";
  return o;
}

void expect_rejected(const SpmTrainOptions& o, const std::string& needle) {
  try {
    train_spm_vocab(o);
    ADD_FAILURE() << "accepted; expected '" << needle << "'";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SpmTrainOptions, InvalidOptionsAreRejectedBeforeRunning) {
  auto o = valid();
  o.input_text.clear();
  expect_rejected(o, "no input");
  o = valid();
  o.input_files = {"/nonexistent/corpus.txt"};
  expect_rejected(o, "does not exist");
  o = valid();
  o.vocab_size = 259;
  expect_rejected(o, "too small");
  o = valid();
  o.character_coverage = 0.0;
  expect_rejected(o, "character_coverage");
  o = valid();
  o.character_coverage = 1.5;
  expect_rejected(o, "character_coverage");
  o = valid();
  o.seed = 4294967295u;
  expect_rejected(o, "seed");
  o = valid();
  o.model_prefix = "../evil";
  expect_rejected(o, "model_prefix");
  o = valid();
  o.output_dir.clear();
  expect_rejected(o, "output_dir");
  o = valid();
  o.num_threads = 0;
  expect_rejected(o, "num_threads");
}

TEST(SpmTrainOptions, CommandLineCarriesTheTextModelFlags) {
  auto o = valid();
  o.output_dir = "/out";
  o.model_prefix = "model";
  o.vocab_size = 1234;
  o.input_sentence_size = 500;
  o.seed = 77;
  o.character_coverage = 0.9999;
  const auto args = spm_train_arguments(o, "x.txt,y.txt");
  const auto has = [&](const std::string& a) {
    return std::find(args.begin(), args.end(), a) != args.end();
  };
  EXPECT_EQ(args.front(), "spm_train");
  for (const char* flag :
       {"--input=x.txt,y.txt", "--model_prefix=/out/model", "--model_type=bpe", "--vocab_size=1234",
        "--byte_fallback=true", "--normalization_rule_name=identity",
        "--remove_extra_whitespaces=false", "--add_dummy_prefix=true", "--split_digits=true",
        "--allow_whitespace_only_pieces=true", "--character_coverage=0.9999",
        "--max_sentence_length=4192", "--input_sentence_size=500",
        "--shuffle_input_sentence=true", "--random_seed=77", "--num_threads=1", "--unk_id=0",
        "--bos_id=1", "--eos_id=2", "--pad_id=-1"}) {
    EXPECT_TRUE(has(flag)) << flag;
  }
  o.input_sentence_size = 0;
  EXPECT_TRUE([&] {
    const auto a = spm_train_arguments(o, "x");
    return std::find(a.begin(), a.end(), "--shuffle_input_sentence=false") != a.end();
  }());
}

}  // namespace
}  // namespace fedlora::lora
