// A tiny end-to-end simulation through the real run loop: 3 users, 2 rounds. Federated
// training lowers the held-out loss, and the same seed reproduces every metric.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <fstream>
#include <nlohmann/json.hpp>

#include "simulator/config/sim_config.h"
#include "simulator/grpc/grpc_run.h"
#include "simulator/run/simulation.h"
#include "tests/e2e/tiny_model.h"
#include "tests/e2e/tiny_run.h"
#include "lora/adapter/adapter_io.h"
#include "lora/model/base_model.h"
#include "lora/model/lora_model.h"
#include "privacy/accounting/epsilon.h"
#include "privacy/accounting/rdp.h"
#include "client/train/step_memory.h"
#include "lora/model/train_flops.h"

namespace fedlora {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

TEST(TinySimulation, LowersHeldOutLossAndIsDeterministic) {
  TinyRun t;
  const auto a = sim::run_simulation(t.config("a", 11), nullptr);
  EXPECT_EQ(a.rounds_completed, 2);
  EXPECT_LT(a.after.loss, a.before.loss - 0.05) << "before " << a.before.loss << " after " << a.after.loss;
  EXPECT_GT(a.after.tokens, 0);

  const auto b = sim::run_simulation(t.config("b", 11), nullptr);
  const auto ma = metrics_without_timing(a.run_dir), mb = metrics_without_timing(b.run_dir);
  ASSERT_EQ(ma.size(), 3u);  // round 0 (base) + 2 rounds
  EXPECT_EQ(ma, mb);

  const auto c = sim::run_simulation(t.config("c", 12), nullptr);
  EXPECT_NE(metrics_without_timing(c.run_dir), ma);  // the seed matters

  // A byte-only vocabulary has no word-start tokens: no next-word figure is made up.
  for (const auto& row : ma) EXPECT_FALSE(row["eval"].contains("next_word"));

  // Outputs a user would look for.
  for (const char* f : {"summary.json", "adapter/adapter_model.safetensors", "adapter/adapter_config.json",
                        "checkpoint/server_state.safetensors"})
    EXPECT_TRUE(fs::exists(a.run_dir / f)) << f;
  const auto summary = json::parse(std::ifstream(a.run_dir / "summary.json"));
  EXPECT_EQ(summary["seed"], 11);
  EXPECT_DOUBLE_EQ(summary["after"]["loss"].get<double>(), a.after.loss);
}

TEST(TinySimulation, ReportsNextWordRecallWhereTheVocabularyHasWords) {
  TinyRun t;
  test::write_tiny_model(t.dir / "words.gguf", 3, true);
  const auto run = [&](const std::string& name, std::vector<std::string> extra) {
    extra.push_back("model.base=\"" + (t.dir / "words.gguf").string() + "\"");
    return metrics_without_timing(sim::run_simulation(t.config(name, 11, extra), nullptr).run_dir);
  };
  const auto ma = run("words", {});
  ASSERT_EQ(ma.size(), 3u);
  for (const auto& row : ma) {
    ASSERT_TRUE(row["eval"].contains("next_word")) << row.dump();
    const auto& nw = row["eval"]["next_word"];
    EXPECT_GT(nw["positions"].get<int>(), 0);
    EXPECT_LE(nw["top1"].get<double>(), nw["top3"].get<double>());
    EXPECT_LE(nw["top3"].get<double>(), 1.0);
  }
  EXPECT_EQ(run("words2", {}), ma);  // deterministic
  for (const auto& row : run("off", {"federation.eval_next_words=0"})) EXPECT_FALSE(row["eval"].contains("next_word"));

}

// A memory budget between the estimates for micro-batches of 1 and 2 examples makes every
// device accumulate over single examples: the same training up to float rounding, reported
// in metrics.jsonl. A budget below one example is refused by every device, by name.
TEST(TinySimulation, MemoryBudgetMicroBatchesOrRefuses) {
  TinyRun t;
  const auto plain_cfg = t.config("unbudgeted", 11);
  const auto plain = sim::run_simulation(plain_cfg, nullptr);
  const auto base = lora::load_base_model(t.dir / "tiny.gguf");
  client::StepShape shape;
  shape.model = base->config;
  shape.adapter_size = lora::make_adapter_layout(base->config, 4, 8.0f, plain_cfg.lora.target_modules).size();
  for (lora::TargetModule m : lora::kAllTargetModules)
    shape.largest_projection = std::max(shape.largest_projection, shape.model.projection(m).in_features *
                                                                    shape.model.projection(m).out_features);
  shape.batch = 4;
  shape.seq_len = base->config.context_length;  // every user has full windows
  const double one = client::estimate_step_bytes(shape, {1, false}), two = client::estimate_step_bytes(shape, {2, false});
  const double budget_mb = (one + two) / 2 / 1e6;

  const auto budgeted = sim::run_simulation(
      t.config("budgeted", 11, {"client.memory_budget_mb=" + std::to_string(budget_mb)}), nullptr);
  const auto mp = metrics_without_timing(plain.run_dir), mb = metrics_without_timing(budgeted.run_dir);
  ASSERT_EQ(mb.size(), 3u);
  for (size_t r = 1; r < mb.size(); ++r) {
    EXPECT_EQ(mb[r].value("micro_batched_devices", 0), 3) << mb[r].dump();
    EXPECT_FALSE(mp[r].contains("micro_batched_devices"));
    EXPECT_NEAR(mb[r]["eval"]["loss"].get<double>(), mp[r]["eval"]["loss"].get<double>(), 1e-4);
    EXPECT_NEAR(mb[r]["train_loss"].get<double>(), mp[r]["train_loss"].get<double>(), 1e-4);
  }
  // The host measure is there (and left out of the comparisons above).
  std::ifstream in(budgeted.run_dir / "metrics.jsonl");
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  EXPECT_GT(json::parse(line).value("peak_rss_mb", 0.0), 1.0) << line;

  const auto refused = sim::run_simulation(
      t.config("refused", 11, {"client.memory_budget_mb=" + std::to_string(one / 4 / 1e6)}), nullptr);
  const auto mr = metrics_without_timing(refused.run_dir);
  ASSERT_GE(mr.size(), 2u);
  EXPECT_EQ(mr[1].value("refused_tasks", 0), 3) << mr[1].dump();
  EXPECT_EQ(mr[1]["contributors"], 0) << mr[1].dump();
}

std::vector<float> final_adapter(const sim::SimulationSummary& s, const sim::SimConfig& c) {
  lora::AdapterLayout layout = lora::make_adapter_layout(lora::load_base_model(c.model.base)->config, c.lora.rank,
                                                         c.lora.alpha, c.lora.target_modules);
  return lora::read_adapter_weights(s.run_dir / "adapter", layout);
}

TEST(TinySimulation, SecureAggregationGivesThePlainSumUpToFixedPointError) {
  TinyRun t;
  const std::vector<std::string> one_round{"federation.rounds=1"};
  const auto pc = t.config("plain", 5, one_round);
  const auto plain = sim::run_simulation(pc, nullptr);
  auto sets = one_round;
  for (const char* s : {"secagg.enabled=true", "secagg.graph=complete", "secagg.threshold=2", "secagg.clip_range=8",
                        "secagg.bits=24", "secagg.word_bits=32"})
    sets.emplace_back(s);
  const auto sc = t.config("secure", 5, sets);
  const auto secure = sim::run_simulation(sc, nullptr);
  ASSERT_EQ(secure.rounds_completed, 1);
  const auto a = final_adapter(plain, pc), b = final_adapter(secure, sc);
  ASSERT_EQ(a.size(), b.size());
  // θ1 − θ0 = Σ w_i Δ_i / Σ w_i; each of the 3 fixed-point inputs is off by < one step 2c/(2^24 − 1),
  // and the divisor Σ w_i ≥ 3 (example weights), so |θ_secure − θ_plain| < 3·step/3 + float rounding.
  const double step = 2 * 8.0 / ((1 << 24) - 1);
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
    max_abs = std::max(max_abs, std::abs(static_cast<double>(a[i])));
  }
  EXPECT_LT(max_diff, step + 1e-6 * max_abs);
  EXPECT_GT(secure.bytes_up, plain.bytes_up);  // keys, shares and masked words, not just floats
}

