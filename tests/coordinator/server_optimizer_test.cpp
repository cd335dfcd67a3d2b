// Server optimizers against hand-computed first two steps, checkpoint round trips, and
// config validation. Hand computations are written out next to each expectation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "coordinator/strategy/adaptive_optimizer.h"
#include "coordinator/strategy/errors.h"
#include "coordinator/strategy/fedavg_optimizer.h"
#include "coordinator/strategy/server_optimizer_config.h"

namespace fedlora::coordinator {
namespace {

Eigen::VectorXf vecf(std::initializer_list<float> v) {
  Eigen::VectorXf out(static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (float x : v) out[i++] = x;
  return out;
}
Eigen::VectorXd vecd(std::initializer_list<double> v) {
  Eigen::VectorXd out(static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (double x : v) out[i++] = x;
  return out;
}

// θ and state are float32: compare hand values to a few float ulps.
constexpr double kTol = 2e-6;

TEST(FedAvgOptimizer, ServerLearningRateOne) {
  // θ0 = [0.5, 0.5, 0.5], Δ̄ = [2.5, −1, 0.125] → θ1 = θ0 + Δ̄ = [3, −0.5, 0.625].
  FedAvgOptimizer opt(3, 1.0);
  Eigen::VectorXf theta = vecf({0.5f, 0.5f, 0.5f});
  opt.apply(theta, vecd({2.5, -1.0, 0.125}));
  EXPECT_EQ(theta, vecf({3.0f, -0.5f, 0.625f}));
  EXPECT_EQ(opt.step(), 1);
}

TEST(FedAvgOptimizer, ServerLearningRateHalfTwoSteps) {
  // η = 0.5: θ1 = [0.5 + 1.25, 0.5 − 0.5, 0.5 + 0.0625] = [1.75, 0, 0.5625];
  // Δ̄2 = [−1, 4, 0]: θ2 = [1.75 − 0.5, 0 + 2, 0.5625] = [1.25, 2, 0.5625].
  FedAvgOptimizer opt(3, 0.5);
  Eigen::VectorXf theta = vecf({0.5f, 0.5f, 0.5f});
  opt.apply(theta, vecd({2.5, -1.0, 0.125}));
  EXPECT_EQ(theta, vecf({1.75f, 0.0f, 0.5625f}));
  opt.apply(theta, vecd({-1.0, 4.0, 0.0}));
  EXPECT_EQ(theta, vecf({1.25f, 2.0f, 0.5625f}));
  EXPECT_EQ(opt.step(), 2);
}

TEST(FedAvgMOptimizer, FirstTwoStepsByHand) {
  // η = 0.5, β = 0.9, θ0 = [1, −1], u_{−1} = 0.
  // Δ̄1 = [0.5, 0.25]: u1 = [0.5, 0.25];             θ1 = [1 + 0.25, −1 + 0.125] = [1.25, −0.875]
  // Δ̄2 = [−0.25, 1]:  u2 = 0.9·u1 + Δ̄2 = [0.2, 1.225]; θ2 = [1.25 + 0.1, −0.875 + 0.6125]
  //                                                        = [1.35, −0.2625]
  FedAvgMOptimizer opt(2, 0.5, 0.9);
  Eigen::VectorXf theta = vecf({1.0f, -1.0f});
  opt.apply(theta, vecd({0.5, 0.25}));
  EXPECT_NEAR(theta[0], 1.25, kTol);
  EXPECT_NEAR(theta[1], -0.875, kTol);
  opt.apply(theta, vecd({-0.25, 1.0}));
  EXPECT_NEAR(theta[0], 1.35, kTol);
  EXPECT_NEAR(theta[1], -0.2625, kTol);
  const Eigen::VectorXf u = opt.state_vectors().at("momentum");
  EXPECT_NEAR(u[0], 0.2, kTol);
  EXPECT_NEAR(u[1], 1.225, kTol);
}

// Adaptive optimizers, Reddi et al. 2021 Algorithm 2, all with
//   η = 0.1, β1 = 0.9, β2 = 0.99, τ = 1e−3, v_{−1} = τ² = 1e−6, m_{−1} = 0, θ0 = [1, −1],
//   Δ̄1 = [0.5, −0.02], Δ̄2 = [0.1, 0.001].
// First moment (same for all three):
//   m1 = 0.1·Δ̄1 = [0.05, −0.002];  m2 = 0.9·m1 + 0.1·Δ̄2 = [0.045 + 0.01, −0.0018 + 0.0001]
//                                                        = [0.055, −0.0017]
struct AdaptiveCase {
  const char* name;
  double v1[2], theta1[2], v2[2], theta2[2];
};

// FedAdagrad: v1 = 1e−6 + Δ̄1² = [0.250001, 0.000401]
//   θ1 = 1 + 0.1·0.05/(√0.250001 + 0.001) = 1 + 0.005/0.501000999… = 1.00998002
//        −1 + 0.1·(−0.002)/(√0.000401 + 0.001) = −1 − 0.0002/0.0210249… = −1.00951249
//   v2 = v1 + Δ̄2² = [0.260001, 0.000402]
//   θ2 = 1.00998002 + 0.0055/(0.509902… + 0.001) = 1.02074527
//        −1.00951249 − 0.00017/(0.0200499… + 0.001) = −1.01758853
// FedAdam: v1 = 0.99·1e−6 + 0.01·Δ̄1² = [0.00250099, 4.99e−6]
//   θ1 = 1 + 0.005/(0.0500099 + 0.001) = 1.09802019;  −1 − 0.0002/(0.00223383 + 0.001) = −1.06184615
//   v2 = 0.99·v1 + 0.01·Δ̄2² = [0.0025759801, 4.9501e−6]
//   θ2 = 1.09802019 + 0.0055/(0.0507541 + 0.001) = 1.20429193
//        −1.06184615 − 0.00017/(0.00222488 + 0.001) = −1.11456126
// FedYogi: step 1, v0 = 1e−6 < Δ̄1² in both coordinates, sign(v − Δ̄²) = −1:
//   v1 = v0 + 0.01·Δ̄1² = [0.002501, 5e−6]
//   θ1 = 1 + 0.005/(0.05001 + 0.001) = 1.09801999;  −1 − 0.0002/(0.00223607 + 0.001) = −1.06180340
//   step 2: coordinate 0 has v1 = 0.002501 < 0.01 = Δ̄2² (sign −1): v2 = 0.002501 + 0.0001 = 0.002601
//           coordinate 1 has v1 = 5e−6 > 1e−6 = Δ̄2² (sign +1):    v2 = 5e−6 − 1e−8 = 4.99e−6
//   θ2 = 1.09801999 + 0.0055/(0.051 + 0.001) = 1.20378923
//        −1.06180340 − 0.00017/(0.00223383 + 0.001) = −1.11437263
const AdaptiveCase kAdaptiveCases[] = {
    {"fedadagrad", {0.250001, 0.000401}, {1.00998001999998, -1.0095124921972505},
     {0.260001, 0.000402}, {1.0207452743294592, -1.0175885256173995}},
    {"fedadam", {0.00250099, 4.99e-6}, {1.0980201901209485, -1.0618461549057077},
     {0.0025759801, 4.9501e-6}, {1.204291934766376, -1.1145612616848957}},
    {"fedyogi", {0.002501, 5e-6}, {1.0980199980004, -1.0618033988749895},
     {0.002601, 4.99e-6}, {1.2037892287696306, -1.114372630544841}},
};

TEST(AdaptiveOptimizers, FirstTwoStepsByHand) {
  for (const AdaptiveCase& c : kAdaptiveCases) {
    SCOPED_TRACE(c.name);
    ServerOptimizerConfig config{c.name, 0.1, std::nullopt, 0.9, std::nullopt, 1e-3};
    if (std::string(c.name) != "fedadagrad") config.beta2 = 0.99;
    auto opt = make_server_optimizer(config, 2);
    ASSERT_EQ(opt->name(), c.name);

    Eigen::VectorXf theta = vecf({1.0f, -1.0f});
    opt->apply(theta, vecd({0.5, -0.02}));
    auto s = opt->state_vectors();
    EXPECT_NEAR(s.at("m")[0], 0.05, 1e-8);
    EXPECT_NEAR(s.at("m")[1], -0.002, 1e-9);
    EXPECT_NEAR(s.at("v")[0], c.v1[0], c.v1[0] * 1e-6);
    EXPECT_NEAR(s.at("v")[1], c.v1[1], c.v1[1] * 1e-6);
    EXPECT_NEAR(theta[0], c.theta1[0], kTol);
    EXPECT_NEAR(theta[1], c.theta1[1], kTol);

    opt->apply(theta, vecd({0.1, 0.001}));
    s = opt->state_vectors();
    EXPECT_NEAR(s.at("m")[0], 0.055, 1e-8);
    EXPECT_NEAR(s.at("m")[1], -0.0017, 1e-9);
    EXPECT_NEAR(s.at("v")[0], c.v2[0], c.v2[0] * 1e-6);
    EXPECT_NEAR(s.at("v")[1], c.v2[1], c.v2[1] * 1e-6);
    EXPECT_NEAR(theta[0], c.theta2[0], kTol);
    EXPECT_NEAR(theta[1], c.theta2[1], kTol);
    EXPECT_EQ(opt->step(), 2);
  }
}

ServerOptimizerConfig named(const std::string& name) {
  ServerOptimizerConfig c;
  c.name = name;
  return c;
}

// --- checkpoints -------------------------------------------------------------------------

ServerOptimizerConfig config_for(const std::string& name) {
  ServerOptimizerConfig c;
  c.name = name;
  c.server_lr = 0.3;
  if (name == "fedavgm") c.momentum = 0.8;
  if (name == "fedadam" || name == "fedyogi" || name == "fedadagrad") {
    c.beta1 = 0.7;
    c.tau = 1e-2;
  }
  if (name == "fedadam" || name == "fedyogi") c.beta2 = 0.95;
  return c;
}

// A fixed, varied pseudo-gradient for round t (no RNG needed).
Eigen::VectorXd pseudo_gradient(int t, Eigen::Index d) {
  Eigen::VectorXd g(d);
  for (Eigen::Index i = 0; i < d; ++i) g[i] = std::sin(1.7 * t + 0.3 * i) * (1 + 0.5 * i);
  return g;
}

class Checkpoint : public ::testing::TestWithParam<const char*> {};

TEST_P(Checkpoint, RestoredOptimizerContinuesIdentically) {
  const std::string name = GetParam();
  const Eigen::Index d = 5;
  const Eigen::VectorXf theta0 = Eigen::VectorXf::LinSpaced(d, -1.0f, 1.0f);

  // Uninterrupted: 5 rounds.
  auto reference = make_server_optimizer(config_for(name), d);
  Eigen::VectorXf theta_ref = theta0;
  for (int t = 0; t < 5; ++t) reference->apply(theta_ref, pseudo_gradient(t, d));

  // Interrupted after 2 rounds: state copied out (as a checkpoint would), new process.
  auto first = make_server_optimizer(config_for(name), d);
  Eigen::VectorXf theta = theta0;
  for (int t = 0; t < 2; ++t) first->apply(theta, pseudo_gradient(t, d));
  const OptimizerState saved = first->state();
  EXPECT_EQ(saved.optimizer, name);
  EXPECT_EQ(saved.scalars.at("step"), 2.0);
  first.reset();

  auto resumed = make_server_optimizer(config_for(name), d);
  resumed->restore(saved);
  EXPECT_EQ(resumed->step(), 2);
  Eigen::VectorXf theta_resumed = theta;
  for (int t = 2; t < 5; ++t) resumed->apply(theta_resumed, pseudo_gradient(t, d));
  EXPECT_EQ(theta_resumed, theta_ref);  // bit-identical
  EXPECT_EQ(resumed->step(), 5);

  // Without the restore, a stateful optimizer takes a different path: the state matters.
  if (name != "fedavg") {
    auto fresh = make_server_optimizer(config_for(name), d);
    Eigen::VectorXf theta_fresh = theta;
    for (int t = 2; t < 5; ++t) fresh->apply(theta_fresh, pseudo_gradient(t, d));
    EXPECT_NE(theta_fresh, theta_ref);
  }
}

INSTANTIATE_TEST_SUITE_P(AllOptimizers, Checkpoint,
                         ::testing::Values("fedavg", "fedavgm", "fedadagrad", "fedadam", "fedyogi"));

TEST(Checkpoint, StateVectorNames) {
  EXPECT_TRUE(make_server_optimizer(config_for("fedavg"), 3)->state_vectors().empty());
  auto m = make_server_optimizer(config_for("fedavgm"), 3)->state_vectors();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.at("momentum"), Eigen::VectorXf::Zero(3));
  auto a = make_server_optimizer(config_for("fedadam"), 3)->state_vectors();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a.at("m"), Eigen::VectorXf::Zero(3));
  // v_{−1} = τ² = (1e−2)² = 1e−4.
  EXPECT_EQ(a.at("v"), Eigen::VectorXf::Constant(3, 1e-4f));
}

TEST(Checkpoint, RestoreRejectsMismatchedStateAndKeepsCurrent) {
  auto opt = make_server_optimizer(config_for("fedadam"), 3);
  Eigen::VectorXf theta = Eigen::VectorXf::Zero(3);
  opt->apply(theta, pseudo_gradient(0, 3));
  const OptimizerState good = opt->state();

  auto expect_rejected = [&](OptimizerState bad, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_THROW(opt->restore(bad), OptimizerStateError);
    const OptimizerState now = opt->state();
    EXPECT_EQ(now.vectors.at("m"), good.vectors.at("m"));
    EXPECT_EQ(now.vectors.at("v"), good.vectors.at("v"));
    EXPECT_EQ(now.scalars.at("step"), 1.0);
  };
  OptimizerState s = good;
  s.optimizer = "fedyogi";
  expect_rejected(s, "other optimizer");
  s = good;
  s.vectors.erase("v");
  expect_rejected(s, "missing v");
  s = good;
  s.vectors["momentum"] = Eigen::VectorXf::Zero(3);
  expect_rejected(s, "unknown vector");
  s = good;
  s.vectors["m"] = Eigen::VectorXf::Zero(4);
  expect_rejected(s, "wrong dimension");
  s = good;
  s.vectors["m"][1] = std::numeric_limits<float>::quiet_NaN();
  expect_rejected(s, "NaN in m");
  s = good;
  s.vectors["v"][0] = -1e-3f;
  expect_rejected(s, "negative v");
  s = good;
  s.scalars["step"] = 1.5;
  expect_rejected(s, "fractional step");
  s = good;
  s.scalars["step"] = -1;
  expect_rejected(s, "negative step");
  s = good;
  s.scalars.clear();
  expect_rejected(s, "missing step");
}

// --- apply() validation ----------------------------------------------------------------------

TEST(ApplyValidation, RejectsBadInputsWithoutSideEffects) {
  for (const char* name : {"fedavg", "fedavgm", "fedadagrad", "fedadam", "fedyogi"}) {
    SCOPED_TRACE(name);
    auto opt = make_server_optimizer(config_for(name), 3);
    const OptimizerState before = opt->state();
    Eigen::VectorXf theta = vecf({1, 2, 3});
    EXPECT_THROW(opt->apply(theta, vecd({1, 2})), InvalidAggregateError);
    EXPECT_THROW(opt->apply(theta, vecd({1, std::nan(""), 2})), InvalidAggregateError);
    Eigen::VectorXf short_theta = vecf({1, 2});
    EXPECT_THROW(opt->apply(short_theta, vecd({1, 2, 3})), InvalidAggregateError);
    EXPECT_EQ(theta, vecf({1, 2, 3}));
    EXPECT_EQ(opt->step(), 0);
    EXPECT_EQ(opt->state().vectors, before.vectors);
  }
}

TEST(ApplyValidation, RejectsStepThatOverflowsFloat32) {
  // 3e38 + 1·1e38 = 4e38 > FLT_MAX ≈ 3.4e38: the float32 θ would become Inf.
  FedAvgOptimizer opt(1, 1.0);
  Eigen::VectorXf theta = vecf({3e38f});
  EXPECT_THROW(opt.apply(theta, vecd({1e38})), InvalidAggregateError);
  EXPECT_EQ(theta[0], 3e38f);
  EXPECT_EQ(opt.step(), 0);
}

// --- factory ------------------------------------------------------------------------------

TEST(Factory, BuildsEachOptimizerWithDocumentedDefaults) {
  auto avg = make_server_optimizer(named("fedavg"), 4);
  EXPECT_EQ(avg->name(), "fedavg");
  EXPECT_EQ(avg->server_lr(), 1.0);
  EXPECT_EQ(avg->dimension(), 4);

  auto avgm = make_server_optimizer(named("FedAvgM"), 4);  // names are case-insensitive
  ASSERT_EQ(avgm->name(), "fedavgm");
  EXPECT_EQ(avgm->server_lr(), 1.0);
  EXPECT_EQ(dynamic_cast<FedAvgMOptimizer&>(*avgm).momentum(), 0.9);

  auto adam = make_server_optimizer(named("fedadam"), 4);
  ASSERT_EQ(adam->name(), "fedadam");
  auto& a = dynamic_cast<FedAdamOptimizer&>(*adam);
  EXPECT_EQ(a.server_lr(), 0.01);
  EXPECT_EQ(a.beta1(), 0.9);
  EXPECT_EQ(a.beta2(), 0.99);
  EXPECT_EQ(a.tau(), 1e-3);

  EXPECT_EQ(make_server_optimizer(named("fedyogi"), 4)->name(), "fedyogi");
  EXPECT_EQ(make_server_optimizer(named("fedadagrad"), 4)->name(), "fedadagrad");

  ServerOptimizerConfig custom = named("fedavg");
  custom.server_lr = 0.25;
  EXPECT_EQ(make_server_optimizer(custom, 4)->server_lr(), 0.25);
}

TEST(Factory, UnknownNameListsValidOnes) {
  try {
    make_server_optimizer(named("fedprox"), 4);
    FAIL() << "unknown optimizer accepted";
  } catch (const StrategyConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown server optimizer 'fedprox'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fedavg, fedavgm, fedadagrad, fedadam, fedyogi"), std::string::npos) << msg;
  }
  EXPECT_THROW(make_server_optimizer(named(""), 4), StrategyConfigError);
}

TEST(Factory, RejectsFieldsTheOptimizerDoesNotUse) {
  ServerOptimizerConfig c = named("fedavg");
  c.momentum = 0.9;
  EXPECT_THROW(make_server_optimizer(c, 4), StrategyConfigError);
  c = named("fedavgm");
  c.beta1 = 0.9;
  EXPECT_THROW(make_server_optimizer(c, 4), StrategyConfigError);
  c = named("fedadam");
  c.momentum = 0.9;
  EXPECT_THROW(make_server_optimizer(c, 4), StrategyConfigError);
  c = named("fedadagrad");
  c.beta2 = 0.99;
  EXPECT_THROW(make_server_optimizer(c, 4), StrategyConfigError);
}

TEST(Factory, RejectsOutOfRangeValues) {
  const double nan = std::nan("");
  const double inf = std::numeric_limits<double>::infinity();
  auto bad = [](const char* name, std::optional<double> ServerOptimizerConfig::*field, double value) {
    ServerOptimizerConfig c = named(name);
    c.*field = value;
    EXPECT_THROW(make_server_optimizer(c, 4), StrategyConfigError) << name << " " << value;
  };
  for (double lr : {0.0, -0.1, nan, inf}) bad("fedavg", &ServerOptimizerConfig::server_lr, lr);
  for (double mom : {1.0, -0.1, nan}) bad("fedavgm", &ServerOptimizerConfig::momentum, mom);
  for (double b1 : {1.0, -0.5, nan}) bad("fedadam", &ServerOptimizerConfig::beta1, b1);
  for (double b2 : {1.0, -0.5, nan}) bad("fedyogi", &ServerOptimizerConfig::beta2, b2);
  for (double tau : {0.0, -1e-3, nan, inf}) bad("fedadagrad", &ServerOptimizerConfig::tau, tau);
  EXPECT_THROW(make_server_optimizer(named("fedavg"), 0), StrategyConfigError);
  EXPECT_THROW(make_server_optimizer(named("fedadam"), -3), StrategyConfigError);
  // Boundaries that are allowed: β = 0 (no momentum / no averaging).
  ServerOptimizerConfig no_momentum = named("fedavgm");
  no_momentum.momentum = 0.0;
  EXPECT_NO_THROW(make_server_optimizer(no_momentum, 4));
  ServerOptimizerConfig no_averaging = named("fedadam");
  no_averaging.beta1 = 0.0;
  no_averaging.beta2 = 0.0;
  no_averaging.tau = 1e-9;
  EXPECT_NO_THROW(make_server_optimizer(no_averaging, 4));
}

}  // namespace
}  // namespace fedlora::coordinator
