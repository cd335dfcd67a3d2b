#pragma once
// Shared helpers of the SecAgg protocol suites: configurations, inputs, the plain sum
// (the truth every round is compared with), and a nine-client fixture with fixed
// long-term identities.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "secure-agg/driver.h"
#include "secure-agg/errors.h"
#include "secure-agg/graph.h"
#include "secure-agg/identity.h"
#include "secure-agg/wire.h"
#include "tests/secure-agg/test_identities.h"

namespace fedlora::secagg::testing {

inline constexpr Stage kStages[] = {Stage::kAdvertiseKeys, Stage::kShareKeys, Stage::kMaskedInputCollection,
                             Stage::kConsistencyCheck, Stage::kUnmasking};

inline RoundConfig make_config(std::uint32_t n, std::uint64_t m, SecAggParameters p, unsigned word_bits, bool check,
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

inline SecAggParameters complete(std::uint32_t n, std::uint32_t t) { return {GraphKind::kComplete, n - 1, t}; }

inline std::vector<std::vector<std::uint64_t>> random_inputs(std::uint32_t n, std::uint64_t m, unsigned w,
                                                      crypto::RandomSource& rng) {
  std::vector<std::vector<std::uint64_t>> in(n, std::vector<std::uint64_t>(m));
  const std::uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;
  for (auto& v : in) {
    for (auto& x : v) x = rng.next_u64() & mask;
  }
  return in;
}

inline std::vector<std::uint64_t> plain_sum(const std::vector<std::vector<std::uint64_t>>& in,
                                     const std::vector<ClientId>& who, unsigned w) {
  std::vector<std::uint64_t> s(in.empty() ? 0 : in[0].size(), 0);
  const std::uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;
  for (ClientId u : who) {
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = (s[i] + in[u][i]) & mask;
  }
  return s;
}

// Device identities are long-term: the same nine keys in every fixture (rounds differ
// in session id and round number).
struct Fixture {
  std::uint32_t n = 9;
  RoundConfig cfg;
  std::vector<crypto::Ed25519PrivateKey> keys = sorted_identities(9, 4242);
  std::vector<std::vector<std::uint64_t>> inputs;
  explicit Fixture(bool check = false, std::uint64_t session = 500, std::uint64_t round = 1) {
    cfg = make_config(n, 12, complete(n, 4), 32, check, session, round);
    cfg.roster = roster_of(keys);
    crypto::DeterministicRandom rng(session, "inputs");
    inputs = random_inputs(n, 12, 32, rng);
  }
  DriverReport run(const DriverHooks& h, DropoutSchedule s = {}, std::optional<ClientPolicy> policy = std::nullopt) {
    if (s.drop_before.empty()) s = DropoutSchedule::none(n);
    DriverOptions o;
    o.identities = keys;
    o.policy = policy;
    return run_secagg_round_encoded(cfg, inputs, s, 4, h, o);
  }
  // What a corrupt client u (colluding with the server) can sign: any keys, for this round.
  std::string sign_as(ClientId u, const std::string& c_pk, const std::string& s_pk) const {
    crypto::X25519PublicKey c{}, s{};
    std::copy(c_pk.begin(), c_pk.end(), c.begin());
    std::copy(s_pk.begin(), s_pk.end(), s.begin());
    const auto sig = sign_round_keys(keys[u], cfg.digest(), u, c, s);
    return std::string(sig.begin(), sig.end());
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

}  // namespace fedlora::secagg::testing
