#include "lora/model/next_word.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "lora/model/kv_cache.h"

namespace fedlora::lora {
namespace {

struct Hyp {
  int32_t last;
  double logp;
  std::string text;
};

std::string strip_space(const std::string& s) { return !s.empty() && s[0] == ' ' ? s.substr(1) : s; }

at::Tensor role_mask(const WordVocab& vocab, WordRole r) {
  auto m = at::zeros({static_cast<int64_t>(vocab.size())}, at::kFloat);
  auto* p = m.data_ptr<float>();
  for (size_t i = 0; i < vocab.size(); ++i) p[i] = vocab.role[i] == r ? 1.0f : 0.0f;
  return m;
}

// The true word at sequence[index]: the starting token and the continuations after it.
std::pair<std::string, int> true_word(const std::vector<int32_t>& seq, size_t index, const WordVocab& vocab) {
  std::string s = vocab.surface[static_cast<size_t>(seq[index])];
  int n = 1;
  for (size_t i = index + 1; i < seq.size() && vocab.role[static_cast<size_t>(seq[i])] == WordRole::continues_word; ++i, ++n)
    s += vocab.surface[static_cast<size_t>(seq[i])];
  return {strip_space(s), n};
}

}  // namespace

std::vector<WordSuggestion> suggest_next_words(DecoderWeights& w, const WordVocab& vocab,
                                               std::span<const int32_t> context, const NextWordOptions& o) {
  const auto& cfg = w.config();
  if (context.empty()) throw std::invalid_argument("suggest_next_words: empty context");
  if (static_cast<int64_t>(vocab.size()) != cfg.vocab_size)
    throw std::invalid_argument("suggest_next_words: word vocabulary has " + std::to_string(vocab.size()) +
                                " tokens, the model " + std::to_string(cfg.vocab_size));
  if (o.k < 1 || o.beam < 1 || o.max_word_tokens < 1 || o.max_word_tokens >= cfg.context_length)
    throw std::invalid_argument("suggest_next_words: k, beam and max_word_tokens must be >= 1 (and < context)");
  at::NoGradGuard no_grad;
  // Built per call (two passes over the vocabulary, small next to one forward pass); a cache
  // keyed by the vocabulary's address could outlive it.
  const at::Tensor starts = role_mask(vocab, WordRole::starts_word);
  const at::Tensor conts = role_mask(vocab, WordRole::continues_word);
  const size_t keep = static_cast<size_t>(cfg.context_length - o.max_word_tokens);
  if (context.size() > keep) context = context.subspan(context.size() - keep);

  KvCache cache(cfg, 1);
  std::vector<int64_t> ctx(context.begin(), context.end());
  auto logp = at::log_softmax(decode_append(w, cache, at::tensor(ctx, at::kLong).view({1, -1})), -1)[0];

  // First token: the most likely word starts.
  std::vector<Hyp> hyps;
  {
    auto scored = logp.masked_fill(starts.eq(0), -INFINITY);
    auto top = scored.topk(std::min<int64_t>(o.beam, cfg.vocab_size));
    auto vals = std::get<0>(top), idx = std::get<1>(top);
    for (int64_t i = 0; i < vals.size(0); ++i) {
      const double lp = vals[i].item<double>();
      if (!std::isfinite(lp)) break;
      const auto t = static_cast<int32_t>(idx[i].item<int64_t>());
      hyps.push_back({t, lp, vocab.surface[static_cast<size_t>(t)]});
    }
  }
  std::map<std::string, double> words;  // surface -> summed probability
  auto kth_best = [&]() -> double {
    if (static_cast<int>(words.size()) < o.k) return -INFINITY;
    std::vector<double> p;
    for (const auto& [_, v] : words) p.push_back(v);
    std::nth_element(p.begin(), p.begin() + (o.k - 1), p.end(), std::greater<>());
    return std::log(p[static_cast<size_t>(o.k - 1)]);
  };
  if (!hyps.empty()) cache.select_rows(at::zeros({static_cast<int64_t>(hyps.size())}, at::kLong));
  for (int depth = 1; depth <= o.max_word_tokens && !hyps.empty(); ++depth) {
    std::vector<int64_t> last;
    for (const auto& h : hyps) last.push_back(h.last);
    auto lp = at::log_softmax(decode_append(w, cache, at::tensor(last, at::kLong).view({-1, 1})), -1);  // [B, V]
    auto p_cont = (lp.exp() * conts).sum(1);
    for (size_t b = 0; b < hyps.size(); ++b) {
      const double end = std::max(1e-30, 1.0 - p_cont[static_cast<int64_t>(b)].item<double>());
      words[strip_space(hyps[b].text)] += std::exp(hyps[b].logp + std::log(end));
    }
    if (depth == o.max_word_tokens || cache.length() >= cache.capacity()) break;
    // Extend: the best continuations over all beams, pruned by what can still enter the top k.
    std::vector<float> so_far;
    for (const auto& h : hyps) so_far.push_back(static_cast<float>(h.logp));
    auto ext = (lp + at::tensor(so_far, at::kFloat).view({-1, 1})).masked_fill(conts.eq(0).view({1, -1}), -INFINITY).reshape({-1});
    auto top = ext.topk(std::min<int64_t>(o.beam, ext.numel()));
    auto vals = std::get<0>(top), idx = std::get<1>(top);
    const double floor = kth_best();
    std::vector<Hyp> next;
    std::vector<int64_t> parents;
    for (int64_t i = 0; i < vals.size(0); ++i) {
      const double v = vals[i].item<double>();
      if (!std::isfinite(v) || v <= floor) break;
      const int64_t flat = idx[i].item<int64_t>(), parent = flat / cfg.vocab_size;
      const auto t = static_cast<int32_t>(flat % cfg.vocab_size);
      next.push_back({t, v, hyps[static_cast<size_t>(parent)].text + vocab.surface[static_cast<size_t>(t)]});
      parents.push_back(parent);
    }
    if (next.empty()) break;
    cache.select_rows(at::tensor(parents, at::kLong));
    hyps = std::move(next);
  }
  std::vector<WordSuggestion> out;
  for (const auto& [word, p] : words) out.push_back({word, p});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.probability != b.probability ? a.probability > b.probability : a.word < b.word;
  });
  if (out.size() > static_cast<size_t>(o.k)) out.resize(static_cast<size_t>(o.k));
  return out;
}

