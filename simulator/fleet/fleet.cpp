#include "simulator/fleet/fleet.h"

#include <algorithm>
#include <unordered_map>

#include "client/data/eval_sample.h"
#include "client/data/shakespeare.h"
#include "client/data/user_directory.h"
#include "client/data/user_jsonl.h"
#include "lora/format/data_dir.h"

namespace fedlora::sim {

std::vector<uint64_t> Fleet::ids() const {
  std::vector<uint64_t> v(devices.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

int64_t Fleet::max_train_examples() const {
  int64_t m = 1;
  for (const auto& d : devices) m = std::max<int64_t>(m, static_cast<int64_t>(d.train.size()));
  return m;
}

namespace {
client::data::Corpus load_corpus(const DataSection& d) {
  client::data::SplitOptions so;
  so.min_examples = static_cast<size_t>(d.min_examples);
  so.train_percent = static_cast<unsigned>(d.train_percent);
  const std::filesystem::path path = lora::expand_data_path(d.path.string());
  switch (d.format) {
    case DataFormat::shakespeare: return client::data::load_shakespeare_file(path, so);
    case DataFormat::directory: return client::data::load_user_directory(path, so);
    case DataFormat::jsonl: return client::data::load_user_jsonl(path, so);
  }
  throw ConfigError("unknown data format");
}
}  // namespace

Fleet build_fleet(const SimConfig& cfg, const lora::TextCodec& tokenizer, int64_t context_length,
                  uint64_t population_seed, uint64_t eval_seed) {
  auto corpus = load_corpus(cfg.data);
  auto& population = corpus.population;
  if (cfg.data.max_users > 0 && static_cast<size_t>(cfg.data.max_users) < population.size()) {
    std::vector<client::data::UserData> users;
    for (const auto& id : client::data::sample_eval_users(population, static_cast<size_t>(cfg.data.max_users), population_seed))
      users.push_back(population.at(id));
    population = client::data::Population(std::move(users));
  }
  if (static_cast<size_t>(cfg.federation.cohort_size) > population.size()) {
    // Say where the users went: found in the source, removed by which filter, what is left.
    const auto& st = corpus.stats;
    std::string m = cfg.data.path.string() + ": " + std::to_string(st.users_seen) + " users found (" +
                    std::to_string(st.examples_seen) + " examples, " + std::to_string(st.examples_empty) + " empty)";
    if (st.users_seen > st.users_kept)
      m += "; data.min_examples = " + std::to_string(cfg.data.min_examples) + " removed " +
           std::to_string(st.users_seen - st.users_kept) + " of them (fewer non-empty examples than that)";
    if (st.users_kept > population.size())
      m += "; data.max_users = " + std::to_string(cfg.data.max_users) + " kept " + std::to_string(population.size());
    m += "; " + std::to_string(population.size()) + " users left, fewer than federation.cohort_size = " +
         std::to_string(cfg.federation.cohort_size) + ". Lower data.min_examples or federation.cohort_size, "
         "or use a larger corpus";
    throw ConfigError(m);
  }
  Fleet f;
  f.train_texts = population.total_train_examples();
  f.test_texts = population.total_test_examples();
  std::unordered_map<std::string, size_t> index;
  for (const auto& u : population.users()) {
    index[u.user_id] = f.devices.size();
    f.devices.push_back(client::tokenize_user(u, tokenizer, context_length));
    f.train_tokens += f.devices.back().train_targets();
  }
  const size_t n_eval = std::min<size_t>(static_cast<size_t>(cfg.federation.eval_users), population.size());
  for (const auto& id : client::data::sample_eval_users(population, n_eval, eval_seed)) f.eval_devices.push_back(index.at(id));
  return f;
}

}  // namespace fedlora::sim
