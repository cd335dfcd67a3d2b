// End-to-end SecAgg / SecAgg+ rounds through the in-process driver.
//
// Truth: the plain sum (mod 2^w) of the inputs of the clients that should survive, and
// an independent model of the abort rules (thresholds per neighbourhood, survivor-graph
// connectivity) derived from the dropout schedule alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "tests/secure-agg/protocol_support.h"

namespace fedlora::secagg {
namespace {

using namespace testing;

// ---------------------------------------------------------------------------------------
// Reference model of an honest round with a dropout schedule. The Harary graph depends
// on the keys the clients drew, so the model takes the graph the round used (each client
// recomputed it from the advertised keys; graph_test checks its derivation).
struct Expected {
  bool aborted = false;
  std::vector<ClientId> survivors;
};

Expected model(const RoundConfig& c, const DropoutSchedule& s, const std::optional<NeighbourGraph>& graph) {
  const std::uint32_t n = c.num_clients, t = c.params.threshold;
  if (!graph) {  // only when nobody advertised keys
    for (ClientId u = 0; u < n; ++u) {
      if (!s.silent_at(u, Stage::kAdvertiseKeys)) return {false, {999999}};  // mismatch on purpose
    }
    return {true, {}};
  }
  const NeighbourGraph& g = *graph;
  auto in = [](const std::set<ClientId>& set, ClientId v) { return set.count(v) > 0; };
  auto live_neighbours = [&](ClientId u, const std::set<ClientId>& set) {
    std::size_t k = 0;
    for (ClientId v = 0; v < n; ++v) k += (v != u && g.are_neighbours(u, v) && in(set, v)) ? 1 : 0;
    return k;
  };
  auto prune = [&](std::set<ClientId> set) {
    for (bool changed = true; changed;) {
      changed = false;
      for (auto it = set.begin(); it != set.end();) {
        if (live_neighbours(*it, set) + 1 < t) {
          it = set.erase(it);
          changed = true;
        } else {
          ++it;
        }
      }
    }
    return set;
  };
  auto present = [&](const std::set<ClientId>& from, Stage st) {
    std::set<ClientId> out;
    for (ClientId u : from) {
      if (!s.silent_at(u, st)) out.insert(u);
    }
    return out;
  };
  std::set<ClientId> all;
  for (ClientId u = 0; u < n; ++u) all.insert(u);
  const auto u1 = prune(present(all, Stage::kAdvertiseKeys));
  if (u1.empty()) return {true, {}};
  const auto u2 = prune(present(u1, Stage::kShareKeys));
  if (u2.empty()) return {true, {}};
  const auto u3 = present(u2, Stage::kMaskedInputCollection);
  std::set<ClientId> dropped;
  for (ClientId u : u2) {
    if (!in(u3, u)) dropped.insert(u);
  }
  auto feasible = [&](const std::set<ClientId>& holders) {
    for (ClientId u : u3) {
      if ((in(holders, u) ? 1 : 0) + live_neighbours(u, holders) < t) return false;
    }
    for (ClientId d : dropped) {
      if (live_neighbours(d, holders) < t) return false;
    }
    return true;
  };
  if (u3.size() < t || !feasible(u3)) return {true, {}};
  // Connectivity of the survivors' graph.
  {
    std::set<ClientId> seen{*u3.begin()};
    std::deque<ClientId> q{*u3.begin()};
    while (!q.empty()) {
      const ClientId u = q.front();
      q.pop_front();
      for (ClientId v : u3) {
        if (!in(seen, v) && g.are_neighbours(u, v)) seen.insert(v), q.push_back(v);
      }
    }
    if (seen.size() != u3.size()) return {true, {}};
  }
  std::set<ClientId> holders = u3;
  if (c.consistency_check) {
    holders = present(u3, Stage::kConsistencyCheck);
    if (!feasible(holders)) return {true, {}};
  }
  if (!feasible(present(holders, Stage::kUnmasking))) return {true, {}};
  return {false, std::vector<ClientId>(u3.begin(), u3.end())};
}

// Records, over all unmasking responses, which kinds of shares each owner had revealed.
struct ShareKindRecorder {
  std::map<ClientId, std::set<int>> kinds;
  DriverHooks hooks() {
    DriverHooks h;
    h.on_upload = [this](ClientId, pb::ClientToServer& m) {
      if (!m.has_unmasking()) return;
      for (const auto& ks : m.unmasking().shares()) kinds[ks.owner_id()].insert(static_cast<int>(ks.share_case()));
    };
    return h;
  }
  bool never_both() const {
    return std::all_of(kinds.begin(), kinds.end(), [](const auto& kv) { return kv.second.size() <= 1; });
  }
};

// ---------------------------------------------------------------------------------------
// Thousands of seeded random rounds: n, m, graph, k, t, word size, consistency check and a
// dropout schedule hitting every stage. The outcome must match the model exactly.
TEST(SecAggProtocol, RandomizedRoundsRecoverExactSumOrAbortAsModelled) {
  crypto::DeterministicRandom rng(2024, "randomized rounds");
  int completed = 0, aborted = 0;
  const int kCases = 2500;
  for (int cs = 0; cs < kCases; ++cs) {
    const auto n = static_cast<std::uint32_t>(2 + rng.uniform_below(10));  // 2..11
    SecAggParameters p;
    if (n >= 4 && rng.uniform_below(2) == 0) {
      const auto k = static_cast<std::uint32_t>(2 + 2 * rng.uniform_below((n - 2) / 2));
      p = {GraphKind::kHarary, k, static_cast<std::uint32_t>(2 + rng.uniform_below(k))};
    } else {
      p = complete(n, static_cast<std::uint32_t>(2 + rng.uniform_below(n - 1)));
    }
    const std::uint64_t m = 1 + rng.uniform_below(24);
    const unsigned w = rng.uniform_below(2) ? 32 : 64;
    const bool check = rng.uniform_below(3) == 0;
    const auto cfg = make_config(n, m, p, w, check, 1000 + cs);
    DropoutSchedule s = DropoutSchedule::none(n);
    const std::uint64_t rate = rng.uniform_below(5);  // dropout probability rate/10
    for (ClientId u = 0; u < n; ++u) {
      if (rng.uniform_below(10) < rate) s.drop_before[u] = kStages[rng.uniform_below(5)];
    }
    const auto inputs = random_inputs(n, m, w, rng);
    ShareKindRecorder rec;
    const auto rep = run_secagg_round_encoded(cfg, inputs, s, 77 + cs, rec.hooks());
    const Expected e = model(rep.config, s, rep.graph);
    SCOPED_TRACE("case " + std::to_string(cs) + " n=" + std::to_string(n) + " k=" + std::to_string(p.degree) +
                 " t=" + std::to_string(p.threshold) + " check=" + std::to_string(check));
    EXPECT_TRUE(rep.offences.empty());
    EXPECT_TRUE(rec.never_both());
    if (e.aborted) {
      ++aborted;
      EXPECT_TRUE(std::holds_alternative<RoundAborted>(rep.outcome));
    } else {
      ++completed;
      const auto* r = std::get_if<RoundResult>(&rep.outcome);
      ASSERT_NE(r, nullptr) << std::get<RoundAborted>(rep.outcome).reason;
      EXPECT_EQ(r->survivors, e.survivors);
      EXPECT_EQ(r->sum, plain_sum(inputs, e.survivors, w));
    }
  }
  // The generator must exercise both outcomes substantially.
  EXPECT_GT(completed, kCases / 3);
  EXPECT_GT(aborted, kCases / 20);
}

// Decoded floats: the sum of the survivors' clipped values within n * step.
TEST(SecAggProtocol, RandomizedDecodedSumsWithinQuantizationBound) {
  crypto::DeterministicRandom rng(7, "decoded rounds");
  for (int cs = 0; cs < 200; ++cs) {
    const auto n = static_cast<std::uint32_t>(3 + rng.uniform_below(12));
    const std::size_t dim = 1 + rng.uniform_below(50);
    const double clip = 0.1 + static_cast<double>(rng.uniform_below(100)) / 10.0;
    const FixedPointCodec codec({.clip = clip, .bits = static_cast<unsigned>(4 + rng.uniform_below(20)),
                                 .max_contributors = n, .word_bits = 32});
    const auto p = choose_parameters(n, {0.0, 0.2});
    const auto cfg = make_config(n, dim, p, 32, false, 50000 + cs);
    std::vector<std::vector<float>> x(n, std::vector<float>(dim));
    for (auto& v : x) {
      for (auto& f : v) f = static_cast<float>((static_cast<double>(rng.uniform_below(1u << 20)) / (1u << 19) - 1.0) * clip * 1.5);
    }
    DropoutSchedule s = DropoutSchedule::none(n);
    if (n > 5) s.drop_before[rng.uniform_below(n)] = kStages[rng.uniform_below(5)];
    const auto out = run_secagg_round(cfg, codec, x, {}, s, cs);
    if (out.aborted) continue;  // covered by the model test; here only sums matter
    ASSERT_FALSE(out.survivors.empty());
    for (std::size_t i = 0; i < dim; ++i) {
      double truth = 0;
      for (ClientId u : out.survivors) truth += std::clamp(static_cast<double>(x[u][i]), -clip, clip);
      EXPECT_NEAR(out.sum[i], truth, codec.sum_error_bound(static_cast<std::uint32_t>(out.survivors.size())) + 1e-9);
    }
  }
}

TEST(SecAggProtocol, WeightedRoundDecodesWeightSum) {
  const std::uint32_t n = 6;
  const FixedPointCodec codec({.clip = 1.0, .bits = 16, .max_contributors = n, .word_bits = 32, .weight_clip = 50.0});
  const auto cfg = make_config(n, 3, complete(n, 4), 32, false, 5);
  std::vector<std::vector<float>> x(n, std::vector<float>{0.5f, -0.25f});
  const std::vector<double> wts = {1, 2, 3, 4, 5, 6};
  DropoutSchedule s = DropoutSchedule::none(n);
  s.drop_before[5] = Stage::kMaskedInputCollection;
  const auto out = run_secagg_round(cfg, codec, x, wts, s, 3);
  ASSERT_FALSE(out.aborted) << out.abort_reason;
  EXPECT_EQ(out.survivors, (std::vector<ClientId>{0, 1, 2, 3, 4}));
  ASSERT_TRUE(out.weight_sum.has_value());
  EXPECT_NEAR(*out.weight_sum, 15.0, 5 * 50.0 / 65535.0);
  EXPECT_NEAR(out.sum[0], 2.5, codec.sum_error_bound(5));
  EXPECT_NEAR(out.sum[1], -1.25, codec.sum_error_bound(5));
}

// ---------------------------------------------------------------------------------------
// Aborts below threshold, at every stage, with nothing returned.
TEST(SecAggProtocol, AbortsBelowThresholdWithoutOutput) {
  const std::uint32_t n = 8, t = 5;
  for (Stage st : kStages) {
    const auto cfg = make_config(n, 16, complete(n, t), 32, true, 99);
    DropoutSchedule s = DropoutSchedule::none(n);
    for (ClientId u = 0; u < 4; ++u) s.drop_before[u] = st;  // 4 survivors < t = 5
    crypto::DeterministicRandom rng(1, "in");
    const auto inputs = random_inputs(n, 16, 32, rng);
    const auto rep = run_secagg_round_encoded(cfg, inputs, s, 1);
    const auto* ab = std::get_if<RoundAborted>(&rep.outcome);
    ASSERT_NE(ab, nullptr) << stage_name(st);
    EXPECT_FALSE(ab->reason.empty());
    // The abort is detected at the stage whose deadline found too few clients.
    EXPECT_EQ(static_cast<int>(ab->stage), static_cast<int>(st)) << ab->reason;
    // Every client still online learned of the abort.
    for (ClientId u = 4; u < n; ++u) EXPECT_NE(rep.client_errors[u], "") << u;
  }
}

TEST(SecAggProtocol, ExactlyThresholdSurvivorsSucceed) {
  const std::uint32_t n = 8, t = 5;
  const auto cfg = make_config(n, 16, complete(n, t), 64, false, 98);
  DropoutSchedule s = DropoutSchedule::none(n);
  for (ClientId u = 0; u < 3; ++u) s.drop_before[u] = Stage::kMaskedInputCollection;
  crypto::DeterministicRandom rng(2, "in");
  const auto inputs = random_inputs(n, 16, 64, rng);
  const auto rep = run_secagg_round_encoded(cfg, inputs, s, 2);
  const auto* r = std::get_if<RoundResult>(&rep.outcome);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->survivors, (std::vector<ClientId>{3, 4, 5, 6, 7}));
  EXPECT_EQ(r->sum, plain_sum(inputs, r->survivors, 64));
}

TEST(SecAggProtocol, StreamingInputsAndLateSetInput) {
  Fixture f;
  int calls = 0;
  DriverOptions o;
  o.identities = f.keys;
  const auto rep = run_secagg_round_streaming(
      f.cfg, [&](ClientId u) { ++calls; return f.inputs[u]; }, DropoutSchedule::none(f.n), 3, {}, o);
  EXPECT_EQ(calls, static_cast<int>(f.n));
  f.expect_sum_of(rep, f.all_but({}));
  ClientStateMachine c(f.cfg, f.keys[0], ClientPolicy::unchecked(), std::make_unique<crypto::DeterministicRandom>(1, "late"));
  EXPECT_THROW(c.set_input(std::vector<std::uint64_t>(2)), ConfigError);
  c.set_input(f.inputs[0]);  // allowed before the masked-input stage
  (void)c.start();
  c.set_input(f.inputs[1]);  // still allowed: replaces the input
}

TEST(SecAggProtocol, ServerApiMisuse) {
  Fixture f;
  ServerStateMachine s(f.cfg);
  pb::ClientToServer m;
  EXPECT_EQ(s.receive(99, m).status, ReceiveStatus::kNotParticipating);
  EXPECT_THROW(s.outcome(), SecAggError);
  (void)s.close_stage();  // nobody advertised: abort
  ASSERT_TRUE(s.finished());
  EXPECT_TRUE(std::holds_alternative<RoundAborted>(s.outcome()));
  EXPECT_THROW(s.close_stage(), SecAggError);
  const auto unchecked = ClientPolicy::unchecked();
  EXPECT_THROW(ClientStateMachine(f.cfg, f.keys[0], std::vector<std::uint64_t>(3), unchecked), ConfigError);
  EXPECT_THROW(ClientStateMachine(f.cfg, f.keys[0], std::vector<std::uint64_t>(12, 1ull << 32), unchecked), ConfigError);
  // A device whose identity is not in the roster has no id in this round.
  EXPECT_THROW(ClientStateMachine(f.cfg, testing::sorted_identities(1, 5)[0], f.inputs[0], unchecked), ConfigError);
}

}  // namespace
}  // namespace fedlora::secagg

