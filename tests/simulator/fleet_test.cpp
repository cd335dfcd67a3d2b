// The lazy fleet: a 100,000-device Dirichlet partition of the public corpus costs metadata
// only (heap measured with mallinfo2), only devices in use hold tokens, counts known without
// tokens match the tokenized windows; per-user corpora give the eager fleet's exact data.
#include <gtest/gtest.h>
#include <malloc.h>

#include <set>

#include "client/data/eval_sample.h"
#include "client/data/shakespeare.h"
#include "coordinator/protocol/payload.h"
#include "lora/format/data_dir.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/llama_config.h"
#include "simulator/fleet/fleet.h"

namespace fedlora::sim {
namespace {

struct Tok {
  lora::gguf::GgufFile file = lora::gguf::GgufFile::open("models/base.gguf");
  lora::TextCodec codec = lora::TextCodec::from_gguf(file);
  std::int64_t context = lora::read_llama_config(file).context_length;
};

std::size_t heap_in_use() {
  const auto m = mallinfo2();
  return m.uordblks + m.hblkhd;  // small blocks in use + mmapped large blocks
}

SimConfig partition_config(int users) {
  SimConfig c;
  c.data.format = DataFormat::partition;
  c.data.path = "${FEDLORA_DATA_DIR}/public";
  c.data.users = users;
  c.data.alpha = 0.3;
  c.federation.cohort_size = 100;
  c.federation.eval_users = 48;
  c.validate();
  return c;
}

void expect_counts_match(const Fleet& f, std::size_t id, const client::UserExamples& ex) {
  const auto& m = f.meta(id);
  EXPECT_EQ(ex.train.size(), m.train_examples) << "device " << id;
  EXPECT_EQ(ex.test.size(), m.test_examples) << "device " << id;
  EXPECT_EQ(ex.train_targets(), m.train_targets) << "device " << id;
  EXPECT_EQ(ex.test_targets(), m.test_targets) << "device " << id;
}

TEST(LazyFleet, HundredThousandIdleDevicesAreMetadataOnly) {
  const Tok tok;
  const auto cfg = partition_config(100000);
  malloc_trim(0);
  const std::size_t before = heap_in_use();
  Fleet f = build_fleet(cfg, tok.codec, tok.context, 1, 2);
  malloc_trim(0);
  const std::size_t after = heap_in_use();
  ASSERT_EQ(f.size(), 100000u);
  // Everything the fleet holds, shared corpus and the 48 evaluation users included.
  const double per_device = static_cast<double>(after - before) / 100000.0;
  std::printf("fleet heap: %.1f MB = %.0f bytes per device (metadata %.0f B/device, shared text %.2f MB)\n",
              static_cast<double>(after - before) / 1e6, per_device,
              static_cast<double>(f.device_metadata_bytes()) / 1e5, static_cast<double>(f.shared_bytes()) / 1e6);
  EXPECT_LE(per_device, 1024.0);
  EXPECT_LE(f.device_metadata_bytes(), 100000u * 1024u);
  // Only the evaluation users hold tokens.
  ASSERT_EQ(f.eval_devices.size(), 48u);
  EXPECT_EQ(f.resident_devices(), 48u);

  // A cohort of 100 idle devices: tokens while held, exactly the counts the metadata gave.
  const std::set<std::size_t> eval(f.eval_devices.begin(), f.eval_devices.end());
  std::vector<std::size_t> cohort;
  for (std::size_t id = 7; cohort.size() < 100; id += 997)
    if (!eval.count(id)) cohort.push_back(id);
  {
    std::vector<std::shared_ptr<const client::UserExamples>> held;
    for (auto id : cohort) {
      held.push_back(f.examples(id));
      expect_counts_match(f, id, *held.back());
    }
    EXPECT_EQ(f.resident_devices(), 48u + 100u);
  }
  for (auto id : f.eval_devices) expect_counts_match(f, id, *f.examples(id));
  // Released: at most the cache (cohort_size devices) stays, however many devices were used.
  for (std::size_t id = 5; id < 100000; id += 333) (void)f.examples(id);
  EXPECT_LE(f.resident_devices(), 48u + 100u);
  EXPECT_GT(f.train_tokens, 0u);
}

TEST(LazyFleet, PartitionIsDeterministicInItsSeed) {
  const Tok tok;
  const auto cfg = partition_config(2000);
  const Fleet a = build_fleet(cfg, tok.codec, tok.context, 1, 2);
  const Fleet b = build_fleet(cfg, tok.codec, tok.context, 1, 2);
  const Fleet c = build_fleet(cfg, tok.codec, tok.context, 9, 2);
  EXPECT_EQ(a.data_sha256, b.data_sha256);
  EXPECT_NE(a.data_sha256, c.data_sha256);
  EXPECT_EQ(a.eval_devices, b.eval_devices);
  for (std::size_t id : {0, 1, 1999}) EXPECT_EQ(a.examples(id)->train, b.examples(id)->train);
}

// The per-user formats: the same windows, counts, evaluation users and data fingerprint as
// the fleet that tokenized every user up front (the serialisation below is the fingerprint's).
TEST(LazyFleet, ShakespeareFleetGivesTheEagerFleetsData) {
  const Tok tok;
  SimConfig cfg;
  cfg.federation.cohort_size = 16;
  cfg.federation.eval_users = 48;
  const Fleet f = build_fleet(cfg, tok.codec, tok.context, 11, 12);
  client::data::SplitOptions so;
  const auto corpus =
      client::data::load_shakespeare_file(lora::expand_data_path("${FEDLORA_DATA_DIR}/shakespeare/tinyshakespeare.txt"), so);
  const auto& pop = corpus.population;
  ASSERT_EQ(f.size(), pop.size());
  std::string bytes;
  auto put = [&](std::uint64_t v) { bytes.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(pop.size());
  for (std::size_t i = 0; i < pop.size(); ++i) {
    const auto u = client::tokenize_user(pop.at(i), tok.codec, tok.context);
    const auto lazy = f.examples(i);
    ASSERT_EQ(lazy->user_id, u.user_id);
    ASSERT_EQ(lazy->train, u.train);
    ASSERT_EQ(lazy->test, u.test);
    expect_counts_match(f, i, u);
    put(u.user_id.size());
    bytes += u.user_id;
    for (const auto* split : {&u.train, &u.test}) {
      put(split->size());
      for (const auto& w : *split) {
        put(w.size());
        bytes.append(reinterpret_cast<const char*>(w.data()), w.size() * sizeof(w[0]));
      }
    }
  }
  std::vector<std::size_t> eval;
  for (const auto& id : client::data::sample_eval_users(pop, 48, 12)) {
    for (std::size_t i = 0; i < pop.size(); ++i)
      if (pop.at(i).user_id == id) eval.push_back(i);
  }
  EXPECT_EQ(f.eval_devices, eval);
  put(eval.size());
  for (auto e : eval) put(e);
  EXPECT_EQ(f.data_sha256, protocol::to_hex(protocol::sha256_of(bytes)));
  EXPECT_LE(f.resident_devices(), 48u + 16u);
}

}  // namespace
}  // namespace fedlora::sim