// FFA-LoRA (lora.freeze_a): lora_A never leaves its initialisation, lora_B learns, and a
// device uploads d_B floats instead of d, with or without secure aggregation.
TEST(TinySimulation, FreezeAKeepsLoraAAndUploadsOnlyLoraB) {
  TinyRun t;
  // Every device drops: the adapter stays θ0, the shared initialisation.
  const auto ic = t.config("init", 5, {"federation.rounds=1", "federation.dropout_rate=0.999"});
  const auto theta0 = final_adapter(sim::run_simulation(ic, nullptr), ic);
  const auto fc = t.config("full", 5);
  const auto full = sim::run_simulation(fc, nullptr);
  lora::AdapterLayout layout = lora::make_adapter_layout(lora::load_base_model(fc.model.base)->config, fc.lora.rank,
                                                         fc.lora.alpha, fc.lora.target_modules);
  int64_t d_b = 0;
  for (const auto& tensor : layout.tensors()) d_b += tensor.is_b ? tensor.numel() : 0;
  for (const std::string secure : {"false", "true"}) {
    const auto c = t.config("ffa_" + secure, 5,
                            {"lora.freeze_a=true", "secagg.enabled=" + secure, "secagg.graph=complete", "secagg.threshold=2"});
    const auto s = sim::run_simulation(c, nullptr);
    ASSERT_EQ(s.rounds_completed, 2) << "secagg " << secure;
    EXPECT_LT(s.after.loss, s.before.loss - 0.02) << "secagg " << secure;
    const auto theta = final_adapter(s, c);
    bool b_moved = false;
    for (const auto& tensor : layout.tensors())
      for (int64_t i = tensor.offset; i < tensor.offset + tensor.numel(); ++i) {
        const auto k = static_cast<size_t>(i);
        if (tensor.is_b) b_moved |= theta[k] != 0.0f;
        else ASSERT_EQ(theta[k], theta0[k]) << tensor.name << " moved, secagg " << secure;
      }
    EXPECT_TRUE(b_moved);
    if (secure == "false")  // plain uploads are the float32 update: d_B of d floats
      EXPECT_NEAR(static_cast<double>(s.bytes_up) / static_cast<double>(full.bytes_up),
                  static_cast<double>(d_b) / static_cast<double>(layout.size()), 0.01);
  }
}

