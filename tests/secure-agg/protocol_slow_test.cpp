// Larger SecAgg+ rounds (label `slow`, not in the default run): cohorts of a few hundred
// with parameters from the finder, long vectors, dropouts at every stage, both word sizes
// and the consistency round. Truth: the plain modular sum of the survivors' inputs.
#include <gtest/gtest.h>

#include "secure-agg/driver.h"

namespace fedlora::secagg {
namespace {

void big_round(std::uint32_t n, std::uint64_t m, unsigned w, bool check, std::uint64_t seed) {
  RoundConfig cfg;
  crypto::DeterministicRandom rng(seed, "slow round");
  rng.fill(cfg.session_id);
  cfg.round = seed;
  cfg.num_clients = n;
  cfg.vector_length = m;
  cfg.word_bits = w;
  cfg.consistency_check = check;
  cfg.params = find_harary_parameters(n, {0.05, 0.2});
  // 4% of the clients drop before each of the five stages: 20% in total.
  DropoutSchedule s = DropoutSchedule::none(n);
  const Stage stages[] = {Stage::kAdvertiseKeys, Stage::kShareKeys, Stage::kMaskedInputCollection,
                          Stage::kConsistencyCheck, Stage::kUnmasking};
  for (ClientId u = 0; u < n; ++u) {
    if (rng.uniform_below(100) < 20) s.drop_before[u] = stages[rng.uniform_below(5)];
  }
  const std::uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;
  auto input = [&](ClientId u) {
    crypto::DeterministicRandom r(seed * 7919 + u, "slow input");
    std::vector<std::uint64_t> x(m);
    for (auto& v : x) v = r.next_u64() & mask;
    return x;
  };
  const auto rep = run_secagg_round_streaming(cfg, input, s, seed);
  const auto* res = std::get_if<RoundResult>(&rep.outcome);
  ASSERT_NE(res, nullptr) << std::get<RoundAborted>(rep.outcome).reason;
  EXPECT_TRUE(rep.offences.empty());
  std::vector<std::uint64_t> truth(m, 0);
  for (ClientId u : res->survivors) {
    const auto x = input(u);
    for (std::uint64_t i = 0; i < m; ++i) truth[i] = (truth[i] + x[i]) & mask;
  }
  EXPECT_EQ(res->sum, truth);
  EXPECT_GE(res->survivors.size(), n * 7 / 10);
}

TEST(SecAggSlow, Harary300Clients32Bit) { big_round(300, 20000, 32, false, 1); }
TEST(SecAggSlow, Harary300Clients64BitWithConsistencyCheck) { big_round(300, 20000, 64, true, 2); }
TEST(SecAggSlow, Harary120ClientsLongVector) { big_round(120, 300000, 32, false, 3); }

}  // namespace
}  // namespace fedlora::secagg
