// Interop with a real llama.cpp (node-llama-cpp's prebuilt CPU build, see llama_nll.mjs):
// our base, its Q8_0/Q4_0 re-encodings, a base merged with a LoRA adapter, and the base with
// our GGUF LoRA adapter attached must give llama.cpp the perplexity fedlora computes on the
// same token windows, within 0.1%. Skipped with a message when node or node-llama-cpp is absent
// (scripts/interop-deps.sh installs it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "lora/adapter/adapter_init.h"
#include "lora/export/adapter_for_base.h"
#include "lora/format/data_dir.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/base_model.h"
#include "lora/model/lm_batch.h"
#include "lora/model/lm_eval.h"
#include "lora/model/lora_model.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "lora/tokenizer/spm_tokenizer.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace fedlora::lora;

namespace {

const fs::path kNodeDir = FEDLORA_INTEROP_NODE_DIR;
const fs::path kModelCli = FEDLORA_MODEL_CLI;

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + cmd);
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0) throw std::runtime_error(cmd + " failed (" + std::to_string(rc) + "): " + out);
  return out;
}

struct Nll {
  double loss_sum = 0;
  int64_t n = 0;
  double ppl() const { return std::exp(loss_sum / static_cast<double>(n)); }
};

class LlamaCppInterop : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("fedlora_interop_" + std::to_string(::getpid()));
  std::vector<int32_t> stream;
  std::vector<TokenSeq> windows;

  void SetUp() override {
    if (std::system("node --version > /dev/null 2>&1") != 0)
      GTEST_SKIP() << "node is not installed: the llama.cpp interop test needs Node.js >= 20 (scripts/interop-deps.sh)";
    if (!fs::exists(kNodeDir / "node_modules" / "@node-llama-cpp" / "linux-x64"))
      GTEST_SKIP() << "node-llama-cpp is not installed in " << kNodeDir << ": run scripts/interop-deps.sh";
    fs::create_directories(dir);
    // Shakespeare lines (the federated data), encoded as the simulator encodes examples.
    auto f = gguf::GgufFile::open("models/base.gguf");
    SpmTokenizer tok(read_gguf_vocab(f));
    std::ifstream in(data_dir() / "shakespeare" / "tinyshakespeare.txt");
    ASSERT_TRUE(in) << "tinyshakespeare.txt not found";
    std::string text, line;
    for (int i = 0; std::getline(in, line) && i < 20400; ++i)
      if (i >= 20000) text += line + "\n";
    stream = tok.encode_lines(text, EncodeOptions{.add_bos = true, .add_eos = true});
    stream.resize(std::min<size_t>(stream.size(), 16 * 128 + 1));
    windows = make_windows(stream, 129);
  }
  void TearDown() override { fs::remove_all(dir); }

  Nll llama_cpp(const fs::path& model, const fs::path& adapter = {}) {
    const fs::path req = dir / "request.json";
    std::ofstream(req) << json{{"model", fs::absolute(model).string()},
                               {"adapter", adapter.empty() ? json(nullptr) : json(fs::absolute(adapter).string())},
                               {"windows", windows}}
                              .dump();
    const std::string script = fs::absolute("tests/interop/llama_nll.mjs").string();
    // The script resolves node-llama-cpp from its own directory: run a copy inside kNodeDir.
    fs::copy_file(script, kNodeDir / "llama_nll.mjs", fs::copy_options::overwrite_existing);
    const std::string out = run("node " + (kNodeDir / "llama_nll.mjs").string() + " " + req.string());
    const auto r = json::parse(out.substr(out.rfind('{')));
    return {r["loss_sum"].get<double>(), r["n_targets"].get<int64_t>()};
  }

  Nll ours(const fs::path& model, const BoundAdapter* adapter = nullptr) {
    auto base = load_base_model(model);
    LoraAdapter a(adapter ? adapter->layout : make_adapter_layout(base->config, 1, 1.0f, {TargetModule::q}));
    if (adapter) a.load_flat(adapter->flat);
    LoraModel m(base, a);
    const auto ev = evaluate_stream(m, stream, 16);
    return {ev.loss_sum, ev.n_targets};
  }
};