TEST(TinySimulation, SecureRoundBelowThresholdAbortsAndKeepsTheAdapter) {
  TinyRun t;
  const auto c = t.config("dropped", 5, {"federation.rounds=1", "federation.dropout_rate=0.999", "secagg.enabled=true",
                                         "secagg.graph=complete", "secagg.threshold=2"});
  const auto s = sim::run_simulation(c, nullptr);
  EXPECT_EQ(s.rounds_aborted, 1);
  EXPECT_EQ(s.rounds_completed, 0);
  const auto rows = metrics_without_timing(s.run_dir);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[1]["aborted"].get<bool>());
  EXPECT_EQ(rows[1]["contributors"], 0);
  // The adapter is still the initial one: B = 0, so every lora_B entry is exactly zero.
  const auto theta = final_adapter(s, c);
  lora::AdapterLayout layout = lora::make_adapter_layout(lora::load_base_model(c.model.base)->config, c.lora.rank,
                                                         c.lora.alpha, c.lora.target_modules);
  for (const auto& tensor : layout.tensors())
    if (tensor.is_b)
      for (int64_t i = 0; i < tensor.numel(); ++i) ASSERT_EQ(theta[static_cast<size_t>(tensor.offset + i)], 0.0f);
  EXPECT_DOUBLE_EQ(s.after.loss, s.before.loss);
}

TEST(TinySimulation, SecureRoundsDropDevicesBeforeEveryStage) {
  TinyRun t;
  // Half the devices drop, each before a random stage; with the consistency check there are
  // five stages, and over 30 rounds of 3 devices every one of them must be hit.
  const auto c = t.config("stages", 5, {"federation.rounds=30", "federation.eval_every=100", "federation.dropout_rate=0.5",
                                        "secagg.enabled=true", "secagg.graph=complete", "secagg.threshold=2",
                                        "secagg.consistency_check=true", "secagg.corrupt_fraction=0.0",
                                        "client.epochs=1"});
  const auto s = sim::run_simulation(c, nullptr);
  std::map<std::string, int> by_stage;
  int dropped = 0;
  for (const auto& row : metrics_without_timing(s.run_dir)) {
    if (!row.contains("secagg")) continue;
    dropped += row["dropped"].get<int>();
    if (row["secagg"].contains("dropped_before"))
      for (const auto& [stage, n] : row["secagg"]["dropped_before"].items()) by_stage[stage] += n.get<int>();
  }
  int sum = 0;
  for (const auto& [stage, n] : by_stage) sum += n;
  EXPECT_EQ(sum, dropped);
  for (const char* stage : {"AdvertiseKeys", "ShareKeys", "MaskedInputCollection", "ConsistencyCheck", "Unmasking"})
    EXPECT_GT(by_stage[stage], 0) << stage;
  EXPECT_GT(s.rounds_completed, 0);  // some rounds still complete through dropout recovery
  EXPECT_GT(s.rounds_aborted, 0);    // and some fall below t
}

