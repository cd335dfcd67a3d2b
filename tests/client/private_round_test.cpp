// Ledger-gated DP-SGD rounds (client/train/private_round.h): spending is recorded before
// training and equals the RDP accountant's composition; a device at its budget refuses, the
// refusal survives reopening the ledger, and a refused round never touches its data.
#include <gtest/gtest.h>

#include "client/train/private_round.h"
#include "privacy/accounting/rdp_accountant.h"
#include "privacy/errors.h"
#include "tests/client/dp_fixture.h"
#include "tests/client/temp_dir.h"

namespace fedlora::client {
namespace {

using test::dp_examples;
using test::dp_random_adapter;
using test::dp_tiny_base;
using test::dp_tiny_layout;

constexpr double kDelta = 1e-5;

LocalTrainConfig round_config(double q, int64_t steps, double sigma) {
  LocalTrainConfig c;
  c.optimizer = LocalOptimizer::sgd;
  c.lr = 0.05;
  DpSgdTrainConfig dp;
  dp.sampling_rate = q;
  dp.steps = steps;
  dp.noise_multiplier = sigma;
  dp.l2_norm_clip = 1.0;
  dp.noise = SimulationNoise{3, 0, 1};
  c.dp = dp;
  return c;
}

double accountant_epsilon(double q, double sigma, int64_t steps) {
  privacy::RdpAccountant acc;
  acc.compose_poisson_gaussian(q, sigma, steps);
  return acc.epsilon(kDelta).epsilon;
}

// Same count as `good`, but windows of one token: packing any of them into a lot throws,
// so a round that returns normally on these examples cannot have read them.
std::vector<lora::TokenSeq> unusable_examples(size_t n) { return std::vector<lora::TokenSeq>(n, lora::TokenSeq{1}); }

class PrivateRound : public ::testing::Test {
 protected:
  std::shared_ptr<const lora::BaseModel> base = dp_tiny_base();
  lora::AdapterLayout layout = dp_tiny_layout(*base);
  std::vector<float> theta = dp_random_adapter(layout, 2);
  std::vector<lora::TokenSeq> examples = dp_examples(8, 3);
  test::TempDir dir;
};

TEST_F(PrivateRound, AcceptedRoundsRecordTheAccountantsEpsilon) {
  auto ledger = privacy::PrivacyLedger::open(dir.path() / "ledger.sqlite");
  const DevicePrivacy dev{"user-7", {8.0, kDelta}};
  const auto cfg = round_config(0.25, 4, 1.0);

  auto r1 = train_local_private(ledger, dev, base, layout, theta, examples, cfg);
  ASSERT_TRUE(std::holds_alternative<PrivateRoundTrained>(r1));
  const auto& t1 = std::get<PrivateRoundTrained>(r1);
  EXPECT_EQ(t1.update.steps, 4);
  ASSERT_TRUE(t1.update.dp.has_value());
  EXPECT_DOUBLE_EQ(t1.update.dp->plan.sampling_rate, 0.25);
  EXPECT_DOUBLE_EQ(t1.update.dp->plan.noise_multiplier, 1.0);
  EXPECT_NEAR(epsilon_spent(r1), accountant_epsilon(0.25, 1.0, 4), 1e-9);

  auto r2 = train_local_private(ledger, dev, base, layout, theta, examples, cfg);
  ASSERT_TRUE(std::holds_alternative<PrivateRoundTrained>(r2));
  EXPECT_NEAR(epsilon_spent(r2), accountant_epsilon(0.25, 1.0, 8), 1e-9);
  EXPECT_GT(epsilon_spent(r2), epsilon_spent(r1));
  const auto rec = ledger.find("user-7");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->steps, 8);
  EXPECT_EQ(rec->spends, 2);
}

TEST_F(PrivateRound, DeviceAtBudgetRefusesAndTheRefusalSurvivesReopening) {
  const double q = 0.5, sigma = 0.8;
  const int64_t steps = 3;
  const double eps1 = accountant_epsilon(q, sigma, steps);
  const DevicePrivacy dev{"user-9", {eps1 * 1.01, kDelta}};  // room for exactly one round
  const auto cfg = round_config(q, steps, sigma);
  const auto path = dir.path() / "ledger.sqlite";
  {
    auto ledger = privacy::PrivacyLedger::open(path);
    auto r1 = train_local_private(ledger, dev, base, layout, theta, examples, cfg);
    ASSERT_TRUE(std::holds_alternative<PrivateRoundTrained>(r1));
    auto r2 = train_local_private(ledger, dev, base, layout, theta, unusable_examples(examples.size()), cfg);
    ASSERT_TRUE(std::holds_alternative<PrivateRoundRefused>(r2));
    const auto& no = std::get<PrivateRoundRefused>(r2);
    EXPECT_EQ(no.decision.status, privacy::SpendStatus::kRefusedOverBudget);
    EXPECT_GT(no.decision.epsilon_after.epsilon, dev.budget.epsilon);
    EXPECT_NEAR(epsilon_spent(r2), eps1, 1e-9);
    EXPECT_EQ(no.plan.steps, steps);
  }
  auto reopened = privacy::PrivacyLedger::open(path);
  auto r3 = train_local_private(reopened, dev, base, layout, theta, unusable_examples(examples.size()), cfg);
  ASSERT_TRUE(std::holds_alternative<PrivateRoundRefused>(r3));
  EXPECT_NEAR(epsilon_spent(r3), eps1, 1e-9);
  const auto rec = reopened.find("user-9");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->steps, steps);  // refusals spend nothing
  EXPECT_EQ(rec->spends, 1);

