#include "lora/model/pretrain.h"

#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "lora/format/gguf_writer.h"
#include "lora/model/base_model.h"
#include "lora/model/dense_model.h"
#include "lora/model/lm_eval.h"
#include "lora/model/lora_model.h"
#include "lora/model/runtime.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "lora/tokenizer/spm_tokenizer.h"
#include "lora/tokenizer/spm_train.h"

namespace fedlora::lora {
namespace fs = std::filesystem;

void PretrainOptions::validate() const {
  auto bad = [](const std::string& w) { throw std::invalid_argument("pretrain: " + w); };
  if (!fs::is_directory(data_dir)) bad("data directory '" + data_dir.string() + "' does not exist");
  if (out.empty()) bad("no output path");
  if (!(holdout_fraction > 0 && holdout_fraction < 0.5)) bad("holdout_fraction must be in (0, 0.5)");
  if (vocab_size < 300) bad("vocab_size must be >= 300 (259 are reserved for specials and bytes)");
  if (steps < 1 || batch_size < 1 || warmup_steps < 0 || log_every < 1) bad("steps, batch_size, log_every must be >= 1");
  if (!(lr > 0) || !(min_lr_ratio >= 0 && min_lr_ratio <= 1) || !(weight_decay >= 0) || !(grad_clip > 0))
    bad("lr > 0, 0 <= min_lr_ratio <= 1, weight_decay >= 0 and grad_clip > 0 are required");
  if (threads < 1) bad("threads must be >= 1");
}

std::pair<std::string, std::string> split_holdout(const std::string& text, double fraction) {
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n' && i + 1 < text.size()) starts.push_back(i + 1);
  const size_t n = starts.size();
  size_t held = static_cast<size_t>(std::floor(static_cast<double>(n) * fraction));
  if (fraction > 0 && held == 0 && n >= 2) held = 1;
  if (held == 0) return {text, std::string()};
  const size_t cut = starts[n - held];
  std::string train = text.substr(0, cut);
  if (!train.empty() && train.back() == '\n') train.pop_back();
  return {train, text.substr(cut)};
}

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fmt(const char* f, double a, double b = 0, double c = 0, double d = 0, double e = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c, d, e);
  return buf;
}

// Scales all gradients together so their global L2 norm is at most max_norm (Pascanu et al. 2013).
void clip_global_norm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard ng;
  double sq = 0;
  for (const auto& p : params)
    if (p.grad().defined()) sq += p.grad().pow(2).sum().item<double>();
  const double norm = std::sqrt(sq);
  if (norm > max_norm)
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(max_norm / (norm + 1e-6));
}

}  // namespace

