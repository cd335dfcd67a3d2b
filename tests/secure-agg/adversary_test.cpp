// SecAgg against misbehaving clients and a malicious coordinator, through the in-process
// driver: tampering, replays, duplicates, equivocation, bad shares, fuzzed messages; and
// clients that defend themselves (ClientPolicy, signed round keys, a graph they
// recompute). Truth: the plain sum (mod 2^w) of the survivors' inputs, and which client
// sent what (recorded by the hooks).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "tests/secure-agg/protocol_support.h"

namespace fedlora::secagg {
namespace {

using namespace testing;


// A tampered bundle is reported by its recipient. Its sender's masked input already
// counts (the streaming server added it on arrival), so the sender stays a survivor:
// its self-mask seed is rebuilt from the holders that did not report it, and the
// reporter sends no share of it.
TEST(SecAggMisbehaviour, TamperedCiphertextIsReportedAndItsSenderStays) {
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
  f.expect_sum_of(rep, f.all_but({}));
  // If 3 also drops before sending its input, its mask key is rebuilt instead.
  DropoutSchedule s = DropoutSchedule::none(f.n);
  s.drop_before[3] = Stage::kMaskedInputCollection;
  const auto rep2 = f.run(h, s);
  EXPECT_TRUE(Fixture::offended(rep2, 3));
  f.expect_sum_of(rep2, f.all_but({3}));
}

TEST(SecAggMisbehaviour, ShareAddressedToAnotherClientIsReported) {
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
  f.expect_sum_of(rep, f.all_but({}));  // 2's input counts; its seed comes from the 6 other holders
}

TEST(SecAggMisbehaviour, BundleForNonNeighbourIsRejectedByTheServer) {
  Fixture f;
  f.cfg.params = {GraphKind::kHarary, 4, 3};
  DriverHooks h;
  // Client 1's neighbours are the ones its ShareKeysRequest lists (everyone advertised).
  std::set<ClientId> neighbours_of_1;
  h.on_download = [&](ClientId u, pb::ServerToClient& m) {
    if (u == 1 && m.has_share_keys()) {
      for (const auto& nb : m.share_keys().neighbours()) neighbours_of_1.insert(nb.client_id());
    }
  };
  h.on_upload = [&](ClientId u, pb::ClientToServer& m) {
    if (u != 1 || !m.has_share_keys()) return;
    ASSERT_EQ(neighbours_of_1.size(), 4u);
    ClientId stranger = 0;
    while (stranger == 1 || neighbours_of_1.count(stranger)) ++stranger;
    m.mutable_share_keys()->mutable_shares(0)->set_peer_id(stranger);
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
  // the old session (key and AAD), so all of 5's neighbours report it. 5's masked input
  // already counts, but nobody except 5 holds a share of its self-mask seed, so it cannot
  // be removed and the round aborts cleanly rather than return anything.
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
  EXPECT_NE(ab->reason.find("survivor 5"), std::string::npos) << ab->reason;
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
    EXPECT_TRUE(Fixture::offended(rep, 4));
    if (st == Stage::kMaskedInputCollection) {
      // The streaming server already added 4's first input: it stays, the second is ignored.
      EXPECT_EQ(seen[1], ReceiveStatus::kConflictIgnored);
      f.expect_sum_of(rep, f.all_but({}));
    } else {
      EXPECT_EQ(seen[1], ReceiveStatus::kClientDropped) << stage_name(st);
      f.expect_sum_of(rep, f.all_but({4}));
    }
  }
}

// A corrupt client 1 copies honest client 0's mask key and signs it as its own (its
// signature is valid). Both holders are dropped, also when the copy differs only in bit
// 255, which X25519 ignores (RFC 7748 §5): the keys are compared in canonical form.
TEST(SecAggMisbehaviour, CopiedPublicKeyDropsBothHolders) {
  for (bool flip_top_bit : {false, true}) {
    Fixture f;
    pb::ClientToServer victim;
    DriverHooks h;
    h.on_upload = [&](ClientId u, pb::ClientToServer& m) {
      if (u == 0 && m.has_advertise_keys()) victim = m;
      if (u == 1 && m.has_advertise_keys()) {
        std::string s = victim.advertise_keys().s_pk();
        if (flip_top_bit) s[31] = static_cast<char>(s[31] ^ 0x80);
        auto* ak = m.mutable_advertise_keys();
        ak->set_s_pk(s);
        ak->set_signature(f.sign_as(1, ak->c_pk(), s));
      }
    };
    const auto rep = f.run(h);
    EXPECT_TRUE(Fixture::offended(rep, 0)) << flip_top_bit;
    EXPECT_TRUE(Fixture::offended(rep, 1)) << flip_top_bit;
    f.expect_sum_of(rep, f.all_but({0, 1}));
  }
}

// The client side of the same check: a server relays to client 0 two neighbours whose
// mask keys differ only in bit 255 (the second re-signed by its corrupt owner).
TEST(SecAggMisbehaviour, ClientDetectsKeysDifferingOnlyInTheTopBit) {
  Fixture f;
  DriverHooks h;
  h.on_download = [&](ClientId u, pb::ServerToClient& m) {
    if (u != 0 || !m.has_share_keys()) return;
    auto* nbs = m.mutable_share_keys()->mutable_neighbours();
    ASSERT_GE(nbs->size(), 2);
    std::string s = nbs->Get(0).s_pk();
    s[31] = static_cast<char>(s[31] ^ 0x80);
    auto* second = nbs->Mutable(1);
    second->set_s_pk(s);
    second->set_signature(f.sign_as(second->client_id(), second->c_pk(), s));
  };
  const auto rep = f.run(h);
  EXPECT_NE(rep.client_errors[0].find("repeats a public key"), std::string::npos) << rep.client_errors[0];
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
  ClientStateMachine c(f.cfg, f.keys[0], f.inputs[0], ClientPolicy::unchecked(),
                       std::make_unique<crypto::DeterministicRandom>(1, "c"));
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
  // An empty neighbour list of the right stage isolates the client: it aborts.
  step = c.handle(early);
  EXPECT_TRUE(c.aborted());
  EXPECT_NE(c.abort_reason().find("isolation"), std::string::npos) << c.abort_reason();
  ASSERT_TRUE(step.reply.has_value());
  EXPECT_TRUE(step.reply->has_abort());
}

// Random bit flips in serialized client and server messages. Nothing may throw out of the
// state machines, and a completed round needs >= t survivors. Where the protocol
// authenticates content (signed round keys, AEAD bundles, commitments, MACs, the
// server's own view), a completed round's sum must be exactly its survivors' sum. Flips
// in masked words are not detectable without an authenticated channel (TLS); those are
// fuzzed for robustness only.
void fuzz_rounds(bool authenticated_only, int cases, std::uint64_t seed) {
  crypto::DeterministicRandom rng(seed, "fuzz");
  int completed = 0;
  // (direction, stage): up = client -> server.
  const std::vector<std::pair<bool, int>> checked = {{true, 1},  {true, 2},  {true, 4},  {true, 5},
                                                     {false, 2}, {false, 3}, {false, 4}, {false, 5}};
  const std::vector<std::pair<bool, int>> any = {{true, 1}, {true, 2}, {true, 3}, {true, 4}, {true, 5},
                                                 {false, 2}, {false, 3}, {false, 4}, {false, 5}};
  const auto& targets = authenticated_only ? checked : any;
  for (int cs = 0; cs < cases; ++cs) {
    Fixture f(cs % 2 == 0, seed * 1000 + cs);
    const std::uint64_t target_client = rng.uniform_below(f.n);
    const std::uint64_t flips = 1 + rng.uniform_below(4);
    // Plain copies: clang 14 cannot capture structured bindings in the lambdas below.
    const auto target = targets[rng.uniform_below(targets.size())];
    const bool up = target.first;
    const int target_stage = target.second;
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

// ---------------------------------------------------------------------------------------
// A malicious coordinator against clients that defend themselves (ClientPolicy, signed
// keys, verifiable graph). Cohort of n = 100 at the parameters the finder picks for the
// default policy's threat model (5% corrupt, 30% dropout): Harary k = 26, t = 6.
struct Cohort {
  std::uint32_t n;
  RoundConfig cfg;
  std::vector<crypto::Ed25519PrivateKey> keys;
  std::vector<std::vector<std::uint64_t>> inputs;
  Cohort(std::uint32_t n_, std::uint64_t m, unsigned work, bool check = false,
         std::optional<SecAggParameters> p = std::nullopt, std::uint64_t session = 9100, std::uint64_t round = 1)
      : n(n_), keys(testing::sorted_identities(n_, 777)) {
    cfg = make_config(n, m, p.value_or(find_harary_parameters(n, ClientPolicy().threat)), 32, check, session, round);
    cfg.roster = testing::roster_of(keys);
    cfg.graph_seed_work = work;
    crypto::DeterministicRandom rng(session, "cohort inputs");
    inputs = random_inputs(n, m, 32, rng);
  }
  DriverReport run(const DriverHooks& h, const ClientPolicy& policy, DropoutSchedule s = {}) const {
    if (s.drop_before.empty()) s = DropoutSchedule::none(n);
    DriverOptions o;
    o.identities = keys;
    o.policy = policy;
    return run_secagg_round_encoded(cfg, inputs, s, 5, h, o);
  }
  void expect_exact(const DriverReport& rep) const {
    const auto* r = std::get_if<RoundResult>(&rep.outcome);
    ASSERT_NE(r, nullptr) << std::get<RoundAborted>(rep.outcome).reason;
    EXPECT_EQ(r->sum, plain_sum(inputs, r->survivors, 32));
  }
};

// The default policy's threat checks with a cheap graph seed, so that these tests stay
// fast; RealisticCohortAtFinderParameters runs the full default policy.
ClientPolicy policy_without_seed_work() {
  ClientPolicy p;
  p.min_graph_seed_work = 0;
  return p;
}

// Which stages' messages each client uploaded.
struct UploadLog {
  std::map<ClientId, std::set<int>> stages;
  void record(ClientId u, const pb::ClientToServer& m) {
    if (!m.has_abort()) stages[u].insert(static_cast<int>(m.header().stage()));
  }
  bool sent(ClientId u, Stage s) const {
    const auto it = stages.find(u);
    return it != stages.end() && it->second.count(static_cast<int>(s)) != 0;
  }
};

TEST(SecAggPolicy, DefaultClientRefusesThresholdTwoForALargeCohort) {
  // n = 1000, k = 66: the finder's t is 23; a server asking for t = 2 is refused before
  // any key exists.
  const Cohort big(1000, 8, kDefaultGraphSeedWork, false, SecAggParameters{GraphKind::kHarary, 66, 2});
  try {
    ClientStateMachine c(big.cfg, big.keys[0]);
    ADD_FAILURE() << "a default client accepted t = 2 for n = 1000";
  } catch (const PolicyError& e) {
    EXPECT_NE(std::string(e.what()).find("smallest secure t = 23"), std::string::npos) << e.what();
  }
  // Through a whole round at n = 100: every client refuses, nothing is uploaded, the
  // round aborts at AdvertiseKeys.
  const Cohort c(100, 8, 0, false, SecAggParameters{GraphKind::kHarary, 26, 2});
  const auto rep = c.run({}, policy_without_seed_work());
  const auto* ab = std::get_if<RoundAborted>(&rep.outcome);
  ASSERT_NE(ab, nullptr);
  EXPECT_EQ(ab->stage, Stage::kAdvertiseKeys);
  for (ClientId u = 0; u < c.n; ++u) {
    EXPECT_EQ(rep.bytes_up[u], 0u);
    EXPECT_NE(rep.client_errors[u].find("secagg policy"), std::string::npos) << rep.client_errors[u];
  }
}

TEST(SecAggPolicy, ConsistencyRoundWithSemiHonestThresholdsIsRefused) {
  const Cohort c(100, 8, 0, /*check=*/true);  // (26, 6): the semi-honest choice
  const auto rep = c.run({}, policy_without_seed_work());
  ASSERT_TRUE(std::holds_alternative<RoundAborted>(rep.outcome));
  for (ClientId u = 0; u < c.n; ++u) {
    EXPECT_EQ(rep.bytes_up[u], 0u);
    EXPECT_NE(rep.client_errors[u].find("semi-malicious"), std::string::npos) << rep.client_errors[u];
  }
  // With the parameters planned for the consistency round the same clients take part.
  const auto sm = plan_parameters(100, {ClientPolicy().threat, GraphChoice::kAuto, 0, 0, true});
  const Cohort ok(100, 8, 0, true, sm);
  const auto rep2 = ok.run({}, policy_without_seed_work());
  ok.expect_exact(rep2);
}

// The server keeps only 6 of client 0's 26 neighbours (enough for t = 6 holders, so the
// old rule "t - 1 live neighbours" let the client go on and hand shares to whoever the
// server kept). The policy needs k - floor(0.3 k) = 19: the client refuses before its
// secrets or input leave the device.
TEST(SecAggPolicy, IsolatedClientRefusesAtEveryStage) {
  const Cohort c(100, 16, 0);
  const ClientPolicy policy = policy_without_seed_work();
  {  // ShareKeys: neighbours' keys withheld.
    UploadLog log;
    DriverHooks h;
    h.on_download = [](ClientId u, pb::ServerToClient& m) {
      if (u == 0 && m.has_share_keys()) {
        auto* nb = m.mutable_share_keys()->mutable_neighbours();
        nb->DeleteSubrange(6, nb->size() - 6);
      }
    };
    h.on_upload = [&](ClientId u, pb::ClientToServer& m) { log.record(u, m); };
    const auto rep = c.run(h, policy);
    EXPECT_NE(rep.client_errors[0].find("isolation"), std::string::npos) << rep.client_errors[0];
    EXPECT_FALSE(log.sent(0, Stage::kShareKeys));
    c.expect_exact(rep);
  }
  {  // MaskedInputCollection: bundles withheld.
    UploadLog log;
    DriverHooks h;
    h.on_download = [](ClientId u, pb::ServerToClient& m) {
      if (u == 0 && m.has_masked_input()) {
        auto* sh = m.mutable_masked_input()->mutable_shares();
        sh->DeleteSubrange(6, sh->size() - 6);
      }
    };
    h.on_upload = [&](ClientId u, pb::ClientToServer& m) { log.record(u, m); };
    const auto rep = c.run(h, policy);
    EXPECT_NE(rep.client_errors[0].find("isolation"), std::string::npos) << rep.client_errors[0];
    EXPECT_TRUE(log.sent(0, Stage::kShareKeys));
    EXPECT_FALSE(log.sent(0, Stage::kMaskedInputCollection));
  }
  {  // Unmasking: the server claims 20 of 0's neighbours dropped after sending their
     // inputs, to collect their mask keys from client 0 and strip 0's pairwise masks.
    UploadLog log;
    std::vector<ClientId> neighbours;
    DriverHooks h;
    h.on_download = [&](ClientId u, pb::ServerToClient& m) {
      if (u != 0) return;
      if (m.has_share_keys()) {
        for (const auto& nb : m.share_keys().neighbours()) neighbours.push_back(nb.client_id());
      }
      if (m.has_unmasking()) {
        std::set<ClientId> surv(m.unmasking().survivors().begin(), m.unmasking().survivors().end());
        std::set<ClientId> drop(m.unmasking().dropped().begin(), m.unmasking().dropped().end());
        for (std::size_t i = 0; i < 20; ++i) {
          surv.erase(neighbours[i]);
          drop.insert(neighbours[i]);
        }
        auto* r = m.mutable_unmasking();
        r->clear_survivors();
        r->clear_dropped();
        for (ClientId v : surv) r->add_survivors(v);
        for (ClientId v : drop) r->add_dropped(v);
      }
    };
    h.on_upload = [&](ClientId u, pb::ClientToServer& m) { log.record(u, m); };
    const auto rep = c.run(h, policy);
    ASSERT_EQ(neighbours.size(), 26u);
    EXPECT_NE(rep.client_errors[0].find("isolation"), std::string::npos) << rep.client_errors[0];
    EXPECT_TRUE(log.sent(0, Stage::kMaskedInputCollection));
    EXPECT_FALSE(log.sent(0, Stage::kUnmasking));  // no share of anyone left client 0
    c.expect_exact(rep);
  }
}

// Round keys carry the device's Ed25519 signature over (config digest, id, c_pk, s_pk):
// a server cannot alter relayed keys, invent them, or replay a device's keys (whose
// private halves it may have learned) from another session or round.
TEST(SecAggSignatures, AlteredUnsignedOrReplayedKeysAreRefused) {
  // Record client 3's signed keys in session A, round 1.
  const Fixture a(false, 700, 1);
  pb::ClientToServer recorded;
  DriverHooks rec;
  rec.on_upload = [&](ClientId u, pb::ClientToServer& m) {
    if (u == 3 && m.has_advertise_keys()) recorded = m;
  };
  Fixture(a).run(rec);
  ASSERT_TRUE(recorded.has_advertise_keys());

  auto substitute = [&](std::function<void(pb::PeerKeys&)> edit) {
    DriverHooks h;
    h.on_download = [edit](ClientId u, pb::ServerToClient& m) {
      if (u == 3 || !m.has_share_keys()) return;
      for (auto& nb : *m.mutable_share_keys()->mutable_neighbours()) {
        if (nb.client_id() == 3) edit(nb);
      }
    };
    return h;
  };
  auto replay = [&](pb::PeerKeys& nb) {
    nb.set_c_pk(recorded.advertise_keys().c_pk());
    nb.set_s_pk(recorded.advertise_keys().s_pk());
    nb.set_signature(recorded.advertise_keys().signature());
  };
  const std::vector<std::pair<std::string, std::function<void(pb::PeerKeys&)>>> attacks = {
      {"altered key", [](pb::PeerKeys& nb) { (*nb.mutable_c_pk())[7] ^= 1; }},
      {"unsigned keys", [](pb::PeerKeys& nb) { nb.clear_signature(); }},
      {"replay from another session", replay},
  };
  for (const auto& [what, edit] : attacks) {
    Fixture b(false, 701, 1);
    const auto rep = b.run(substitute(edit));
    for (ClientId u = 0; u < b.n; ++u) {
      if (u == 3) continue;
      EXPECT_TRUE(rep.client_errors[u].find("signature") != std::string::npos ||
                  rep.client_errors[u].find("bytes, expected 64") != std::string::npos)
          << what << ": client " << u << ": " << rep.client_errors[u];
    }
  }
  // Same session id, next round: the signature covers the round as well.
  Fixture next_round(false, 700, 2);
  const auto rep = next_round.run(substitute(replay));
  for (ClientId u : {0u, 1u, 2u, 4u}) {
    EXPECT_NE(rep.client_errors[u].find("signature"), std::string::npos) << rep.client_errors[u];
  }
  // The server side: an advertisement under a wrong identity is dropped.
  Fixture c(false, 702, 1);
  DriverHooks forged;
  forged.on_upload = [&](ClientId u, pb::ClientToServer& m) {
    if (u == 6 && m.has_advertise_keys()) {
      m.mutable_advertise_keys()->set_signature(c.sign_as(5, m.advertise_keys().c_pk(), m.advertise_keys().s_pk()));
    }
  };
  const auto rep2 = c.run(forged);
  EXPECT_TRUE(Fixture::offended(rep2, 6));
  c.expect_sum_of(rep2, c.all_but({6}));
}

// With an enrolment authority configured, a client accepts only neighbours whose
// identity key the authority signed; a server-made sybil in the roster is refused.
TEST(SecAggSignatures, EnrolmentAuthorityRejectsUnenrolledNeighbours) {
  crypto::DeterministicRandom arng(1, "authority");
  const auto authority = crypto::Ed25519PrivateKey::generate(arng);
  ClientPolicy policy = ClientPolicy::unchecked();
  policy.enrolment_authority = authority.public_key();
  Fixture f;
  for (auto& e : f.cfg.roster) e.enrolment = sign_enrolment(authority, e.identity);
  EXPECT_TRUE(verify_enrolment(authority.public_key(), f.cfg.roster[0].identity, *f.cfg.roster[0].enrolment));
  f.expect_sum_of(f.run({}, {}, policy), f.all_but({}));
  // Device 4 is a sybil: the server put it in the roster without an enrolment (or with a
  // signature of its own authority).
  Fixture g;
  for (auto& e : g.cfg.roster) e.enrolment = sign_enrolment(authority, e.identity);
  crypto::DeterministicRandom frng(2, "fake authority");
  g.cfg.roster[4].enrolment = sign_enrolment(crypto::Ed25519PrivateKey::generate(frng), g.cfg.roster[4].identity);
  const auto rep = g.run({}, {}, policy);
  for (ClientId u = 0; u < g.n; ++u) {
    if (u == 4) continue;
    EXPECT_NE(rep.client_errors[u].find("enrolment"), std::string::npos) << rep.client_errors[u];
  }
}

// Clients recompute the Harary graph from the advertised-keys list their ShareKeysRequest
// carries: the list must hold their own keys, and the neighbours the server lists must
// be their neighbours in that graph.
TEST(SecAggSignatures, ClientsVerifyTheGraph) {
  const Cohort c(100, 8, 0);
  const ClientPolicy policy = policy_without_seed_work();
  auto run_with = [&](std::function<void(pb::ShareKeysRequest&)> edit) {
    DriverHooks h;
    h.on_download = [edit](ClientId u, pb::ServerToClient& m) {
      if (u == 0 && m.has_share_keys()) edit(*m.mutable_share_keys());
    };
    return c.run(h, policy);
  };
  // A server that leaves client 0's own entry out (the graph would not depend on its keys).
  auto rep = run_with([](pb::ShareKeysRequest& r) {
    r.mutable_advertised_ids()->erase(r.mutable_advertised_ids()->begin());
    r.set_advertised_digests(r.advertised_digests().substr(32));
  });
  EXPECT_NE(rep.client_errors[0].find("omits or alters this client's keys"), std::string::npos) << rep.client_errors[0];
  // A server that shows client 0 a graph from another seed (one other entry changed): the
  // neighbours it lists are not 0's neighbours in the graph 0 computes.
  rep = run_with([](pb::ShareKeysRequest& r) {
    std::string d = r.advertised_digests();
    d[32 * 50] = static_cast<char>(d[32 * 50] ^ 1);
    r.set_advertised_digests(d);
  });
  EXPECT_TRUE(rep.client_errors[0].find("not a neighbour") != std::string::npos ||
              rep.client_errors[0].find("graph seed commits") != std::string::npos)
      << rep.client_errors[0];
  // Untouched, client 0 takes part and the sum is exact.
  rep = run_with([](pb::ShareKeysRequest&) {});
  EXPECT_EQ(rep.client_errors[0], "");
  c.expect_exact(rep);
}

// One holder sends a wrong (well-formed) share of survivor 2's seed, another a malformed
// share of dropped client 8's mask key. Both shares are dropped, the holders recorded,
// and the round completes with the exact sum: t = 4 good shares remain of each.
TEST(SecAggMisbehaviour, OneBadShareDoesNotAbortTheRound) {
  Fixture f;
  DropoutSchedule s = DropoutSchedule::none(f.n);
  s.drop_before[8] = Stage::kMaskedInputCollection;
  DriverHooks h;
  h.on_upload = [](ClientId u, pb::ClientToServer& m) {
    if (!m.has_unmasking()) return;
    for (auto& ks : *m.mutable_unmasking()->mutable_shares()) {
      if (u == 3 && ks.owner_id() == 2) {
        // x = 4 is among the first t = 4 holders by x: the plain first-t rebuild would fail.
        std::string b = ks.self_mask_seed_share();
        std::uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<std::uint8_t>(b[static_cast<std::size_t>(i)]);
        v = (v + 1) % kShamirPrime;
        for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
        ks.set_self_mask_seed_share(b);
      }
      if (u == 1 && ks.owner_id() == 8) ks.set_mask_key_share(ks.mask_key_share().substr(1));
    }
  };
  const auto rep = f.run(h, s);
  f.expect_sum_of(rep, f.all_but({8}));
  auto has = [&](ClientId u, const char* what) {
    return std::any_of(rep.offences.begin(), rep.offences.end(), [&](const Offence& o) {
      return o.client == u && o.stage == Stage::kUnmasking && o.reason.find(what) != std::string::npos;
    });
  };
  EXPECT_TRUE(has(3, "disagrees"));
  EXPECT_TRUE(has(1, "malformed"));
  EXPECT_EQ(rep.offences.size(), 2u);
}

// The server folds each masked input into the running sum on arrival: at the
// MaskedInputCollection deadline, after all nine inputs were accepted, it holds less
// than one input's bytes, and the same bytes whatever m is.
TEST(SecAggStreaming, ServerHoldsNoMaskedInputAfterAccepting) {
  std::vector<std::size_t> held;
  for (std::uint64_t m : {16ull, 4096ull}) {
    Fixture f;
    f.cfg.vector_length = m;
    crypto::DeterministicRandom rng(m, "streaming inputs");
    f.inputs = random_inputs(f.n, m, 32, rng);
    std::size_t at_deadline = 0;
    DriverHooks h;
    h.before_close = [&](ServerStateMachine& s, Stage st) {
      if (st == Stage::kMaskedInputCollection) at_deadline = s.buffered_bytes();
    };
    const auto rep = f.run(h);
    f.expect_sum_of(rep, f.all_but({}));
    held.push_back(at_deadline);
  }
  EXPECT_EQ(held[0], held[1]);    // independent of m
  EXPECT_LT(held[1], 4096u * 4);  // less than one masked input of m = 4096 words
}

// Default-run SecAgg+ at a realistic size: n = 100, m = 10^4, the finder's (k, t) for
// the default policy's threat model, the full default ClientPolicy (threat checks,
// isolation bound, scrypt-hardened graph seed), dropouts before three stages.
TEST(SecAggProtocol, RealisticCohortAtFinderParameters) {
  const Cohort c(100, 10000, kDefaultGraphSeedWork);
  ASSERT_EQ(c.cfg.params.degree, 26u);
  ASSERT_EQ(c.cfg.params.threshold, 6u);
  DropoutSchedule s = DropoutSchedule::none(c.n);
  s.drop_before[10] = Stage::kShareKeys;
  s.drop_before[20] = Stage::kMaskedInputCollection;
  s.drop_before[40] = Stage::kUnmasking;
  s.drop_before[50] = Stage::kAdvertiseKeys;
  const auto rep2 = c.run({}, ClientPolicy(), s);
  const auto* r = std::get_if<RoundResult>(&rep2.outcome);
  ASSERT_NE(r, nullptr) << std::get<RoundAborted>(rep2.outcome).reason;
  std::vector<ClientId> expected;
  for (ClientId u = 0; u < c.n; ++u) {
    if (u != 10 && u != 20 && u != 50) expected.push_back(u);  // 40's input was in before it left
  }
  EXPECT_EQ(r->survivors, expected);
  EXPECT_EQ(r->sum, plain_sum(c.inputs, expected, 32));
  EXPECT_TRUE(rep2.offences.empty());
  for (ClientId u : expected) EXPECT_EQ(rep2.client_errors[u], "") << u;
}

}  // namespace
}  // namespace fedlora::secagg