namespace fedlora::secagg {
namespace {
using namespace testing;
// SecAgg+ at a realistic size in the default run: n = 100 clients, m = 10^4 words, the
// Harary parameters the finder picks for 5% corrupt / 10% dropout, and dropouts before
// every stage (within the dropout budget, and beyond it). The result must be the plain sum
// of exactly the survivors the model predicts, or an abort where it predicts one.
TEST(SecAggProtocol, FinderParametersAtHundredClients) {
  const std::uint32_t n = 100;
  const std::uint64_t m = 10'000;
  const auto p = find_harary_parameters(n, ThreatModel{0.05, 0.10});
  ASSERT_EQ(p.graph, GraphKind::kHarary);
  ASSERT_LT(p.degree, n - 1);  // a sparse graph: this is SecAgg+, not SecAgg
  crypto::DeterministicRandom rng(100, "realistic rounds");
  int completed = 0;
  for (const int dropped : {0, 10, 30}) {
    const auto cfg = make_config(n, m, p, 32, false, 9000 + dropped);
    DropoutSchedule s = DropoutSchedule::none(n);
    for (int i = 0; i < dropped; ++i) {
      ClientId u;
      do u = static_cast<ClientId>(rng.uniform_below(n));
      while (s.drop_before[u]);
      s.drop_before[u] = kStages[i % 5];
    }
    const auto inputs = random_inputs(n, m, 32, rng);
    const auto rep = run_secagg_round_encoded(cfg, inputs, s, 4000 + dropped);
    const Expected e = model(rep.config, s, rep.graph);
    SCOPED_TRACE("k=" + std::to_string(p.degree) + " t=" + std::to_string(p.threshold) +
                 " dropped=" + std::to_string(dropped));
    EXPECT_TRUE(rep.offences.empty());
    if (e.aborted) {
      EXPECT_TRUE(std::holds_alternative<RoundAborted>(rep.outcome));
      continue;
    }
    const auto* r = std::get_if<RoundResult>(&rep.outcome);
    ASSERT_NE(r, nullptr) << std::get<RoundAborted>(rep.outcome).reason;
    EXPECT_EQ(r->survivors, e.survivors);
    EXPECT_EQ(r->sum, plain_sum(inputs, e.survivors, 32));
    ++completed;
  }
  EXPECT_GE(completed, 2);  // no dropouts and 10% dropouts are within the budget
}
}  // namespace
}  // namespace fedlora::secagg
