// The committed base model (models/base.gguf + models/tokenizer.model): its tokenizer
// equals spm_train's model and encodes like spm_encode, and its held-out perplexity on the
// slice of the public corpus it never trained on is the one recorded in the README.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "lora/format/data_dir.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/base_model.h"
#include "lora/model/lm_eval.h"
#include "lora/model/lora_model.h"
#include "lora/model/pretrain.h"
#include "lora/model/runtime.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "lora/tokenizer/spm_model_file.h"
#include "lora/tokenizer/spm_tokenizer.h"

namespace fedlora::lora {
namespace {
namespace fs = std::filesystem;

constexpr const char* kModel = "models/base.gguf";
constexpr const char* kSpmModel = "models/tokenizer.model";
// Recorded by `fedlora-model pretrain` (README, "The embedded base model"): held-out
// perplexity of the written F16 weights on the last 5% of lines of each novel.
constexpr double kRecordedHeldOutPerplexity = 49.467;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The held-out slices exactly as pretraining cut them (split_holdout, 5%).
std::vector<std::string> held_out_texts() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(data_dir() / "public"))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(split_holdout(read_file(f), 0.05).second);
  return out;
}

TEST(CommittedModel, TokenizerIsSpmTrainsModelAndEncodesLikeSpmEncode) {
  const auto file = gguf::GgufFile::open(kModel);
  const SpmVocab from_gguf = read_gguf_vocab(file);
  const SpmVocab from_spm = load_spm_model(kSpmModel);
  ASSERT_EQ(from_gguf.pieces(), from_spm.pieces());
  EXPECT_EQ(from_gguf.scores(), from_spm.scores());
  EXPECT_EQ(from_gguf.types(), from_spm.types());

  // Held-out novel text plus Shakespeare (the federated data), line by line.
  std::vector<std::string> lines;
  for (const auto& t : held_out_texts()) {
    std::istringstream in(t);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  {
    std::ifstream in(data_dir() / "shakespeare" / "tinyshakespeare.txt");
    ASSERT_TRUE(in) << "tinyshakespeare.txt not found under " << data_dir();
    std::string l;
    while (std::getline(in, l)) lines.push_back(l);
  }
  const fs::path dir = fs::temp_directory_path() / ("fedlora_committed_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream out(dir / "in.txt", std::ios::binary);
    for (const auto& l : lines) out << l << "\n";
  }
  const std::string cmd = "spm_encode --model=" + std::string(kSpmModel) + " --output_format=id --input=" +
                          (dir / "in.txt").string() + " --output=" + (dir / "out.txt").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream ref(dir / "out.txt");
  const SpmTokenizer tok(from_gguf);
  size_t compared = 0, tokens = 0, mismatches = 0;
  for (const auto& l : lines) {
    std::string row;
    ASSERT_TRUE(std::getline(ref, row));
    std::vector<TokenId> expected;
    std::istringstream ids(row);
    for (TokenId id; ids >> id;) expected.push_back(id);
    if (tok.encode(l) != expected && ++mismatches <= 3) ADD_FAILURE() << "line '" << l << "'\n spm_encode: " << row;
    ++compared;
    tokens += expected.size();
  }
  fs::remove_all(dir);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(compared, 40000u);
  RecordProperty("lines", static_cast<int>(compared));
  RecordProperty("tokens", static_cast<int>(tokens));
}

TEST(CommittedModel, HeldOutPerplexityIsTheRecordedOne) {
  set_compute_threads(2);
  const auto file = gguf::GgufFile::open(kModel);
  const SpmTokenizer tok(read_gguf_vocab(file));
  std::vector<int32_t> stream;
  for (const auto& t : held_out_texts()) {
    auto ids = tok.encode_lines(t, EncodeOptions{.add_bos = true, .add_eos = true});
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  auto eval = [&](std::optional<GgmlType> type) {
    auto base = load_base_model(kModel, type);
    LoraAdapter none(make_adapter_layout(base->config, 1, 1.0f, {TargetModule::q}));
    LoraModel m(base, none);
    return evaluate_stream(m, stream, 16);
  };
  const auto f16 = eval(std::nullopt);
  EXPECT_GT(f16.n_targets, 50000);
  EXPECT_NEAR(f16.perplexity(), kRecordedHeldOutPerplexity, 0.005 * kRecordedHeldOutPerplexity);
  // Quantized on load, the model must stay close: Q8_0 within 2%, Q4_0 within 15%.
  const auto q8 = eval(GgmlType::Q8_0);
  EXPECT_LT(std::abs(q8.perplexity() / f16.perplexity() - 1.0), 0.02) << q8.perplexity();
  const auto q4 = eval(GgmlType::Q4_0);
  EXPECT_LT(q4.perplexity() / f16.perplexity() - 1.0, 0.15) << q4.perplexity();
  RecordProperty("ppl_f16", std::to_string(f16.perplexity()));
  RecordProperty("ppl_q8_0", std::to_string(q8.perplexity()));
  RecordProperty("ppl_q4_0", std::to_string(q4.perplexity()));
}

}  // namespace
}  // namespace fedlora::lora
