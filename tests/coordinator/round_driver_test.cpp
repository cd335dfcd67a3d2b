// RoundDriver: the server side of a round through its plain channel, checked against a hand
// computation of FedAvg; rounds with too few contributors or impossible SecAgg settings abort
// and leave θ as it was.
#include <gtest/gtest.h>

#include "coordinator/round/job_setup.h"
#include "coordinator/round/round_driver.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/random.h"

namespace fedlora::coordinator {
namespace {

lora::AdapterLayout tiny_layout() {
  // One layer, r = 1 on q of a [2 x 2] projection: lora_A [1, 2] + lora_B [2, 1] = 4 floats.
  return lora::AdapterLayout(1, 1, 1.0f, {lora::TargetModule::q},
                             {{lora::TargetModule::q, {2, 2}}, {lora::TargetModule::k, {2, 2}},
                              {lora::TargetModule::v, {2, 2}}, {lora::TargetModule::o, {2, 2}},
                              {lora::TargetModule::gate, {2, 2}}, {lora::TargetModule::up, {2, 2}},
                              {lora::TargetModule::down, {2, 2}}});
}

struct Fixture {
  config::JobConfig job;
  lora::AdapterLayout layout = tiny_layout();
  std::unique_ptr<Coordinator> coord;
  std::unique_ptr<RoundDriver> driver;

