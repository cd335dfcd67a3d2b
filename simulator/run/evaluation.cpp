#include "simulator/run/evaluation.h"

#include <algorithm>

#include "client/train/local_trainer.h"
#include "lora/model/lora_model.h"
#include "lora/model/next_word.h"

namespace fedlora::sim {

EvalPoint evaluate_global(WorkerPool& pool, const std::shared_ptr<const lora::BaseModel>& base,
                          const lora::AdapterLayout& layout, const Eigen::VectorXf& theta, const Fleet& fleet,
                          int64_t round, const EvalOptions& options) {
  const auto& users = fleet.eval_devices;
  // Word starts over all evaluation users' windows in a fixed order, evenly thinned, then
  // handed back to their users: the same positions whatever the thread count.
  std::vector<std::vector<lora::WordPosition>> words_of(users.size());
  if (options.words && options.next_word_positions > 0) {
    std::vector<lora::WordPosition> all;
    std::vector<size_t> user_of;
    for (size_t u = 0; u < users.size(); ++u) {
      auto starts = lora::word_starts(fleet.examples(users[u])->test, *options.words);
      all.insert(all.end(), starts.begin(), starts.end());
      user_of.insert(user_of.end(), starts.size(), u);
    }
    std::vector<lora::WordPosition> tagged = all;
    for (size_t i = 0; i < tagged.size(); ++i) tagged[i].sequence = i;  // index into `all`
    for (const auto& p : lora::spread_positions(tagged, options.next_word_positions))
      words_of[user_of[p.sequence]].push_back(all[p.sequence]);
  }
  std::vector<client::EvalMetrics> per(users.size());
  std::vector<lora::NextWordEval> per_words(users.size());
  std::vector<size_t> order(users.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {  // longest first
    return fleet.meta(users[a]).test_targets > fleet.meta(users[b]).test_targets;
  });
  const std::span<const float> th(theta.data(), static_cast<size_t>(theta.size()));
  pool.run(order, [&](size_t i, int) {
    const auto held = fleet.examples(users[i]);
    const auto& test = held->test;
    per[i] = client::evaluate_adapter(base, layout, th, test, 16);
    if (!words_of[i].empty()) {
      lora::LoraAdapter adapter(layout);
      adapter.load_flat(th);
      lora::LoraModel model(base, adapter);
      per_words[i] = lora::evaluate_next_words(model, *options.words, test, words_of[i]);
    }
  });
  client::EvalMetrics m;
  lora::NextWordEval nw;
  for (size_t i = 0; i < per.size(); ++i) {
    m += per[i];
    nw += per_words[i];
  }
  return EvalPoint{round, m.accuracy(), m.loss(), m.perplexity(), m.n_targets,
                   nw.positions, nw.top1_recall(), nw.top3_recall()};
}

}  // namespace fedlora::sim