TEST(TinySimulation, UserLevelEpsilonMatchesTheAccountant) {
  TinyRun t;
  const auto c = t.config("dp", 5, {"federation.rounds=3", "federation.cohort_size=2", "user_dp.enabled=true",
                                    "user_dp.noise_multiplier=1.1", "user_dp.l2_norm_clip=0.1", "user_dp.delta=1e-3"});
  const auto s = sim::run_simulation(c, nullptr);
  // Independent computation: 3 rounds of the Poisson-subsampled Gaussian, q = K/N = 2/3, σ = 1.1.
  const auto orders = privacy::default_orders();
  const auto rdp = privacy::compute_rdp(2.0 / 3.0, 1.1, 3, orders);
  const double eps = privacy::epsilon_from_rdp(orders, rdp, 1e-3).epsilon;
  const auto rows = metrics_without_timing(s.run_dir);
  auto released = [](const json& row) { return row["user_dp"]["epsilon"]["released_model"]["epsilon"].get<double>(); };
  EXPECT_NEAR(released(rows.back()), eps, 1e-9);
  EXPECT_NEAR(s.user_dp["epsilon"]["released_model"]["epsilon"].get<double>(), eps, 1e-9);
  EXPECT_GT(released(rows[1]), 0.0);
  EXPECT_LT(released(rows[1]), released(rows[3]));
  // Central noise: the coordinator sees the sum before it adds noise, so against it ε = ∞.
  EXPECT_EQ(rows.back()["user_dp"]["epsilon"]["coordinator"]["epsilon"], "inf");
  // The run is private (noise from the OS CSPRNG), and says so.
  const auto summary = json::parse(std::ifstream(s.run_dir / "summary.json"));
  EXPECT_EQ(summary["private"], true);
}

// The safetensors header (8-byte little-endian length, then JSON): its __metadata__.
json adapter_metadata(const fs::path& run_dir) {
  std::ifstream in(run_dir / "adapter" / "adapter_model.safetensors", std::ios::binary);
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  return json::parse(header).value("__metadata__", json::object());
}

TEST(TinySimulation, PrivateRunsDrawFreshNoiseAndCarryNoSeed) {
  TinyRun t;
  const std::vector<std::string> dp{"federation.rounds=1", "federation.cohort_size=2", "user_dp.enabled=true",
                                    "user_dp.noise_multiplier=1.0", "user_dp.l2_norm_clip=0.1"};
  const auto c1 = t.config("private1", 5, dp), c2 = t.config("private2", 5, dp);
  const auto a = sim::run_simulation(c1, nullptr), b = sim::run_simulation(c2, nullptr);
  // Same seed, different noise (and cohorts): the seed is not the key to the noise.
  EXPECT_NE(final_adapter(a, c1), final_adapter(b, c2));
  for (const auto& s : {a, b}) {
    EXPECT_FALSE(adapter_metadata(s.run_dir).contains("fedlora.seed"));
    const auto summary = json::parse(std::ifstream(s.run_dir / "summary.json"));
    EXPECT_EQ(summary["private"], true);
    EXPECT_TRUE(summary["user_dp"]["epsilon"].is_object());
  }

  // The research opt-in: reproducible, marked not private, no ε, and still no seed in the adapter.
  auto research = dp;
  research.push_back("run.reproducible_noise=true");
  const auto r1c = t.config("repro1", 5, research), r2c = t.config("repro2", 5, research);
  const auto r1 = sim::run_simulation(r1c, nullptr), r2 = sim::run_simulation(r2c, nullptr);
  EXPECT_EQ(final_adapter(r1, r1c), final_adapter(r2, r2c));
  EXPECT_EQ(metrics_without_timing(r1.run_dir), metrics_without_timing(r2.run_dir));
  EXPECT_FALSE(adapter_metadata(r1.run_dir).contains("fedlora.seed"));
  const auto summary = json::parse(std::ifstream(r1.run_dir / "summary.json"));
  EXPECT_EQ(summary["private"], false);
  EXPECT_TRUE(summary["user_dp"]["epsilon"].is_null());
  for (const auto& row : metrics_without_timing(r1.run_dir))
    if (row.contains("user_dp")) EXPECT_TRUE(row["user_dp"]["epsilon"].is_null());
}