// F16 weights: llama.cpp and fedlora compute the same fp32 function. Q8_0/Q4_0 weights: ggml's
// CPU backend also quantizes the activations to Q8_0 blocks for those dot products (the
// vec_dot_type of both) where fedlora keeps them in fp32; measured 0.04% (Q8_0), and 0.12% for
// the Q4_0 base alone (0.03% with an adapter). That the activation rounding is the whole cause
// of the Q4_0 gap is not established, so only the Q4_0 base gets 0.2%; everything else 0.1%.
void expect_same_ppl(const char* what, const Nll& ours, const Nll& theirs, double tolerance = 1e-3) {
  ASSERT_EQ(ours.n, theirs.n) << what;
  std::printf("%-26s fedlora ppl %.4f, llama.cpp ppl %.4f (ratio %.6f)\n", what, ours.ppl(), theirs.ppl(),
              ours.ppl() / theirs.ppl());
  EXPECT_NEAR(ours.ppl() / theirs.ppl(), 1.0, tolerance) << what;
}

TEST_F(LlamaCppInterop, BasesMergedModelsAndAdaptersGiveOurPerplexity) {
  // Quantized bases, written by the CLI a user runs.
  run(kModelCli.string() + " quantize models/base.gguf " + (dir / "q8.gguf").string() + " q8_0");
  run(kModelCli.string() + " quantize models/base.gguf " + (dir / "q4.gguf").string() + " q4_0");

  // A non-trivial adapter on all seven projections: A as initialised, B random, so B·A ≠ 0.
  auto f = gguf::GgufFile::open("models/base.gguf");
  const auto info = describe_base(f, "base");
  const auto layout = make_adapter_layout(info.config, 4, 8.0f, {std::begin(kAllTargetModules), std::end(kAllTargetModules)});
  auto flat = init_adapter_vector(layout, 7);
  std::mt19937_64 rng(11);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  for (const auto& t : layout.tensors())
    if (t.is_b)
      for (int64_t i = 0; i < t.numel(); ++i) flat[static_cast<size_t>(t.offset + i)] = nd(rng);
  write_peft_adapter_for_base(dir / "adapter", layout, flat, info);
  const BoundAdapter bound{layout, flat};

  run(kModelCli.string() + " export-adapter " + (dir / "adapter").string() + " --base models/base.gguf --out " +
      (dir / "adapter.gguf").string());
  run(kModelCli.string() + " merge --base models/base.gguf --adapter " + (dir / "adapter").string() + " --out " +
      (dir / "merged.gguf").string() + " --type f16");

  const Nll base_ours = ours("models/base.gguf");
  expect_same_ppl("base F16", base_ours, llama_cpp("models/base.gguf"));
  expect_same_ppl("base Q8_0", ours(dir / "q8.gguf"), llama_cpp(dir / "q8.gguf"));
  expect_same_ppl("base Q4_0", ours(dir / "q4.gguf"), llama_cpp(dir / "q4.gguf"), 2e-3);
  const Nll with_adapter = ours("models/base.gguf", &bound);
  expect_same_ppl("base F16 + GGUF LoRA", with_adapter, llama_cpp("models/base.gguf", dir / "adapter.gguf"));
  expect_same_ppl("base Q4_0 + GGUF LoRA", ours(dir / "q4.gguf", &bound), llama_cpp(dir / "q4.gguf", dir / "adapter.gguf"));
  const Nll merged = ours(dir / "merged.gguf");
  expect_same_ppl("merged F16", merged, llama_cpp(dir / "merged.gguf"));
  // The adapter must matter, or the comparisons above would not test it.
  EXPECT_GT(std::abs(with_adapter.ppl() / base_ours.ppl() - 1.0), 0.02);
  // Merging is the same function as applying the adapter (up to F16 rounding of W').
  EXPECT_NEAR(merged.ppl() / with_adapter.ppl(), 1.0, 2e-3);
}

}  // namespace
