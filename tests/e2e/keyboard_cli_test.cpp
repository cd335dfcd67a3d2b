// fedlora-model suggest / generate / eval on the committed base, as a user runs them.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "lora/format/gguf_reader.h"
#include "lora/model/adapted_model.h"
#include "lora/tokenizer/text_codec.h"

namespace fs = std::filesystem;
using namespace fedlora::lora;

namespace {

std::string run(const std::string& args, int* rc = nullptr) {
  std::string out;
  FILE* p = ::popen((std::string(FEDLORA_MODEL_CLI) + " " + args + " 2>/dev/null").c_str(), "r");
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = ::pclose(p);
  if (rc) *rc = status;
  else EXPECT_EQ(status, 0) << args;
  return out;
}

TEST(KeyboardCli, SuggestGivesKRankedWordsWithProbabilities) {
  const auto out = run("suggest --base models/base.gguf --prompt 'It was the best of' -k 3");
  std::istringstream in(out);
  std::vector<std::pair<std::string, double>> rows;
  for (std::string w; in >> w;) {
    double p = 0;
    in >> p;
    rows.emplace_back(w, p);
  }
  ASSERT_EQ(rows.size(), 3u) << out;
  double sum = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_GT(rows[i].second, 0.0);
    if (i) EXPECT_GE(rows[i - 1].second, rows[i].second);
    sum += rows[i].second;
  }
  EXPECT_LE(sum, 1.0);
  int rc = 0;
  run("suggest --base models/base.gguf --prompt x -k 0", &rc);
  EXPECT_NE(rc, 0);
}

TEST(KeyboardCli, GreedyGenerationEqualsRecomputingThePrefixEveryToken) {
  const std::string prompt = "It was a dark and";
  const auto out = run("generate --base models/base.gguf --prompt '" + prompt + "' --temperature 0 --max-tokens 12");
  // Reference without a KV cache: the full forward pass over prompt + generated so far.
  auto m = load_adapted_model("models/base.gguf", std::nullopt);
  const auto codec = TextCodec::from_gguf(gguf::GgufFile::open("models/base.gguf"));
  auto ids = codec.encode_prompt(prompt);
  std::vector<int32_t> gen;
  at::NoGradGuard g;
  for (int i = 0; i < 12; ++i) {
    auto logits = decoder_forward(*m.model, at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).view({1, -1}));
    const auto t = static_cast<int32_t>(logits[0][-1].argmax().item<int64_t>());
    if (t == codec.eos_id()) break;
    gen.push_back(t);
    ids.push_back(t);
  }
  EXPECT_EQ(out, prompt + codec.decode_continuation(gen) + "\n");
}

TEST(KeyboardCli, SampledGenerationFollowsTheSeed) {
  const std::string args = "generate --base models/base.gguf --prompt 'The' --temperature 1 --top-p 0.9 --max-tokens 30 --seed ";
  EXPECT_EQ(run(args + "5"), run(args + "5"));
  EXPECT_NE(run(args + "5"), run(args + "6"));
}

TEST(KeyboardCli, EvalReportsPerplexityAndNextWordRecall) {
  const fs::path text = fs::temp_directory_path() / ("fedlora_kb_" + std::to_string(::getpid()) + ".txt");
  std::ofstream(text) << "It was the best of times, it was the worst of times.\nI am not a man of words.\n";
  const auto out = run("eval --base models/base.gguf --text " + text.string() + " --next-word-positions 50");
  EXPECT_NE(out.find("perplexity"), std::string::npos) << out;
  EXPECT_NE(out.find("next-word top-1 recall"), std::string::npos) << out;
  const auto quiet = run("eval --base models/base.gguf --text " + text.string() + " --next-word-positions 0");
  EXPECT_EQ(quiet.find("next-word"), std::string::npos) << quiet;
  fs::remove(text);
}

}  // namespace