TEST(TinySimulation, ParticipationCapBoundsTheCoordinatorEpsilon) {
  TinyRun t;
  // Three users, cohorts of 2, four rounds, at most one participation each: after the cap
  // nobody is eligible and the later rounds have no cohort.
  const auto c = t.config("cap", 5, {"federation.rounds=4", "federation.cohort_size=2", "federation.min_contributors=2",
                                     "user_dp.enabled=true", "user_dp.mode=distributed",
                                     "user_dp.noise_multiplier=1.0", "user_dp.l2_norm_clip=0.1",
                                     "user_dp.max_participations=1", "user_dp.delta=1e-5", "secagg.enabled=true", "secagg.graph=complete",
                                     "secagg.threshold=2"});
  const auto s = sim::run_simulation(c, nullptr);
  const auto rows = metrics_without_timing(s.run_dir);
  int64_t taken = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    taken += rows[i]["aborted"].get<bool>() ? 0 : rows[i]["contributors"].get<int64_t>();
    if (!rows[i].contains("user_dp")) continue;
    EXPECT_LE(rows[i]["user_dp"]["epsilon"]["coordinator"]["max_participations_seen"].get<int64_t>(), 1);
  }
  EXPECT_GT(taken, 0);
  EXPECT_LE(taken, 3);  // one participation per user at most
  // The advance guarantee is one Gaussian mechanism at z = 1, whatever the number of rounds.
  const auto orders = privacy::default_orders();
  const double one = privacy::epsilon_from_rdp(orders, privacy::compute_rdp(1.0, 1.0, 1, orders), 1e-5).epsilon;
  EXPECT_NEAR(s.user_dp["epsilon"]["coordinator"]["worst_case_epsilon"].get<double>(), one, 1e-9);
}

TEST(TinySimulation, DpFtrlTrainsWithoutSamplingAndReportsTheTreeEpsilon) {
  TinyRun t;
  const auto c = t.config("ftrl", 5, {"federation.rounds=3", "federation.cohort_size=1", "user_dp.enabled=true",
                                      "user_dp.mechanism=\"dp_ftrl\"", "user_dp.restart_every=3",
                                      "user_dp.noise_multiplier=0.5", "user_dp.l2_norm_clip=1.0"});
  const auto s = sim::run_simulation(c, nullptr);
  EXPECT_EQ(s.rounds_completed, 3);
  const auto& eps = s.user_dp["epsilon"];
  EXPECT_EQ(s.user_dp["mechanism"], "dp_ftrl");
  EXPECT_GT(eps["released_model"]["epsilon"].get<double>(), 0.0);
  EXPECT_TRUE(std::isfinite(eps["released_model"]["epsilon"].get<double>()));
  EXPECT_EQ(eps["coordinator"]["epsilon"], "inf");  // central tree noise
  // Each user at most once per tree: three rounds of one device each, three distinct users.
  EXPECT_EQ(eps["coordinator"]["max_participations_seen"], 1);
}