  // The unusable data would indeed have thrown had the round trained on it.
  LocalTrainConfig plain = cfg;
  EXPECT_THROW(train_local(base, layout, theta, unusable_examples(examples.size()), plain), std::invalid_argument);
}

TEST_F(PrivateRound, SpendingIsRecordedBeforeTraining) {
  auto ledger = privacy::PrivacyLedger::open(dir.path() / "ledger.sqlite");
  const DevicePrivacy dev{"user-3", {50.0, kDelta}};
  const auto cfg = round_config(1.0, 2, 1.0);  // q = 1: every example is packed, so the bad data throws
  EXPECT_THROW(train_local_private(ledger, dev, base, layout, theta, unusable_examples(8), cfg),
               std::invalid_argument);
  const auto rec = ledger.find("user-3");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->steps, 2);  // the reservation stands although training failed
  EXPECT_NEAR(rec->spent().epsilon, accountant_epsilon(1.0, 1.0, 2), 1e-9);
}

TEST_F(PrivateRound, NoNoiseIsAlwaysRefused) {
  auto ledger = privacy::PrivacyLedger::open(dir.path() / "ledger.sqlite");
  auto r = train_local_private(ledger, {"user-1", {100.0, kDelta}}, base, layout, theta,
                               unusable_examples(examples.size()), round_config(0.5, 1, 0.0));
  EXPECT_TRUE(std::holds_alternative<PrivateRoundRefused>(r));
  EXPECT_EQ(epsilon_spent(r), 0.0);
}

TEST_F(PrivateRound, MisuseIsRejected) {
  auto ledger = privacy::PrivacyLedger::open(dir.path() / "ledger.sqlite");
  const auto cfg = round_config(0.5, 1, 1.0);
  LocalTrainConfig no_dp;
  EXPECT_THROW(train_local_private(ledger, {"u", {4.0, kDelta}}, base, layout, theta, examples, no_dp),
               std::invalid_argument);
  EXPECT_THROW(train_local_private(ledger, {"", {4.0, kDelta}}, base, layout, theta, examples, cfg),
               std::invalid_argument);
  EXPECT_THROW(train_local_private(ledger, {"u", {4.0, kDelta}}, base, layout, theta, {}, cfg),
               std::invalid_argument);
  ASSERT_TRUE(std::holds_alternative<PrivateRoundTrained>(
      train_local_private(ledger, {"u", {4.0, kDelta}}, base, layout, theta, examples, cfg)));
  // A layout for another base is rejected before anything is spent.
  auto small = base->config;
  small.dim = 32;
  small.ffn_dim = 64;
  small.n_heads = 2;
  small.n_kv_heads = 1;
  const auto other = lora::make_adapter_layout(small, 2, 4.0f, {lora::TargetModule::q});
  const auto steps_before = ledger.find("u")->steps;
  EXPECT_THROW(train_local_private(ledger, {"u", {4.0, kDelta}}, base, other, std::vector<float>(other.size(), 0.0f),
                                   examples, cfg),
               lora::AdapterError);
  EXPECT_EQ(ledger.find("u")->steps, steps_before);
  // A budget is never changed silently.
  EXPECT_THROW(train_local_private(ledger, {"u", {5.0, kDelta}}, base, layout, theta, examples, cfg),
               privacy::LedgerConfigMismatch);
}

}  // namespace
}  // namespace fedlora::client