PretrainReport pretrain(const PretrainOptions& o, const PretrainProgress& progress) {
  o.validate();
  const auto t_start = std::chrono::steady_clock::now();
  set_compute_threads(o.threads);
  keep_freed_memory_in_heap();

  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(o.data_dir))
    if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw std::runtime_error("pretrain: no .txt files in " + o.data_dir.string());
  std::vector<std::string> train_texts, held_texts;
  std::string spm_input;
  for (const auto& f : files) {
    auto [train, held] = split_holdout(read_file(f), o.holdout_fraction);
    spm_input += train;
    spm_input += '\n';
    train_texts.push_back(std::move(train));
    held_texts.push_back(std::move(held));
  }

  // 1. Vocabulary, learned on the training part only.
  SpmTrainOptions so;
  so.input_text = spm_input;
  so.output_dir = o.tokenizer_model.empty() ? o.out.parent_path() : o.tokenizer_model.parent_path();
  so.model_prefix = o.tokenizer_model.empty() ? "tokenizer" : o.tokenizer_model.stem().string();
  so.vocab_size = o.vocab_size;
  so.seed = static_cast<uint32_t>(o.seed);
  so.num_threads = o.threads;
  if (progress) progress("training the tokenizer (spm_train, vocab " + std::to_string(o.vocab_size) + ")");
  auto trained = train_spm_vocab(so);
  SpmTokenizer tok(trained.vocab);

  auto stream_of = [&](const std::vector<std::string>& texts) {
    std::vector<int32_t> s;
    for (const auto& t : texts) {
      auto ids = tok.encode_lines(t, EncodeOptions{.add_bos = true, .add_eos = true});
      s.insert(s.end(), ids.begin(), ids.end());
    }
    return s;
  };
  const auto train_stream = stream_of(train_texts);
  const auto held_stream = stream_of(held_texts);

  LlamaConfig cfg = o.model;
  cfg.vocab_size = tok.vocab().size();
  cfg.validate();
  const int64_t T = cfg.context_length;
  if (static_cast<int64_t>(train_stream.size()) < T + 2) throw std::runtime_error("pretrain: corpus too small");

  PretrainReport rep;
  rep.model = cfg;
  rep.parameters = cfg.parameter_count();
  rep.train_tokens = static_cast<int64_t>(train_stream.size());
  if (progress)
    progress(cfg.summary() + ", " + std::to_string(rep.parameters) + " parameters, " +
             std::to_string(rep.train_tokens) + " training tokens, " + std::to_string(held_stream.size()) + " held out");

  // 2. The model, AdamW with warmup + cosine decay, random windows of T+1 tokens.
  DenseModel model(cfg, o.seed);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(model.decayed_parameters(),
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(o.lr).betas({0.9, 0.95}).weight_decay(o.weight_decay)));
  groups.emplace_back(model.undecayed_parameters(),
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(o.lr).betas({0.9, 0.95}).weight_decay(0.0)));
  torch::optim::AdamW opt(std::move(groups), torch::optim::AdamWOptions(o.lr));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + 1);
  const auto params = model.parameters();
  const auto stream_t = at::from_blob(const_cast<int32_t*>(train_stream.data()),
                                      {static_cast<int64_t>(train_stream.size())}, at::kInt)
                            .to(at::kLong);
  const auto offsets = at::arange(T + 1, at::kLong).unsqueeze(0);
  double ema = 0;
  auto t_loop = std::chrono::steady_clock::now();
  for (int64_t step = 1; step <= o.steps; ++step) {
    double lr = o.lr;
    if (step <= o.warmup_steps) {
      lr = o.lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, o.warmup_steps));
    } else {
      const double p = static_cast<double>(step - o.warmup_steps) / static_cast<double>(std::max<int64_t>(1, o.steps - o.warmup_steps));
      lr = o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + std::cos(M_PI * p)));
    }
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);

    auto starts = at::randint(0, static_cast<int64_t>(train_stream.size()) - T - 1, {o.batch_size, 1}, gen);
    auto tokens = stream_t.index({starts + offsets});  // [B, T+1]
    opt.zero_grad();
    auto loss = lm_loss(model, tokens);
    auto mean = loss.sum / static_cast<double>(loss.n_targets);
    mean.backward();
    clip_global_norm(params, o.grad_clip);
    opt.step();
    const double v = mean.item<double>();
    if (!std::isfinite(v)) throw std::runtime_error("pretrain: loss became non-finite at step " + std::to_string(step));
    ema = step == 1 ? v : 0.95 * ema + 0.05 * v;
    if (progress && (step % o.log_every == 0 || step == o.steps)) {
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_loop).count();
      const double tps = static_cast<double>(step * o.batch_size * T) / el;
      const double eta = el / static_cast<double>(step) * static_cast<double>(o.steps - step);
      progress(fmt("step %5.0f/%.0f  loss %.3f  lr %.2e  %6.0f tok/s", static_cast<double>(step),
                   static_cast<double>(o.steps), ema, lr, tps) +
               fmt("  ETA %.0f s", eta));
    }
  }

  // 3. Held-out perplexity, then the file as written (F16 master weights by default).
  {
    auto ev = evaluate_stream(model, held_stream, 16);
    rep.heldout_loss = ev.loss();
    rep.heldout_perplexity = ev.perplexity();
    rep.heldout_tokens = ev.n_targets;
  }
  gguf::GgufWriter w;
  write_llama_metadata(w, cfg, "fedlora-base", o.master_type);
  w.set("general.description", std::string("fedlora base model pretrained on the public proxy corpus, seed ") +
                                   std::to_string(o.seed));
  write_gguf_vocab(tok.vocab(), w);
  write_llama_weights(w, model.named_weights(), o.master_type);
  w.write(o.out);
  {
    auto base = load_base_model(o.out);
    LoraAdapter none(make_adapter_layout(cfg, 1, 1.0f, {TargetModule::q}));
    LoraModel written(base, none);
    rep.heldout_perplexity_written = evaluate_stream(written, held_stream, 16).perplexity();
  }
  rep.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return rep;
}

}  // namespace fedlora::lora