std::vector<WordPosition> word_starts(std::span<const std::vector<int32_t>> sequences, const WordVocab& vocab) {
  std::vector<WordPosition> out;
  for (size_t s = 0; s < sequences.size(); ++s)
    for (size_t i = 1; i < sequences[s].size(); ++i) {
      const auto t = static_cast<size_t>(sequences[s][i]);
      if (t < vocab.size() && vocab.role[t] == WordRole::starts_word) out.push_back({s, i});
    }
  return out;
}

std::vector<WordPosition> spread_positions(const std::vector<WordPosition>& all, int64_t max_positions) {
  if (max_positions <= 0) return {};
  if (static_cast<int64_t>(all.size()) <= max_positions) return all;
  std::vector<WordPosition> out;
  for (int64_t i = 0; i < max_positions; ++i)
    out.push_back(all[static_cast<size_t>(i * static_cast<int64_t>(all.size()) / max_positions)]);
  return out;
}

NextWordEval evaluate_next_words(DecoderWeights& w, const WordVocab& vocab,
                                 std::span<const std::vector<int32_t>> sequences,
                                 std::span<const WordPosition> positions, const NextWordOptions& options) {
  NextWordOptions o = options;
  o.k = std::max(o.k, 3);
  NextWordEval ev;
  for (const auto& p : positions) {
    const auto& seq = sequences[p.sequence];
    const auto [word, n_tokens] = true_word(seq, p.index, vocab);
    const auto got = suggest_next_words(w, vocab, std::span<const int32_t>(seq.data(), p.index), o);
    ++ev.positions;
    if (n_tokens > o.max_word_tokens) continue;
    for (size_t i = 0; i < got.size() && i < 3; ++i)
      if (got[i].word == word) {
        ev.top3 += 1;
        ev.top1 += i == 0;
        break;
      }
  }
  return ev;
}

}  // namespace fedlora::lora