TEST(TinySimulation, DistributedNoiseThroughSecureAggregationIsAccounted) {
  TinyRun t;
  // Cohorts are drawn from OS entropy here (a private run), so a round aborts when fewer than t = 2 of the 3
  // users are drawn (p = 7/27). Ten rounds make "every round aborted" a 1e-6 event instead of CI flakiness.
  const auto c = t.config("distributed", 5, {"federation.rounds=10", "federation.cohort_size=2", "user_dp.enabled=true",
                                             "user_dp.mode=distributed", "user_dp.noise_multiplier=1.1",
                                             "user_dp.l2_norm_clip=0.1", "user_dp.delta=1e-3", "user_dp.adaptive_clipping=true",
                                             "secagg.enabled=true", "secagg.graph=complete", "secagg.threshold=2"});
  const auto s = sim::run_simulation(c, nullptr);
  const auto rows = metrics_without_timing(s.run_dir);
  int completed = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i]["aborted"].get<bool>()) continue;
    ++completed;
    EXPECT_GE(rows[i]["contributors"].get<int>(), 2);  // never released below t
    EXPECT_EQ(rows[i]["secagg"]["threshold"], 2);
    EXPECT_GT(rows[i]["user_dp"]["clip_norm"].get<double>(), 0.0);
  }
  ASSERT_EQ(completed, s.rounds_completed);
  // Adaptive clipping accounts the total multiplier z = 1.1 (its update noise z_Δ is larger).
  const auto orders = privacy::default_orders();
  // Every round is charged, aborted ones too: whether a round aborts can depend on who was drawn.
  const auto rdp = privacy::compute_rdp(2.0 / 3.0, 1.1, 10, orders);
  ASSERT_GT(completed, 0);  // a run where every round aborts proves nothing about the noise
  EXPECT_NEAR(s.user_dp["epsilon"]["released_model"]["epsilon"].get<double>(),
              privacy::epsilon_from_rdp(orders, rdp, 1e-3).epsilon, 1e-9);
}

TEST(TinySimulation, DpSgdDevicesStopAtTheirBudget) {
  TinyRun t;
  // A device's round is 2 DP-SGD steps at q = 0.5, σ = 1.5: ε = 3.05 after one round and
  // 4.17 after two (δ = 1e-5, fedlora-privacy epsilon), so a budget of 3.5 admits exactly one.
  const auto c = t.config("dpsgd", 5, {"federation.rounds=3", "federation.cohort_size=2", "dp_sgd.enabled=true",
                                       "dp_sgd.noise_multiplier=1.5", "dp_sgd.sampling_rate=0.5", "dp_sgd.steps=2",
                                       "dp_sgd.epsilon=3.5", "dp_sgd.delta=1e-5"});
  const auto s = sim::run_simulation(c, nullptr);
  const auto rows = metrics_without_timing(s.run_dir);
  int refused = 0;
  double eps_max = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    refused += rows[i]["refused_devices"].get<int>();
    eps_max = std::max(eps_max, rows[i]["example_epsilon_max"].get<double>());
  }
  EXPECT_NEAR(eps_max, 3.05, 0.01);  // one round spent, the second refused
  EXPECT_LE(eps_max, 3.5);           // no device is ever charged beyond its budget
  const auto summary = json::parse(std::ifstream(s.run_dir / "summary.json"));
  EXPECT_DOUBLE_EQ(summary["example_epsilon_max"].get<double>(), eps_max);
  // 3 devices, cohorts of 2, one round of budget each: some device is asked twice and refuses.
  EXPECT_GT(refused, 0);
  // The ledger persists in the run folder.
  EXPECT_TRUE(fs::exists(s.run_dir / "privacy_ledger.sqlite"));
}

// The same job through real processes (a fedlora-coordinator and device workers over gRPC
// on loopback) gives the in-process metrics: exactly with SecAgg (modular sums do not depend
// on arrival order), within 1e-4 without (float64 plain sums in arrival order).
TEST(TinySimulation, GrpcTransportGivesTheInProcessMetrics) {
  TinyRun t;
  for (const bool secure : {true, false}) {
    std::vector<std::string> sets{"federation.rounds=2"};
    if (secure)
      for (const char* x : {"secagg.enabled=true", "secagg.graph=complete", "secagg.threshold=2"}) sets.emplace_back(x);
    const std::string tag = secure ? "secure" : "plain";
    const auto inproc = sim::run_simulation(t.config("inproc-" + tag, 9, sets), nullptr);
    const auto grpc = sim::run_simulation_grpc(t.config("grpc-" + tag, 9, sets), nullptr, FEDLORA_BIN_DIR);
    const auto a = metrics_without_timing(inproc.run_dir), b = metrics_without_timing(grpc.run_dir);
    expect_same_metrics(a, b, secure ? 0.0 : 1e-4);
    EXPECT_EQ(grpc.rounds_completed, 2);
    if (secure) EXPECT_EQ(final_adapter(inproc, t.config("x", 9, sets)), final_adapter(grpc, t.config("x", 9, sets)));
  }
}

std::vector<json> metric_rows(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.jsonl");
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(json::parse(line));
  return rows;
}

