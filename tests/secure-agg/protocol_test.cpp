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

#include "secure-agg/driver.h"
#include "secure-agg/errors.h"
#include "secure-agg/graph.h"

namespace fedlora::secagg {
namespace {

constexpr Stage kStages[] = {Stage::kAdvertiseKeys, Stage::kShareKeys, Stage::kMaskedInputCollection,
                             Stage::kConsistencyCheck, Stage::kUnmasking};

RoundConfig make_config(std::uint32_t n, std::uint64_t m, SecAggParameters p, unsigned word_bits, bool check,
                        std::uint64_t session_seed, std::uint64_t round = 1) {
  RoundConfig c;
  crypto::DeterministicRandom rng(session_seed, "session");
  rng.fill(c.session_id);
  c.round = round;
  c.num_clients = n;
  c.vector_length = m;
  c.word_bits = word_bits;
  c.params = p;
  c.consistency_check = check;
  return c;
}

SecAggParameters complete(std::uint32_t n, std::uint32_t t) { return {GraphKind::kComplete, n - 1, t}; }

std::vector<std::vector<std::uint64_t>> random_inputs(std::uint32_t n, std::uint64_t m, unsigned w,
                                                      crypto::RandomSource& rng) {
  std::vector<std::vector<std::uint64_t>> in(n, std::vector<std::uint64_t>(m));
  const std::uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;
  for (auto& v : in) {
    for (auto& x : v) x = rng.next_u64() & mask;
  }
  return in;
}

std::vector<std::uint64_t> plain_sum(const std::vector<std::vector<std::uint64_t>>& in,
                                     const std::vector<ClientId>& who, unsigned w) {
  std::vector<std::uint64_t> s(in.empty() ? 0 : in[0].size(), 0);
  const std::uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;
  for (ClientId u : who) {
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = (s[i] + in[u][i]) & mask;
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Reference model of an honest round with a dropout schedule.
struct Expected {
  bool aborted = false;
  std::vector<ClientId> survivors;
};

Expected model(const RoundConfig& c, const DropoutSchedule& s) {
  const auto g = build_graph(c);
  const std::uint32_t n = c.num_clients, t = c.params.threshold;
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
    const Expected e = model(cfg, s);
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

// ---------------------------------------------------------------------------------------
// Misbehaviour: the offender is dropped, the round continues, nothing crashes.
struct Fixture {
  std::uint32_t n = 9;
  RoundConfig cfg;
  std::vector<std::vector<std::uint64_t>> inputs;
  explicit Fixture(bool check = false, std::uint64_t session = 500) {
    cfg = make_config(n, 12, complete(n, 4), 32, check, session);
    crypto::DeterministicRandom rng(session, "inputs");
    inputs = random_inputs(n, 12, 32, rng);
  }
  DriverReport run(const DriverHooks& h, DropoutSchedule s = {}) {
    if (s.drop_before.empty()) s = DropoutSchedule::none(n);
    return run_secagg_round_encoded(cfg, inputs, s, 4, h);
  }
  std::vector<ClientId> all_but(std::set<ClientId> out) const {
    std::vector<ClientId> v;
    for (ClientId u = 0; u < n; ++u) {
      if (!out.count(u)) v.push_back(u);
    }
    return v;
  }
  void expect_sum_of(const DriverReport& rep, const std::vector<ClientId>& who) const {
    const auto* r = std::get_if<RoundResult>(&rep.outcome);
    ASSERT_NE(r, nullptr) << std::get<RoundAborted>(rep.outcome).reason;
    EXPECT_EQ(r->survivors, who);
    EXPECT_EQ(r->sum, plain_sum(inputs, who, 32));
  }
  static bool offended(const DriverReport& rep, ClientId u) {
    return std::any_of(rep.offences.begin(), rep.offences.end(), [&](const Offence& o) { return o.client == u; });
  }
};

TEST(SecAggMisbehaviour, TamperedCiphertextDropsItsSender) {
  Fixture f;
  DriverHooks h;
  h.on_upload = [](ClientId u, pb::ClientToServer& m) {
    if (u == 3 && m.has_share_keys()) {
      auto* e = m.mutable_share_keys()->mutable_shares(2);
      (*e->mutable_ciphertext())[10] ^= 0x40;
    }
  };
  const auto rep = f.run(h);
  EXPECT_TRUE(Fixture::offended(rep, 3));
  f.expect_sum_of(rep, f.all_but({3}));
}

TEST(SecAggMisbehaviour, ShareAddressedToAnotherClientDropsItsSender) {
  Fixture f;
  DriverHooks h;
  // Client 2 swaps the bundles for two recipients while keeping the routing labels: each
  // recipient gets a ciphertext bound (AAD + key) to the other one.
  h.on_upload = [](ClientId u, pb::ClientToServer& m) {
    if (u == 2 && m.has_share_keys()) {
      auto* r = m.mutable_share_keys();
      std::swap(*r->mutable_shares(0)->mutable_ciphertext(), *r->mutable_shares(4)->mutable_ciphertext());
      std::swap(*r->mutable_shares(0)->mutable_nonce(), *r->mutable_shares(4)->mutable_nonce());
    }
  };
  const auto rep = f.run(h);
  EXPECT_TRUE(Fixture::offended(rep, 2));
  f.expect_sum_of(rep, f.all_but({2}));
}

TEST(SecAggMisbehaviour, BundleForNonNeighbourIsRejectedByTheServer) {
  Fixture f;
  f.cfg.params = {GraphKind::kHarary, 4, 3};
  DriverHooks h;
  const auto g = build_graph(f.cfg);
  ClientId stranger = 0;
  while (stranger == 1 || g.are_neighbours(1, stranger)) ++stranger;
  h.on_upload = [&](ClientId u, pb::ClientToServer& m) {
    if (u == 1 && m.has_share_keys()) m.mutable_share_keys()->mutable_shares(0)->set_peer_id(stranger);
  };
  const auto rep = f.run(h);
  ASSERT_TRUE(Fixture::offended(rep, 1));
  EXPECT_EQ(rep.offences[0].stage, Stage::kShareKeys);
  // Client 1 never shared keys, so it is in no one's masks: the others' sum is exact, or
  // the round aborts if a neighbourhood fell below t (never a wrong sum).
  if (const auto* r = std::get_if<RoundResult>(&rep.outcome)) {
    EXPECT_EQ(std::count(r->survivors.begin(), r->survivors.end(), 1u), 0);
    EXPECT_EQ(r->sum, plain_sum(f.inputs, r->survivors, 32));
  }
}

TEST(SecAggMisbehaviour, ReplayFromEarlierRoundDropsTheClient) {
  // Record client 5's ShareKeysResponse in round 1, then replay it in round 2.
  Fixture old(false, 600);
  pb::ClientToServer recorded;
  DriverHooks rec;
  rec.on_upload = [&](ClientId u, pb::ClientToServer& m) {
    if (u == 5 && m.has_share_keys()) recorded = m;
  };
  old.run(rec);
  ASSERT_TRUE(recorded.has_share_keys());

  Fixture f(false, 601);
  DriverHooks replay;
  replay.on_upload = [&](ClientId u, pb::ClientToServer& m) {
    if (u == 5 && m.has_share_keys()) m = recorded;
  };
  const auto rep = f.run(replay);
  EXPECT_TRUE(Fixture::offended(rep, 5));
  f.expect_sum_of(rep, f.all_but({5}));

  // Same, but the header is re-stamped for the new round: every ciphertext is bound to
  // the old session (key and AAD), so all of 5's neighbours report it. 5 is excluded; as
  // nobody holds a valid share of its mask key, its pairwise masks cannot be removed and
  // the round aborts cleanly rather than return anything.
  Fixture g(false, 601);
  DriverHooks restamp;
  restamp.on_upload = [&](ClientId u, pb::ClientToServer& m) {
    if (u == 5 && m.has_share_keys()) {
      pb::ClientToServer r = recorded;
      *r.mutable_header() = m.header();
      m = r;
    }
  };
  const auto rep2 = g.run(restamp);
  EXPECT_TRUE(Fixture::offended(rep2, 5));
  const auto* ab = std::get_if<RoundAborted>(&rep2.outcome);
  ASSERT_NE(ab, nullptr);
  EXPECT_NE(ab->reason.find("dropped client 5"), std::string::npos) << ab->reason;
}

TEST(SecAggMisbehaviour, ReplayFromEarlierStageIsIgnored) {
  Fixture f;
  pb::ClientToServer advert;
  std::vector<ReceiveResult> results;
  DriverHooks h;
  h.on_upload = [&](ClientId u, pb::ClientToServer& m) {
    if (u == 6 && m.has_advertise_keys()) advert = m;
  };
  h.before_close = [&](ServerStateMachine& s, Stage st) {
    if (st == Stage::kMaskedInputCollection) results.push_back(s.receive(6, advert));
  };
  const auto rep = f.run(h);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, ReceiveStatus::kStale);
  f.expect_sum_of(rep, f.all_but({}));
}

TEST(SecAggMisbehaviour, MessageForALaterStageDropsTheClient) {
  Fixture f;
  DriverHooks h;
  h.before_close = [&](ServerStateMachine& s, Stage st) {
    if (st != Stage::kShareKeys) return;
    pb::ClientToServer m;
    *m.mutable_header() = make_header(f.cfg, Stage::kUnmasking);
    m.mutable_unmasking();
    EXPECT_EQ(s.receive(7, m).status, ReceiveStatus::kClientDropped);
  };
  const auto rep = f.run(h);
  EXPECT_TRUE(Fixture::offended(rep, 7));
  f.expect_sum_of(rep, f.all_but({7}));
}

TEST(SecAggMisbehaviour, DuplicatedClientIdIsDropped) {
  for (Stage st : {Stage::kAdvertiseKeys, Stage::kShareKeys, Stage::kMaskedInputCollection}) {
    Fixture f;
    pb::ClientToServer first;
    DriverHooks h;
    h.on_upload = [&](ClientId u, pb::ClientToServer& m) {
      if (u == 4 && static_cast<int>(m.header().stage()) == static_cast<int>(st)) first = m;
    };
    std::vector<ReceiveStatus> seen;
    h.before_close = [&](ServerStateMachine& s, Stage cur) {
      if (cur != st) return;
      seen.push_back(s.receive(4, first).status);  // identical copy: a retransmission
      pb::ClientToServer other = first;           // a second device claiming id 4
      if (other.has_advertise_keys()) (*other.mutable_advertise_keys()->mutable_c_pk())[0] ^= 1;
      if (other.has_share_keys()) (*other.mutable_share_keys()->mutable_self_mask_commitment())[0] ^= 1;
      if (other.has_masked_input()) (*other.mutable_masked_input()->mutable_words())[0] ^= 1;
      seen.push_back(s.receive(4, other).status);
    };
    const auto rep = f.run(h);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], ReceiveStatus::kDuplicateIgnored) << stage_name(st);
    EXPECT_EQ(seen[1], ReceiveStatus::kClientDropped) << stage_name(st);
    EXPECT_TRUE(Fixture::offended(rep, 4));
    f.expect_sum_of(rep, f.all_but({4}));
  }
}

TEST(SecAggMisbehaviour, CopiedPublicKeyDropsBothHolders) {
  Fixture f;
  pb::ClientToServer victim;
  DriverHooks h;
  h.on_upload = [&](ClientId u, pb::ClientToServer& m) {
    if (u == 0 && m.has_advertise_keys()) victim = m;
    if (u == 1 && m.has_advertise_keys()) m.mutable_advertise_keys()->set_s_pk(victim.advertise_keys().s_pk());
  };
  const auto rep = f.run(h);
  EXPECT_TRUE(Fixture::offended(rep, 0));
  EXPECT_TRUE(Fixture::offended(rep, 1));
  f.expect_sum_of(rep, f.all_but({0, 1}));
}

TEST(SecAggMisbehaviour, ClientRefusesARequestForBothKindsOfShares) {
  Fixture f;
  DropoutSchedule s = DropoutSchedule::none(f.n);
  s.drop_before[8] = Stage::kMaskedInputCollection;  // 8 is legitimately dropped
  std::map<ClientId, bool> sent_shares;
  DriverHooks h;
  h.on_download = [](ClientId u, pb::ServerToClient& m) {
    // A dishonest server names survivor 2 as dropped too, to client 0 only.
    if (u == 0 && m.has_unmasking()) {
      auto* d = m.mutable_unmasking()->mutable_dropped();
      d->Add(2);
      std::sort(d->begin(), d->end());
    }
  };
  h.on_upload = [&](ClientId u, pb::ClientToServer& m) {
    if (m.has_unmasking()) sent_shares[u] = true;
    if (u == 0 && m.has_abort()) sent_shares[0] = false;
  };
  const auto rep = f.run(h, s);
  ASSERT_TRUE(sent_shares.count(0));
  EXPECT_FALSE(sent_shares[0]);  // client 0 answered with an Abort, revealing nothing
  EXPECT_NE(rep.client_errors[0].find("both"), std::string::npos) << rep.client_errors[0];
  // The other 7 holders still suffice (t = 4): the round completes without client 0's shares.
  f.expect_sum_of(rep, f.all_but({8}));
}

TEST(SecAggMisbehaviour, ServerRefusesSharesOfTheWrongKind) {
  Fixture f;
  DropoutSchedule s = DropoutSchedule::none(f.n);
  s.drop_before[8] = Stage::kMaskedInputCollection;
  DriverHooks h;
  // A malicious client 3 offers the mask-key share of survivor 2 instead of its seed share.
  h.on_upload = [](ClientId u, pb::ClientToServer& m) {
    if (u != 3 || !m.has_unmasking()) return;
    for (auto& ks : *m.mutable_unmasking()->mutable_shares()) {
      if (ks.owner_id() == 2) {
        const std::string b = ks.self_mask_seed_share();
        ks.set_mask_key_share(b);
      }
    }
  };
  const auto rep = f.run(h, s);
  EXPECT_TRUE(Fixture::offended(rep, 3));
  f.expect_sum_of(rep, f.all_but({8}));  // 3's input still counts: it was masked correctly
}

TEST(SecAggMisbehaviour, ConsistencyCheckCatchesAnEquivocatingServer) {
  Fixture f(true);
  DropoutSchedule s = DropoutSchedule::none(f.n);
  s.drop_before[8] = Stage::kMaskedInputCollection;
  DriverHooks h;
  // At unmasking the server shows client 1 a view in which 8 survived (different from
  // the view it confirmed in round 3).
  h.on_download = [](ClientId u, pb::ServerToClient& m) {
    if (u == 1 && m.has_unmasking()) {
      auto* r = m.mutable_unmasking();
      r->clear_dropped();
      r->mutable_survivors()->Add(8);
      std::sort(r->mutable_survivors()->begin(), r->mutable_survivors()->end());
    }
  };
  const auto rep = f.run(h, s);
  EXPECT_NE(rep.client_errors[1].find("differs"), std::string::npos) << rep.client_errors[1];
  f.expect_sum_of(rep, f.all_but({8}));
}

TEST(SecAggMisbehaviour, ConsistencyCheckNeedsTConfirmations) {
  Fixture f(true);
  DriverHooks h;
  // The server strips all confirmations sent to client 2: it must refuse to unmask.
  h.on_download = [](ClientId u, pb::ServerToClient& m) {
    if (u == 2 && m.has_unmasking()) m.mutable_unmasking()->clear_tags();
  };
  const auto rep = f.run(h);
  EXPECT_NE(rep.client_errors[2].find("confirmed"), std::string::npos) << rep.client_errors[2];
  f.expect_sum_of(rep, f.all_but({}));
}

TEST(SecAggMisbehaviour, ClientRejectsMessagesOfOtherStagesAndSessions) {
  Fixture f;
  ClientStateMachine c(f.cfg, 0, f.inputs[0], std::make_unique<crypto::DeterministicRandom>(1, "c"));
  pb::ServerToClient early;
  *early.mutable_header() = make_header(f.cfg, Stage::kShareKeys);
  early.mutable_share_keys();
  EXPECT_TRUE(c.handle(early).rejected.has_value());  // not started
  (void)c.start();
  pb::ServerToClient wrong_stage;
  *wrong_stage.mutable_header() = make_header(f.cfg, Stage::kUnmasking);
  wrong_stage.mutable_unmasking();
  auto step = c.handle(wrong_stage);
  EXPECT_TRUE(step.rejected.has_value());
  EXPECT_FALSE(step.reply.has_value());
  EXPECT_EQ(c.state_name(), "R1ShareKeys");
  pb::ServerToClient mismatched = early;  // header says ShareKeys, body says Unmasking
  mismatched.mutable_unmasking();
  EXPECT_TRUE(c.handle(mismatched).rejected.has_value());
  pb::ServerToClient other_session = early;
  other_session.mutable_header()->set_session_id(std::string(32, 'x'));
  EXPECT_TRUE(c.handle(other_session).rejected.has_value());
  pb::ServerToClient other_round = early;
  other_round.mutable_header()->set_round(f.cfg.round + 1);
  EXPECT_TRUE(c.handle(other_round).rejected.has_value());
  EXPECT_EQ(c.state_name(), "R1ShareKeys");
  // An empty neighbour list of the right stage breaks the threshold: the client aborts.
  step = c.handle(early);
  EXPECT_TRUE(c.aborted());
  ASSERT_TRUE(step.reply.has_value());
  EXPECT_TRUE(step.reply->has_abort());
}

// Random bit flips in serialized client and server messages. Nothing may throw out of the
// state machines, and a completed round needs >= t survivors. Where the protocol
// authenticates content (AEAD bundles, commitments, public-key checks, MACs, the server's
// own view), a completed round's sum must be exactly its survivors' sum. Flips in the
// advertised or relayed public keys and in masked words are not detectable without an
// authenticated channel (TLS) or signed keys, which Bonawitz et al.'s semi-honest model
// assumes; those are fuzzed for robustness only.
void fuzz_rounds(bool authenticated_only, int cases, std::uint64_t seed) {
  crypto::DeterministicRandom rng(seed, "fuzz");
  int completed = 0;
  // (direction, stage): up = client -> server.
  const std::vector<std::pair<bool, int>> checked = {{true, 2}, {true, 4}, {true, 5}, {false, 3}, {false, 4}, {false, 5}};
  const std::vector<std::pair<bool, int>> any = {{true, 1}, {true, 2}, {true, 3}, {true, 4}, {true, 5},
                                                 {false, 2}, {false, 3}, {false, 4}, {false, 5}};
  const auto& targets = authenticated_only ? checked : any;
  for (int cs = 0; cs < cases; ++cs) {
    Fixture f(cs % 2 == 0, seed * 1000 + cs);
    const std::uint64_t target_client = rng.uniform_below(f.n);
    const std::uint64_t flips = 1 + rng.uniform_below(4);
    const auto [up, target_stage] = targets[rng.uniform_below(targets.size())];
    auto mutate = [&](std::string bytes) {
      for (std::uint64_t i = 0; i < flips && !bytes.empty(); ++i) {
        bytes[rng.uniform_below(bytes.size())] ^= static_cast<char>(1u << rng.uniform_below(8));
      }
      return bytes;
    };
    DriverHooks h;
    if (up) {
      h.on_upload = [&](ClientId u, pb::ClientToServer& m) {
        if (u != target_client || static_cast<int>(m.header().stage()) != target_stage) return;
        pb::ClientToServer parsed;
        if (parsed.ParseFromString(mutate(m.SerializeAsString()))) m = parsed;
      };
    } else {
      h.on_download = [&](ClientId u, pb::ServerToClient& m) {
        if (u != target_client || static_cast<int>(m.header().stage()) != target_stage) return;
        pb::ServerToClient parsed;
        if (parsed.ParseFromString(mutate(m.SerializeAsString()))) m = parsed;
      };
    }
    DriverReport rep;
    ASSERT_NO_THROW(rep = f.run(h)) << "case " << cs;
    if (const auto* r = std::get_if<RoundResult>(&rep.outcome)) {
      ++completed;
      EXPECT_GE(r->survivors.size(), f.cfg.params.threshold);
      if (authenticated_only) {
        EXPECT_EQ(r->sum, plain_sum(f.inputs, r->survivors, 32))
            << "case " << cs << " up=" << up << " stage=" << target_stage;
      }
    }
  }
  EXPECT_GT(completed, cases / 3);
}

TEST(SecAggMisbehaviour, FuzzedAuthenticatedMessagesNeverCorruptTheSum) { fuzz_rounds(true, 150, 11); }

TEST(SecAggMisbehaviour, FuzzedMessagesNeverCrash) { fuzz_rounds(false, 100, 12); }

TEST(SecAggProtocol, StreamingInputsAndLateSetInput) {
  Fixture f;
  int calls = 0;
  const auto rep = run_secagg_round_streaming(
      f.cfg, [&](ClientId u) { ++calls; return f.inputs[u]; }, DropoutSchedule::none(f.n), 3);
  EXPECT_EQ(calls, static_cast<int>(f.n));
  f.expect_sum_of(rep, f.all_but({}));
  ClientStateMachine c(f.cfg, 0, std::make_unique<crypto::DeterministicRandom>(1, "late"));
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
  EXPECT_THROW(ClientStateMachine(f.cfg, 0, std::vector<std::uint64_t>(3)), ConfigError);
  EXPECT_THROW(ClientStateMachine(f.cfg, 0, std::vector<std::uint64_t>(12, 1ull << 32)), ConfigError);
  EXPECT_THROW(ClientStateMachine(f.cfg, 9, f.inputs[0]), ConfigError);
}

}  // namespace
}  // namespace fedlora::secagg