  explicit Fixture(int cohort, int min_contributors = 1, bool secagg = false) {
    job.federation.cohort_size = cohort;
    job.federation.min_contributors = min_contributors;
    job.secagg.enabled = secagg;
    coord = std::make_unique<Coordinator>(layout, Eigen::VectorXf::Zero(4),
                                          std::make_unique<FedOptStrategy>(strategy_config_for(job, 42), 4),
                                          CoordinatorOptions{});
    RoundPolicy policy;
    policy.job = job;
    policy.base_model_sha256.fill(1);
    policy.run_seed = 5;
    driver = std::make_unique<RoundDriver>(*coord, std::nullopt, policy, std::make_unique<secagg::crypto::SystemRandom>());
  }
};

const std::vector<std::uint64_t> kDevices{10, 11, 12};
std::int64_t examples_of(std::uint64_t id) { return static_cast<std::int64_t>(id) - 7; }  // 3, 4, 5

// Identity keys of devices 10, 11, 12 (SecAgg rosters), seeded for the test.
secagg::crypto::Ed25519PrivateKey key_of(std::uint64_t id) {
  secagg::crypto::DeterministicRandom rng(id, "identity");
  return secagg::crypto::Ed25519PrivateKey::generate(rng);
}

DeviceFacts facts() {
  DeviceFacts f;
  f.examples = examples_of;
  f.identity = [](std::uint64_t id) -> std::optional<secagg::crypto::Ed25519PublicKey> { return key_of(id).public_key(); };
  return f;
}

TEST(RoundDriver, FedAvgThroughThePlainChannelByHand) {
  Fixture f(2);
  const auto& o = f.driver->open_round(kDevices, {}, facts());
  ASSERT_FALSE(o.setup_failure);
  ASSERT_EQ(o.cohort.size(), 2u);
  ASSERT_EQ(o.instructions.size(), 2u);
  const double n0 = static_cast<double>(examples_of(o.cohort[0])), n1 = static_cast<double>(examples_of(o.cohort[1]));
  for (const auto& in : o.instructions) {
    EXPECT_EQ(in.round, 1u);
    EXPECT_EQ(in.adapter.dimension, 4);
    EXPECT_EQ(in.weighting.kind, protocol::Weighting::kExampleCount);
    EXPECT_EQ(in.weighting.max_weight, std::max(n0, n1));  // the largest reported count in the cohort
    EXPECT_FALSE(in.secagg);
  }
  EXPECT_NE(o.instructions[0].train.shuffle_seed, o.instructions[1].train.shuffle_seed);
  // Devices upload w·Δ with w = examples: Δ0 = [1, 0, -1, 2], Δ1 = [3, 1, 1, 0].
  auto* ch = f.driver->channel();
  ch->receive_plain(0, {{float(n0 * 1), 0.0f, float(-n0), float(n0 * 2)}, n0});
  ch->receive_plain(1, {{float(n1 * 3), float(n1), float(n1), 0.0f}, n1});
  ASSERT_TRUE(ch->stage_complete());
  ch->close_stage();
  const RoundReport rep = f.driver->finish_round();
  ASSERT_FALSE(rep.record.aborted) << rep.record.abort_reason;
  EXPECT_EQ(rep.contributors, 2);
  // θ1 = θ0 + (n0 Δ0 + n1 Δ1) / (n0 + n1), FedAvg with server_lr 1.
  const Eigen::VectorXf& theta = f.coord->theta();
  const double s = n0 + n1;
  EXPECT_NEAR(theta[0], (n0 * 1 + n1 * 3) / s, 1e-6);
  EXPECT_NEAR(theta[1], (n1 * 1) / s, 1e-6);
  EXPECT_NEAR(theta[2], (-n0 + n1) / s, 1e-6);
  EXPECT_NEAR(theta[3], (n0 * 2) / s, 1e-6);
  EXPECT_EQ(f.coord->next_round(), 2u);
}

TEST(RoundDriver, TooFewContributorsAbortsAndKeepsTheta) {
  Fixture f(2, /*min_contributors=*/2);
  f.driver->open_round(kDevices, {}, facts());
  auto* ch = f.driver->channel();
  ch->receive_plain(0, {{1, 1, 1, 1}, 3.0});
  ch->drop(1, "silent");
  ch->close_stage();
  const RoundReport rep = f.driver->finish_round();
  EXPECT_TRUE(rep.record.aborted);
  EXPECT_NE(rep.record.abort_reason.find("min_contributors"), std::string::npos);
  EXPECT_EQ(f.coord->theta(), Eigen::VectorXf::Zero(4));
  EXPECT_EQ(f.coord->next_round(), 2u);
}

TEST(RoundDriver, ImpossibleSecAggSettingsAbortTheRoundAtOpen) {
  Fixture f(1, 1, /*secagg=*/true);  // SecAgg needs at least 2 devices
  const auto& o = f.driver->open_round(kDevices, {}, facts());
  ASSERT_TRUE(o.setup_failure);
  EXPECT_NE(o.setup_failure->find("at least 2 devices"), std::string::npos);
  EXPECT_EQ(f.driver->channel(), nullptr);
  const RoundReport rep = f.driver->finish_round();
  EXPECT_TRUE(rep.record.aborted);
  EXPECT_EQ(f.coord->theta(), Eigen::VectorXf::Zero(4));
}

TEST(RoundDriver, SecAggRoundsGiveEveryMemberItsLogicalId) {
  Fixture f(3, 1, /*secagg=*/true);
  const auto& o = f.driver->open_round(kDevices, {}, facts());
  ASSERT_FALSE(o.setup_failure) << *o.setup_failure;
  ASSERT_TRUE(f.driver->channel()->secure());
  for (std::uint32_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(o.instructions[i].secagg);
    EXPECT_EQ(o.instructions[i].secagg->logical_id, i);
    // The member at position i holds roster entry i: the key order, not the server, sets ids.
    EXPECT_EQ(o.instructions[i].secagg->config->roster[i].identity, key_of(o.cohort[i]).public_key());
    EXPECT_EQ(o.instructions[i].secagg->config->session_id, o.instructions[0].secagg->config->session_id);
    EXPECT_TRUE(o.instructions[i].secagg->fixed_point.weight_clip.has_value());  // example weights ride along
  }
  EXPECT_THROW(f.driver->finish_round(), RoundStateError);  // the channel has not finished
  f.driver->abort_round("test over");
}

}  // namespace
}  // namespace fedlora::coordinator