// One member per round, one device class: the round's simulated time is, by hand,
// latency + 8·θ bytes / down rate + tokens · FLOP per token / GFLOP/s + latency +
// 8·upload bytes / up rate, with the tokens and bytes the round's metrics report.
TEST(TinySimulation, SimulatedRoundTimeIsDownloadPlusComputePlusUpload) {
  TinyRun t;
  const std::vector<std::string> sets{
      "federation.cohort_size=1", "federation.rounds=3",
      "fleet.classes=[{name=\"only\", gflops=0.5, down_mbps=8, up_mbps=4, latency_ms=100}]"};
  const auto cfg = t.config("clock", 3, sets);
  const auto s = sim::run_simulation(cfg, nullptr);
  const auto base = lora::load_base_model(cfg.model.base);
  const int64_t seq = base->config.context_length;
  const double fpt = lora::train_flop_per_token(base->config, cfg.lora.target_modules, 4, seq, 4 * seq, false);
  const auto rows = metric_rows(s.run_dir);
  ASSERT_EQ(rows.size(), 4u);
  double total = 0;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const double up = rows[r]["bytes_up"].get<double>();  // one plain upload: 4·d + 8 bytes
    const double down = up - 8;                            // θ: 4·d bytes
    const double expected = 0.1 + 8 * down / 8e6 + rows[r]["train_tokens"].get<double>() * fpt / 0.5e9 + 0.1 + 8 * up / 4e6;
    EXPECT_NEAR(rows[r]["sim_round_s"].get<double>(), expected, 1e-9 * expected) << "round " << r;
    total += expected;
    EXPECT_NEAR(rows[r]["sim_time_s"].get<double>(), total, 1e-9 * total);
    EXPECT_EQ(rows[r]["stragglers"], 0);
  }
  EXPECT_NEAR(s.simulated_time["total_s"].get<double>(), total, 1e-9 * total);
}

// Over-selection: 3 selected, the round closes at the first report, the other two are
// stragglers whose work is wasted. A deadline before anyone can report aborts the round.
TEST(TinySimulation, OverSelectionAndDeadlineMakeStragglers) {
  TinyRun t;
  const std::vector<std::string> sets{"federation.cohort_size=1", "federation.over_selection=3", "federation.rounds=2"};
  const auto s = sim::run_simulation(t.config("over", 4, sets), nullptr);
  for (const auto& row : metric_rows(s.run_dir)) {
    if (row["round"] == 0) continue;
    EXPECT_EQ(row["cohort"], 3);
    EXPECT_EQ(row["contributors"], 1);
    EXPECT_EQ(row["stragglers"], 2);
    EXPECT_GT(row["wasted_compute_s"].get<double>(), 0);
  }
  EXPECT_EQ(s.simulated_time["stragglers"], 4);
  EXPECT_GT(s.simulated_time["wasted_share"].get<double>(), 0.5);  // 2 of 3 devices' work each round

  auto late = sets;
  late.push_back("fleet.round_deadline_s=0.001");
  const auto d = sim::run_simulation(t.config("deadline", 4, late), nullptr);
  EXPECT_EQ(d.rounds_aborted, 2);
  for (const auto& row : metric_rows(d.run_dir))
    if (row["round"] != 0) EXPECT_EQ(row["stragglers"], 3);
}

// A diurnal fleet only selects devices inside an eligible session, waits for enough of
// them, and the same seed gives the same simulated times.
TEST(TinySimulation, DiurnalAvailabilityIsDeterministic) {
  TinyRun t;
  const std::vector<std::string> sets{"federation.cohort_size=1", "fleet.availability=\"diurnal\"",
                                      "fleet.session_minutes=30"};
  const auto a = sim::run_simulation(t.config("d1", 6, sets), nullptr);
  const auto b = sim::run_simulation(t.config("d2", 6, sets), nullptr);
  EXPECT_EQ(metrics_without_timing(a.run_dir), metrics_without_timing(b.run_dir));
  EXPECT_GT(a.simulated_time["total_s"].get<double>(), 0);
  EXPECT_THROW(sim::run_simulation_grpc(t.config("g", 6, sets), nullptr, FEDLORA_BIN_DIR), config::ConfigError);
  EXPECT_THROW(t.config("dp", 6, {"fleet.availability=\"diurnal\"", "user_dp.enabled=true"}), config::ConfigError);
}

