#include "lora/model/cli/cmd_keyboard.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "lora/format/gguf_reader.h"
#include "lora/model/adapted_model.h"
#include "lora/model/cli/weight_type.h"
#include "lora/model/kv_cache.h"
#include "lora/model/lm_eval.h"
#include "lora/model/next_word.h"
#include "lora/model/runtime.h"
#include "lora/tokenizer/text_codec.h"

namespace fedlora::lora::cli {
namespace {

struct ModelArgs {
  std::string base, adapter, type;
  int threads = 1;
  void add_to(CLI::App* c) {
    c->add_option("--base", base, "GGUF base model")->required();
    c->add_option("--adapter", adapter, "PEFT adapter directory (a run's adapter/)");
    c->add_option("--type", type, "re-encode the base on load: f32, f16, q8_0 or q4_0");
    c->add_option("--threads", threads, "compute threads")->capture_default_str();
  }
  AdaptedModel load() const {
    set_compute_threads(threads);
    return load_adapted_model(base, adapter.empty() ? std::nullopt : std::optional<std::filesystem::path>(adapter),
                              type.empty() ? std::nullopt : std::optional<GgmlType>(parse_weight_type(type)));
  }
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string rstrip(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.pop_back();
  return s;
}

// Samples from logits [vocab] at `temperature` (0: argmax) within the top-p nucleus.
int32_t sample_token(const at::Tensor& logits, double temperature, double top_p, std::mt19937_64& rng) {
  if (temperature <= 0.0) return static_cast<int32_t>(logits.argmax().item<int64_t>());
  auto probs = at::softmax(logits / temperature, -1);
  auto [sorted, idx] = probs.sort(/*dim=*/-1, /*descending=*/true);
  const float* p = sorted.data_ptr<float>();
  const int64_t* id = idx.data_ptr<int64_t>();
  double mass = 0.0;
  int64_t n = 0;
  while (n < sorted.numel() && (n == 0 || mass < top_p)) mass += p[n++];
  std::uniform_real_distribution<double> u(0.0, mass);
  double r = u(rng);
  for (int64_t i = 0; i < n; ++i)
    if ((r -= p[i]) <= 0.0) return static_cast<int32_t>(id[i]);
  return static_cast<int32_t>(id[n - 1]);
}

}  // namespace

std::function<int()> add_keyboard_commands(CLI::App& app) {
  auto ev = std::make_shared<ModelArgs>();
  auto ev_text = std::make_shared<std::string>();
  auto ev_positions = std::make_shared<int64_t>(500);
  auto* evc = app.add_subcommand("eval", "perplexity, next-token accuracy and next-word top-1/top-3 recall on a text file");
  ev->add_to(evc);
  evc->add_option("--text", *ev_text, "UTF-8 text file (one example per line)")->required();
  evc->add_option("--next-word-positions", *ev_positions, "word starts evaluated for next-word recall, evenly spread (0: skip)")
      ->capture_default_str();

  auto sg = std::make_shared<ModelArgs>();
  auto sg_prompt = std::make_shared<std::string>();
  auto sg_opt = std::make_shared<NextWordOptions>();
  auto* sgc = app.add_subcommand("suggest", "the keyboard's next-word suggestions after a prompt, with probabilities");
  sg->add_to(sgc);
  sgc->add_option("--prompt", *sg_prompt, "text typed so far (ends at a word boundary)")->required();
  sgc->add_option("-k", sg_opt->k, "suggestions")->capture_default_str()->check(CLI::Range(1, 100));
  sgc->add_option("--beam", sg_opt->beam, "beam width of the word search")->capture_default_str()->check(CLI::Range(1, 1000));

  auto gn = std::make_shared<ModelArgs>();
  struct GenArgs {
    std::string prompt;
    double temperature = 0.8, top_p = 0.95;
    uint64_t seed = 1;
    int max_tokens = 64;
  };
  auto ga = std::make_shared<GenArgs>();
  auto* gnc = app.add_subcommand("generate", "continue a prompt (KV-cached sampling)");
  gn->add_to(gnc);
  gnc->add_option("--prompt", ga->prompt, "prompt text")->required();
  gnc->add_option("--temperature", ga->temperature, "softmax temperature; 0 = greedy")->capture_default_str()->check(CLI::Range(0.0, 100.0));
  gnc->add_option("--top-p", ga->top_p, "nucleus mass")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  gnc->add_option("--seed", ga->seed, "sampling seed")->capture_default_str();
  gnc->add_option("--max-tokens", ga->max_tokens, "tokens to generate")->capture_default_str()->check(CLI::Range(1, 1 << 20));

  return [=]() -> int {
    if (*evc) {
      auto m = ev->load();
      const auto codec = TextCodec::from_gguf(gguf::GgufFile::open(ev->base));
      std::vector<std::vector<int32_t>> examples;
      std::vector<int32_t> stream;
      std::istringstream in(read_text(*ev_text));
      for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        examples.push_back(codec.encode_example(line, true, true));
        stream.insert(stream.end(), examples.back().begin(), examples.back().end());
      }
      const auto e = evaluate_stream(*m.model, stream, 16);
      std::printf("%lld tokens: loss %.4f nats/token, perplexity %.3f, next-token accuracy %.4f\n",
                  static_cast<long long>(e.n_targets), e.loss(), e.perplexity(), e.accuracy());
      if (*ev_positions > 0) {
        const auto pos = spread_positions(word_starts(examples, codec.words()), *ev_positions);
        const auto nw = evaluate_next_words(*m.model, codec.words(), examples, pos);
        std::printf("%lld word starts: next-word top-1 recall %.4f, top-3 recall %.4f\n",
                    static_cast<long long>(nw.positions), nw.top1_recall(), nw.top3_recall());
      }
      return 0;
    }
    if (*sgc) {
      auto m = sg->load();
      const auto codec = TextCodec::from_gguf(gguf::GgufFile::open(sg->base));
      const auto ids = codec.encode_prompt(rstrip(*sg_prompt));
      for (const auto& s : suggest_next_words(*m.model, codec.words(), ids, *sg_opt))
        std::printf("%-20s %.4f\n", s.word.c_str(), s.probability);
      return 0;
    }
    if (*gnc) {
      auto m = gn->load();
      const auto codec = TextCodec::from_gguf(gguf::GgufFile::open(gn->base));
      const auto& cfg = m.base->config;
      auto ids = codec.encode_prompt(ga->prompt);
      if (static_cast<int64_t>(ids.size()) >= cfg.context_length)
        ids.erase(ids.begin(), ids.end() - (cfg.context_length - 1));  // keep the most recent context
      std::mt19937_64 rng(ga->seed);
      KvCache cache(cfg, 1);
      auto logits = decode_append(*m.model, cache, at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).view({1, -1}));
      std::printf("%s", ga->prompt.c_str());
      std::vector<int32_t> out;
      std::string shown;
      int stop = 0;  // 1: EOS, 2: context full
      for (int i = 0; i < ga->max_tokens; ++i) {
        const int32_t t = sample_token(logits[0], ga->temperature, ga->top_p, rng);
        if (t == codec.eos_id()) { stop = 1; break; }
        out.push_back(t);
        const std::string text = codec.decode_continuation(out);
        std::printf("%s", text.substr(std::min(shown.size(), text.size())).c_str());
        std::fflush(stdout);
        shown = text;
        if (cache.length() >= cache.capacity()) { stop = 2; break; }
        logits = decode_append(*m.model, cache, at::tensor({static_cast<int64_t>(t)}, at::kLong).view({1, 1}));
      }
      std::printf("\n");
      std::fprintf(stderr, "[%zu tokens%s, seed %llu]\n", out.size(),
                   stop == 1 ? ", stopped at end of sequence" : stop == 2 ? ", stopped at the context length" : "",
                   static_cast<unsigned long long>(ga->seed));
      return 0;
    }
    return -1;
  };
}

}  // namespace fedlora::lora::cli
