// Round planning (plan_parameters) and the client-side policy (ClientPolicy::check):
// parameters from the finders, explicit ones checked and never altered, and refusal of
// rounds below the device's threat model. Truth: the admissible ranges computed by the
// finder's own bounds where stated, hand-computed counts otherwise.
#include <gtest/gtest.h>

#include "secure-agg/client_policy.h"
#include "secure-agg/errors.h"
#include "secure-agg/graph_parameters.h"
#include "tests/secure-agg/test_identities.h"

namespace fedlora::secagg {
namespace {

RoundConfig config_for(std::uint32_t n, SecAggParameters p, bool check = false, unsigned work = kDefaultGraphSeedWork) {
  RoundConfig c;
  c.session_id.fill(3);
  c.num_clients = n;
  c.vector_length = 8;
  c.params = p;
  c.consistency_check = check;
  c.graph_seed_work = work;
  c.roster = testing::roster_of(testing::sorted_identities(n, 77));
  return c;
}

template <class F>
std::string policy_refusal(F&& f) {
  try {
    f();
  } catch (const PolicyError& e) {
    return e.what();
  }
  return "";
}

TEST(PlanParameters, AutomaticMatchesTheFinders) {
  const ThreatModel th{0.05, 0.3};
  for (std::uint32_t n : {5u, 20u, 100u, 1000u}) {
    const auto p = plan_parameters(n, {th});
    const auto q = choose_parameters(n, th);
    EXPECT_EQ(p.graph, q.graph);
    EXPECT_EQ(p.degree, q.degree);
    EXPECT_EQ(p.threshold, q.threshold);
  }
}

TEST(PlanParameters, ConsistencyCheckPlansForTheSemiMaliciousModel) {
  const ThreatModel sh{0.05, 0.3, AdversaryModel::kSemiHonest};
  const auto p = plan_parameters(1000, {sh, GraphChoice::kAuto, 0, 0, true});
  const auto q = find_harary_parameters(1000, {0.05, 0.3, AdversaryModel::kSemiMalicious});
  EXPECT_EQ(p.degree, q.degree);
  EXPECT_EQ(p.threshold, q.threshold);
  EXPECT_GT(2 * p.threshold, p.degree + 1);  // more than half of the k + 1 holders
  // The semi-malicious model without the consistency round is refused.
  EXPECT_THROW(plan_parameters(1000, {{0.05, 0.3, AdversaryModel::kSemiMalicious}}), ConfigError);
  // An explicit semi-honest (k, t) for a consistency-check round is refused.
  const auto semi_honest = plan_parameters(1000, {sh});
  EXPECT_THROW(plan_parameters(1000, {sh, GraphChoice::kHarary, semi_honest.degree, semi_honest.threshold, true}),
               ConfigError);
}

TEST(PlanParameters, ExplicitThresholdsAreCheckedNeverChanged) {
  const ThreatModel th{0.05, 0.3};
  const std::uint32_t n = 1000, k = 66;
  const auto r = admissible_thresholds(n, GraphKind::kHarary, k, th);
  ASSERT_TRUE(r.has_value());
  ASSERT_LE(r->t_min, r->t_max);
  for (std::int64_t t = 2; t <= k + 1; ++t) {
    const ParameterRequest req{th, GraphChoice::kHarary, k, static_cast<std::uint32_t>(t)};
    if (t >= r->t_min && t <= r->t_max) {
      const auto p = plan_parameters(n, req);
      EXPECT_EQ(p.threshold, t);
      EXPECT_EQ(p.degree, k);
    } else {
      EXPECT_THROW(plan_parameters(n, req), ConfigError) << t;
    }
  }
  // k given, t automatic: the smallest secure t of that k.
  EXPECT_EQ(plan_parameters(n, {th, GraphChoice::kHarary, k, 0}).threshold, r->t_min);
  // t given, k automatic: the smallest even k whose range holds t.
  const auto p = plan_parameters(n, {th, GraphChoice::kHarary, 0, 30});
  EXPECT_EQ(p.threshold, 30u);
  const auto below = admissible_thresholds(n, GraphKind::kHarary, p.degree - 2, th);
  EXPECT_TRUE(!below || below->t_min > 30 || below->t_max < 30);
  // A configured t that this (small) cohort cannot hold is an error, not a clamp.
  try {
    plan_parameters(5, {th, GraphChoice::kComplete, 0, 8});
    ADD_FAILURE() << "t = 8 accepted for n = 5";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("never lowered"), std::string::npos) << e.what();
  }
  EXPECT_THROW(plan_parameters(20, {th, GraphChoice::kComplete, 7, 0}), ConfigError);  // complete has k = n - 1
  EXPECT_EQ(plan_parameters(20, {th, GraphChoice::kAuto, 19, 0}).graph, GraphKind::kComplete);
}

// n = 1000 under 5% corrupt / 30% dropout: the finder's (66, 23) passes; t = 2 and the
// one-below-minimum t = 22 do not.
TEST(ClientPolicy, DefaultRefusesWeakThresholds) {
  const ClientPolicy policy;
  const auto good = find_harary_parameters(1000, policy.threat);
  ASSERT_EQ(good.degree, 66u);
  ASSERT_EQ(good.threshold, 23u);
  EXPECT_NO_THROW(policy.check(config_for(1000, good)));
  const auto why = policy_refusal([&] { policy.check(config_for(1000, {GraphKind::kHarary, 66, 2})); });
  EXPECT_NE(why.find("smallest secure t = 23"), std::string::npos) << why;
  EXPECT_FALSE(policy_refusal([&] { policy.check(config_for(1000, {GraphKind::kHarary, 66, 22})); }).empty());
  // A tiny degree fails the disconnection bound whatever t is.
  EXPECT_FALSE(policy_refusal([&] { policy.check(config_for(1000, {GraphKind::kHarary, 4, 5})); }).empty());
  // The complete graph: t > a = floor(0.05 * 40) = 2.
  EXPECT_FALSE(policy_refusal([&] { policy.check(config_for(40, {GraphKind::kComplete, 39, 2})); }).empty());
  EXPECT_NO_THROW(policy.check(config_for(40, {GraphKind::kComplete, 39, 3})));
  // unchecked() accepts any valid round (simulation only).
  EXPECT_NO_THROW(ClientPolicy::unchecked().check(config_for(1000, {GraphKind::kHarary, 66, 2}, false, 0)));
}

TEST(ClientPolicy, ConsistencyRoundsAreCheckedAsSemiMalicious) {
  const ClientPolicy policy;
  const auto sh = find_harary_parameters(1000, policy.threat);
  const auto why = policy_refusal([&] { policy.check(config_for(1000, sh, true)); });
  EXPECT_NE(why.find("semi-malicious"), std::string::npos) << why;
  const auto sm = plan_parameters(1000, {policy.threat, GraphChoice::kAuto, 0, 0, true});
  EXPECT_NO_THROW(policy.check(config_for(1000, sm, true)));
  // A device provisioned for the semi-malicious model insists on the consistency round.
  const auto strict = ClientPolicy::for_threat({0.05, 0.3, AdversaryModel::kSemiMalicious});
  EXPECT_TRUE(strict.require_consistency_check);
  EXPECT_NE(policy_refusal([&] { strict.check(config_for(1000, sm, false)); }).find("consistency"), std::string::npos);
  EXPECT_NO_THROW(strict.check(config_for(1000, sm, true)));
}

TEST(ClientPolicy, RangeFloorsAndSeedWork) {
  ClientPolicy policy;
  const auto p = find_harary_parameters(1000, policy.threat);
  EXPECT_NE(policy_refusal([&] { policy.check(config_for(1000, p, false, kDefaultGraphSeedWork - 1)); }).find("graph_seed_work"),
            std::string::npos);
  // The complete graph has no permutation, so no seed work is needed.
  EXPECT_NO_THROW(policy.check(config_for(40, {GraphKind::kComplete, 39, 3}, false, 0)));
  policy.max_clients = 500;
  EXPECT_NE(policy_refusal([&] { policy.check(config_for(1000, p)); }).find("range"), std::string::npos);
  policy = ClientPolicy();
  policy.min_threshold = 30;
  EXPECT_FALSE(policy_refusal([&] { policy.check(config_for(1000, p)); }).empty());
  policy = ClientPolicy();
  policy.min_degree = 80;
  EXPECT_FALSE(policy_refusal([&] { policy.check(config_for(1000, p)); }).empty());
}

// Isolation bound: k - floor(delta k) live neighbours, never below t - 1.
TEST(ClientPolicy, MinLiveNeighbours) {
  const ClientPolicy policy;  // delta = 0.3
  EXPECT_EQ(policy.min_live_neighbours(config_for(100, {GraphKind::kHarary, 26, 6})), 19u);   // 26 - 7
  EXPECT_EQ(policy.min_live_neighbours(config_for(1000, {GraphKind::kHarary, 66, 23})), 47u);  // 66 - 19
  EXPECT_EQ(policy.min_live_neighbours(config_for(10, {GraphKind::kComplete, 9, 9})), 8u);     // max(9 - 2, 8)
  EXPECT_EQ(ClientPolicy::unchecked().min_live_neighbours(config_for(100, {GraphKind::kHarary, 26, 6})), 5u);
  EXPECT_EQ(min_live_neighbours(10, 0.0), 10u);
  EXPECT_THROW(min_live_neighbours(10, 1.0), ConfigError);
}

}  // namespace
}  // namespace fedlora::secagg