// Local work is bounded by default (client.max_steps = 32): a user with 100× the others'
// data makes its round ~10× longer on the simulated clock (32 steps against 3), not 100×.
TEST(TinySimulation, DefaultStepCapBoundsAProlificUsersRound) {
  TinyRun t;
  {
    std::ofstream out(t.dir / "users.jsonl", std::ios::app);
    for (int i = 0; i < 1000; ++i)
      out << json{{"user", "prolific"}, {"text", "so many words from one prolific author " + std::to_string(i)}}.dump() << "\n";
  }
  EXPECT_EQ(config::JobConfig{}.client.max_steps, 32);
  auto ratio = [&](const std::string& name, std::vector<std::string> extra) {
    extra.insert(extra.end(), {"federation.cohort_size=4", "federation.rounds=1",
                               "fleet.classes=[{name=\"slow\", gflops=0.0001, latency_ms=0}]"});
    const auto s = sim::run_simulation(t.config(name, 2, extra), nullptr);
    const auto row = metric_rows(s.run_dir).at(1);
    return row["report_s"]["max"].get<double>() / row["report_s"]["p50"].get<double>();
  };
  const double capped = ratio("capped", {}), uncapped = ratio("uncapped", {"client.max_steps=0"});
  EXPECT_LT(capped, 12) << "capped";
  EXPECT_GT(uncapped, 50) << "uncapped";
}

// FedBuff on the simulated clock: with 3 devices training at once and a server step every
// 2 arrivals, later updates come from older θ versions (staleness > 0 is reported), the
// held-out loss falls, and the same seed gives the same metrics.
TEST(TinySimulation, FedBuffStepsEveryKArrivalsAndIsDeterministic) {
  TinyRun t;
  const std::vector<std::string> sets{"server.mode=\"fedbuff\"", "server.concurrency=3", "server.buffer_size=2",
                                      "federation.rounds=4", "federation.eval_every=2",
                                      "fleet.classes=[{name=\"fast\", share=0.5, gflops=1}, {name=\"slow\", share=0.5, gflops=0.2}]"};
  const auto a = sim::run_simulation(t.config("fb1", 8, sets), nullptr);
  EXPECT_EQ(a.rounds_completed, 4);
  EXPECT_LT(a.after.loss, a.before.loss);
  const auto rows = metric_rows(a.run_dir);
  ASSERT_EQ(rows.size(), 5u);
  double last_time = 0, staleness = 0;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    EXPECT_EQ(rows[r]["round"], static_cast<int>(r));
    EXPECT_GT(rows[r]["sim_time_s"].get<double>(), last_time);
    last_time = rows[r]["sim_time_s"].get<double>();
    staleness += rows[r]["staleness_max"].get<double>();
  }
  EXPECT_GT(staleness, 0);  // with C > K some update is always stale
  const auto b = sim::run_simulation(t.config("fb2", 8, sets), nullptr);
  EXPECT_EQ(metrics_without_timing(a.run_dir), metrics_without_timing(b.run_dir));
  EXPECT_THROW(t.config("fbs", 8, {"server.mode=\"fedbuff\"", "secagg.enabled=true"}), config::ConfigError);
  EXPECT_THROW(t.config("fbk", 8, {"server.mode=\"fedbuff\"", "server.concurrency=2", "server.buffer_size=3"}),
               config::ConfigError);
  EXPECT_THROW(sim::run_simulation_grpc(t.config("fbg", 8, sets), nullptr, FEDLORA_BIN_DIR), config::ConfigError);
}

TEST(TinySimulation, AFilteredOutCorpusSaysWhereTheUsersWent) {
  TinyRun t;  // 3 users with 10 examples each
  try {
    sim::run_simulation(t.config("filtered", 1, {"data.min_examples=11"}), nullptr);
    FAIL() << "ran with no users";
  } catch (const config::ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("3 users found (30 examples, 0 empty)"), std::string::npos) << m;
    EXPECT_NE(m.find("data.min_examples = 11 removed 3 of them"), std::string::npos) << m;
    EXPECT_NE(m.find("0 users left, fewer than federation.cohort_size = 3"), std::string::npos) << m;
  }
  try {
    sim::run_simulation(t.config("capped", 1, {"data.max_users=2"}), nullptr);
    FAIL() << "ran a cohort of 3 from 2 users";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.max_users = 2 kept 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedlora
