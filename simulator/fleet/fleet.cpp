#include "simulator/fleet/fleet.h"

#include <openssl/evp.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include "client/data/eval_sample.h"
#include "client/data/shakespeare.h"
#include "client/data/split.h"
#include "client/data/user_directory.h"
#include "client/data/user_jsonl.h"
#include "lora/format/data_dir.h"
#include "simulator/fleet/partition_source.h"
#include "simulator/fleet/population_source.h"

namespace fedlora::sim {

Fleet::Fleet(std::unique_ptr<DeviceSource> source, std::vector<DeviceMeta> meta, std::size_t cache_devices)
    : source_(std::move(source)), meta_(std::move(meta)), cache_(std::make_unique<DeviceCache>(cache_devices)) {
  if (!source_ || source_->size() != meta_.size()) throw std::invalid_argument("Fleet: one DeviceMeta per device of the source");
}

std::vector<uint64_t> Fleet::ids() const {
  std::vector<uint64_t> v(meta_.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

int64_t Fleet::max_train_examples() const {
  int64_t m = 1;
  for (const auto& d : meta_) m = std::max<int64_t>(m, d.train_examples);
  return m;
}

std::shared_ptr<const client::UserExamples> Fleet::examples(std::size_t id) const {
  if (id >= meta_.size()) throw std::out_of_range("Fleet::examples: device " + std::to_string(id) + " of " + std::to_string(meta_.size()));
  for (size_t e = 0; e < eval_devices.size() && e < pinned_.size(); ++e)
    if (eval_devices[e] == id) return pinned_[e];
  return cache_->get(id, [&] { return source_->materialize(id); });
}

std::size_t Fleet::device_metadata_bytes() const noexcept {
  return meta_.capacity() * sizeof(DeviceMeta) + source_->device_bytes();
}

namespace {

// SHA-256 over a stream of pieces (the fingerprint of users' data, built while counting).
class Sha256Stream {
 public:
  Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 init failed");
  }
  ~Sha256Stream() { EVP_MD_CTX_free(ctx_); }
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void put(const void* p, size_t n) {
    if (EVP_DigestUpdate(ctx_, p, n) != 1) throw std::runtime_error("SHA-256 update failed");
  }
  void put(std::uint64_t v) { put(&v, sizeof v); }
  std::string hex() {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx_, d, &n) != 1) throw std::runtime_error("SHA-256 final failed");
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < n; ++i) (s += digits[d[i] >> 4]) += digits[d[i] & 15];
    return s;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::uint32_t to_u32(std::size_t v, const char* what) {
  if (v > std::numeric_limits<std::uint32_t>::max()) throw std::overflow_error(std::string("fleet: too many ") + what);
  return static_cast<std::uint32_t>(v);
}

DeviceMeta meta_of(const client::UserExamples& u) {
  return DeviceMeta{to_u32(u.train.size(), "windows"), to_u32(u.test.size(), "windows"),
                    to_u32(u.train_targets(), "tokens"), to_u32(u.test_targets(), "tokens")};
}

// A stream of n tokens cut as lora::make_windows does (window w = context + 1).
std::uint32_t windows_of(std::uint64_t n, std::int64_t context) {
  return n < 2 ? 0 : to_u32((n - 1 + static_cast<std::uint64_t>(context) - 1) / static_cast<std::uint64_t>(context), "windows");
}

client::data::Corpus load_corpus(const DataSection& d) {
  client::data::SplitOptions so;
  so.min_examples = static_cast<size_t>(d.min_examples);
  so.train_percent = static_cast<unsigned>(d.train_percent);
  const std::filesystem::path path = lora::expand_data_path(d.path.string());
  switch (d.format) {
    case DataFormat::shakespeare: return client::data::load_shakespeare_file(path, so);
    case DataFormat::directory: return client::data::load_user_directory(path, so);
    case DataFormat::jsonl: return client::data::load_user_jsonl(path, so);
    case DataFormat::partition: break;
  }
  throw ConfigError("unknown data format");
}

void check_cohort_fits(const SimConfig& cfg, size_t population, const std::string& why) {
  if (static_cast<size_t>(cfg.federation.cohort_size) <= population) return;
  throw ConfigError(why + "; " + std::to_string(population) + " users left, fewer than federation.cohort_size = " +
                    std::to_string(cfg.federation.cohort_size) + ". Lower data.min_examples or federation.cohort_size, "
                    "or use a larger corpus");
}

// shakespeare / directory / jsonl: every user tokenized once to count (and hash) its windows.
Fleet population_fleet(const SimConfig& cfg, const lora::TextCodec& tokenizer, int64_t context_length,
                       uint64_t population_seed, Sha256Stream& hash,
                       size_t& train_texts, size_t& test_texts) {
  auto corpus = load_corpus(cfg.data);
  auto& population = corpus.population;
  if (cfg.data.max_users > 0 && static_cast<size_t>(cfg.data.max_users) < population.size()) {
    std::vector<client::data::UserData> users;
    for (const auto& id : client::data::sample_eval_users(population, static_cast<size_t>(cfg.data.max_users), population_seed))
      users.push_back(population.at(id));
    population = client::data::Population(std::move(users));
  }
  {
    // Say where the users went: found in the source, removed by which filter, what is left.
    const auto& st = corpus.stats;
    std::string m = cfg.data.path.string() + ": " + std::to_string(st.users_seen) + " users found (" +
                    std::to_string(st.examples_seen) + " examples, " + std::to_string(st.examples_empty) + " empty)";
    if (st.users_seen > st.users_kept)
      m += "; data.min_examples = " + std::to_string(cfg.data.min_examples) + " removed " +
           std::to_string(st.users_seen - st.users_kept) + " of them (fewer non-empty examples than that)";
    if (st.users_kept > population.size())
      m += "; data.max_users = " + std::to_string(cfg.data.max_users) + " kept " + std::to_string(population.size());
    check_cohort_fits(cfg, population.size(), m);
  }
  train_texts = population.total_train_examples();
  test_texts = population.total_test_examples();
  auto source = std::make_unique<PopulationSource>(population, tokenizer, context_length);
  // Users and their token windows, length-prefixed so that no two fleets serialise alike.
  std::vector<DeviceMeta> meta;
  meta.reserve(source->size());
  hash.put(std::uint64_t{source->size()});
  for (size_t i = 0; i < source->size(); ++i) {
    const auto u = source->materialize(i);
    meta.push_back(meta_of(u));
    hash.put(std::uint64_t{u.user_id.size()});
    hash.put(u.user_id.data(), u.user_id.size());
    for (const auto* split : {&u.train, &u.test}) {
      hash.put(std::uint64_t{split->size()});
      for (const auto& w : *split) {
        hash.put(std::uint64_t{w.size()});
        hash.put(w.data(), w.size() * sizeof(w[0]));
      }
    }
  }
  return Fleet(std::move(source), std::move(meta), static_cast<size_t>(cfg.federation.cohort_size));
}

// partition: each chunk tokenized once to count (and hash) its tokens; users' counts follow.
Fleet partition_fleet(const SimConfig& cfg, const lora::TextCodec& tokenizer, int64_t context_length,
                      uint64_t population_seed, Sha256Stream& hash, size_t& train_texts, size_t& test_texts) {
  const auto& d = cfg.data;
  auto docs = client::data::load_source_documents(lora::expand_data_path(d.path.string()));
  std::vector<client::data::TextChunk> chunks;
  std::vector<std::uint32_t> per_doc(docs.texts.size());
  for (size_t i = 0; i < docs.texts.size(); ++i) {
    auto c = client::data::chunk_document(docs.texts[i], static_cast<std::uint32_t>(i), static_cast<size_t>(d.chunk_bytes));
    per_doc[i] = to_u32(c.size(), "chunks");
    chunks.insert(chunks.end(), c.begin(), c.end());
  }
  std::vector<std::uint32_t> chunk_tokens(chunks.size());
  hash.put(std::uint64_t{chunks.size()});
  for (size_t c = 0; c < chunks.size(); ++c) {
    const auto& ch = chunks[c];
    const auto ids = tokenizer.encode_example(std::string_view(docs.texts[ch.doc]).substr(ch.offset, ch.length), true, true);
    chunk_tokens[c] = to_u32(ids.size(), "tokens");
    hash.put(std::uint64_t{ids.size()});
    hash.put(ids.data(), ids.size() * sizeof(ids[0]));
  }
  client::data::PartitionOptions po;
  po.users = static_cast<size_t>(d.users);
  po.alpha = d.alpha;
  po.examples_per_user = static_cast<size_t>(d.examples_per_user);
  po.prior = d.prior == "uniform" ? client::data::PartitionPrior::uniform : client::data::PartitionPrior::size;
  po.seed = population_seed;
  client::data::DirichletPartition partition(per_doc, po);
  const size_t n_train = client::data::split_counts(po.examples_per_user, static_cast<unsigned>(d.train_percent)).train;
  std::vector<DeviceMeta> meta(po.users);
  hash.put(std::uint64_t{po.users});
  hash.put(std::uint64_t{n_train});
  for (size_t u = 0; u < po.users; ++u) {
    const auto ids = partition.chunks_of(u);
    hash.put(ids.data(), ids.size() * sizeof(ids[0]));
    std::uint64_t train = 0, test = 0;
    for (size_t k = 0; k < ids.size(); ++k) (k < n_train ? train : test) += chunk_tokens[ids[k]];
    meta[u] = DeviceMeta{windows_of(train, context_length), windows_of(test, context_length),
                         to_u32(train > 0 ? train - 1 : 0, "tokens"), to_u32(test > 0 ? test - 1 : 0, "tokens")};
  }
  train_texts = po.users * n_train;
  test_texts = po.users * (po.examples_per_user - n_train);
  check_cohort_fits(cfg, po.users, d.path.string() + ": data.users = " + std::to_string(d.users));
  auto source = std::make_unique<PartitionSource>(std::move(docs), std::move(chunks), std::move(partition), n_train,
                                                  tokenizer, context_length);
  return Fleet(std::move(source), std::move(meta), static_cast<size_t>(cfg.federation.cohort_size));
}

}  // namespace

Fleet build_fleet(const SimConfig& cfg, const lora::TextCodec& tokenizer, int64_t context_length,
                  uint64_t population_seed, uint64_t eval_seed) {
  if (context_length < 1) throw std::invalid_argument("build_fleet: context_length must be >= 1");
  Sha256Stream hash;
  size_t train_texts = 0, test_texts = 0;
  Fleet f = cfg.data.format == DataFormat::partition
                ? partition_fleet(cfg, tokenizer, context_length, population_seed, hash, train_texts, test_texts)
                : population_fleet(cfg, tokenizer, context_length, population_seed, hash, train_texts, test_texts);
  f.train_texts = train_texts;
  f.test_texts = test_texts;
  for (const auto& m : f.meta_) f.train_tokens += m.train_targets;
  // Evaluation users: a seeded sample of the users with held-out windows, in device order.
  std::vector<size_t> eligible;
  for (size_t i = 0; i < f.size(); ++i)
    if (f.meta_[i].test_examples > 0) eligible.push_back(i);
  const size_t n_eval = std::min<size_t>(static_cast<size_t>(cfg.federation.eval_users), eligible.size());
  for (size_t k : client::data::sample_indices(eligible.size(), n_eval, eval_seed)) f.eval_devices.push_back(eligible[k]);
  hash.put(std::uint64_t{f.eval_devices.size()});
  for (auto e : f.eval_devices) hash.put(std::uint64_t{e});
  f.data_sha256 = hash.hex();
  for (auto e : f.eval_devices) f.pinned_.push_back(f.cache_->counted(f.source_->materialize(e)));
  return f;
}

}  // namespace fedlora::sim
