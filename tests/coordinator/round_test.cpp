// The coordinator's round loop: state transitions, all-or-nothing application of an
// aggregate, aborts that leave θ untouched, and checkpoints that restore a run exactly.
#include <gtest/gtest.h>

#include <filesystem>

#include "coordinator/round/coordinator.h"
#include "coordinator/strategy/errors.h"
#include "coordinator/strategy/fedopt_strategy.h"
#include "coordinator/strategy/update_aggregate.h"
#include "lora/adapter/adapter_io.h"
#include "lora/format/safetensors.h"
#include "tests/support/temp_dir.h"
#include "tests/support/weighted_upload.h"

namespace fedlora::coordinator {
namespace {
namespace fs = std::filesystem;

lora::AdapterLayout small_layout() {
  // 1 layer, q only: A [2, 4], B [6, 2] → 8 + 12 = 20 floats.
  return lora::AdapterLayout(1, 2, 4.0f, {lora::TargetModule::q}, {{lora::TargetModule::q, {4, 6}}});
}

std::unique_ptr<Strategy> strategy(const std::string& name, double lr, int k, int min_contributors = 1) {
  StrategyConfig c;
  c.cohort_size = static_cast<size_t>(k);
  c.seed = 7;
  c.server_optimizer.name = name;
  c.server_optimizer.server_lr = lr;
  c.min_contributors = min_contributors;
  return std::make_unique<FedOptStrategy>(c, 20);
}


const std::vector<uint64_t> kClients = {0, 1, 2, 3, 4, 5};

TEST(Coordinator, CloseAppliesWeightedMeanTimesServerLr) {
  Coordinator c(small_layout(), Eigen::VectorXf::Constant(20, 1.0f), strategy("fedavg", 0.5, 2), {});
  const auto task = c.open_round(kClients);
  ASSERT_EQ(task.round, 1u);
  ASSERT_EQ(task.cohort.size(), 2u);
  EXPECT_EQ(*task.theta, Eigen::VectorXf::Constant(20, 1.0f));
  Aggregator agg(20, 2);
  agg.add_upload(task.cohort[0], test::weighted(Eigen::VectorXf::Constant(20, 2.0f), 1.0), 1.0);  // weight 1
  agg.add_upload(task.cohort[1], test::weighted(Eigen::VectorXf::Constant(20, 5.0f), 3.0), 3.0);  // weight 3
  const auto rec = c.close_round(agg.aggregate());
  EXPECT_FALSE(rec.aborted);
  // Δ̄ = (1·2 + 3·5) / 4 = 4.25; θ = 1 + 0.5 · 4.25 = 3.125.
  for (int i = 0; i < 20; ++i) EXPECT_FLOAT_EQ(c.theta()[i], 3.125f);
  EXPECT_EQ(c.next_round(), 2u);
  // Devices of round 1 kept their snapshot.
  EXPECT_FLOAT_EQ((*task.theta)[0], 1.0f);
}

TEST(Coordinator, TooFewContributorsAbortsAndKeepsTheta) {
  Coordinator c(small_layout(), Eigen::VectorXf::Constant(20, 1.0f), strategy("fedavg", 1.0, 3, 2), {});
  const auto task = c.open_round(kClients);
  Aggregator agg(20, 3);
  agg.add_upload(task.cohort[0], test::weighted(Eigen::VectorXf::Constant(20, 9.0f), 1.0), 1.0);
  const auto rec = c.close_round(agg.aggregate());
  EXPECT_TRUE(rec.aborted);
  EXPECT_FALSE(rec.abort_reason.empty());
  EXPECT_EQ(c.theta(), Eigen::VectorXf::Constant(20, 1.0f));
  EXPECT_FALSE(c.round_open());
  EXPECT_EQ(c.next_round(), 2u);
}

TEST(Coordinator, ExplicitAbortKeepsTheta) {
  Coordinator c(small_layout(), Eigen::VectorXf::Constant(20, 1.0f), strategy("fedavg", 1.0, 2), {});
  c.open_round(kClients);
  const auto rec = c.abort_round("survivors below threshold");
  EXPECT_TRUE(rec.aborted);
  EXPECT_EQ(rec.abort_reason, "survivors below threshold");
  EXPECT_EQ(c.theta(), Eigen::VectorXf::Constant(20, 1.0f));
}

TEST(Coordinator, WrongStateTransitionsThrow) {
  Coordinator c(small_layout(), Eigen::VectorXf::Zero(20), strategy("fedavg", 1.0, 2), {});
  Aggregator agg(20, 2);
  EXPECT_THROW(c.close_round(agg.aggregate()), RoundStateError);
  EXPECT_THROW(c.abort_round("x"), RoundStateError);
  c.open_round(kClients);
  EXPECT_THROW(c.open_round(kClients), RoundStateError);
}

TEST(Coordinator, WrongInitialSizeThrows) {
  EXPECT_THROW(Coordinator(small_layout(), Eigen::VectorXf::Zero(19), strategy("fedavg", 1.0, 2), {}),
               lora::AdapterError);
}

// Runs `rounds` rounds of FedAdam with deterministic synthetic updates.
void run_rounds(Coordinator& c, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    const auto task = c.open_round(kClients);
    Aggregator agg(20, 2);
    for (size_t i = 0; i < task.cohort.size(); ++i) {
      Eigen::VectorXf d(20);
      for (int j = 0; j < 20; ++j) d[j] = std::sin(0.1f * j + static_cast<float>(task.round) + static_cast<float>(task.cohort[i]));
      agg.add_upload(task.cohort[i], test::weighted(d, 1.0 + static_cast<double>(i)), 1.0 + static_cast<double>(i));
    }
    ASSERT_FALSE(c.close_round(agg.aggregate()).aborted);
  }
}

TEST(Coordinator, CheckpointRestoresThetaOptimizerStateAndRound) {
  test::TempDir dir;
  Coordinator a(small_layout(), Eigen::VectorXf::Zero(20), strategy("fedadam", 0.1, 2),
                {dir.path() / "ckpt", "tiny.gguf"});
  run_rounds(a, 3);
  // The checkpoint is a PEFT adapter directory.
  EXPECT_TRUE(fs::exists(dir.path() / "ckpt" / "adapter_model.safetensors"));
  EXPECT_EQ(lora::read_adapter_config(dir.path() / "ckpt").r, 2);

  Coordinator b(small_layout(), Eigen::VectorXf::Zero(20), strategy("fedadam", 0.1, 2), {});
  b.restore_checkpoint(dir.path() / "ckpt");
  EXPECT_EQ(b.next_round(), 4u);
  EXPECT_EQ(b.theta(), a.theta());
  // Continuing both gives bit-identical results only if FedAdam's m and v were restored
  // (a FedAdam step from the same θ with zero moments differs).
  Coordinator no_state(small_layout(), a.theta(), strategy("fedadam", 0.1, 2), {});
  run_rounds(a, 2);
  run_rounds(b, 2);
  EXPECT_EQ(b.theta(), a.theta());
  run_rounds(no_state, 2);
  EXPECT_NE(no_state.theta(), a.theta());

}

TEST(Coordinator, RestoreErrorsAreTypedAndLeaveTheCoordinatorUntouched) {
  test::TempDir dir;
  Coordinator a(small_layout(), Eigen::VectorXf::Zero(20), strategy("fedadam", 0.1, 2), {dir.path() / "ckpt", "tiny.gguf"});
  run_rounds(a, 2);
  const fs::path ckpt = dir.path() / "ckpt";
  auto fresh = [] { return Coordinator(small_layout(), Eigen::VectorXf::Zero(20), strategy("fedadam", 0.1, 2), {}); };
  auto copy_to = [&](const std::string& name) {
    fs::copy(ckpt, dir.path() / name, fs::copy_options::recursive);
    return dir.path() / name;
  };

  {  // A checkpoint of another layout (rank 4): the adapter does not fit.
    Coordinator b(lora::AdapterLayout(1, 4, 4.0f, {lora::TargetModule::q}, {{lora::TargetModule::q, {4, 6}}}),
                  Eigen::VectorXf::Zero(40), std::make_unique<FedOptStrategy>(StrategyConfig{2}, 40), {});
    EXPECT_THROW(b.restore_checkpoint(ckpt), lora::AdapterError);
    EXPECT_EQ(b.next_round(), 1u);
  }
  {  // Truncated server state.
    const auto bad = copy_to("truncated");
    fs::resize_file(bad / "server_state.safetensors", fs::file_size(bad / "server_state.safetensors") / 2);
    auto c = fresh();
    EXPECT_THROW(c.restore_checkpoint(bad), lora::safetensors::FormatError);
    EXPECT_EQ(c.next_round(), 1u);
    EXPECT_EQ(c.theta(), Eigen::VectorXf::Zero(20));
  }
  {  // Truncated adapter.
    const auto bad = copy_to("truncated_adapter");
    fs::resize_file(bad / "adapter_model.safetensors", 40);
    auto c = fresh();
    EXPECT_THROW(c.restore_checkpoint(bad), lora::safetensors::FormatError);
  }
  {  // Bad metadata: a round that is not a number, then a missing optimizer name.
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"fedlora.round", "2x"},
                                                                                     {"fedlora.round", "-1"}}) {
      const auto bad = copy_to("meta" + std::to_string(std::hash<std::string>{}(value) % 1000));
      lora::safetensors::SafetensorsWriter w;
      w.set_metadata(key, value);
      w.set_metadata("fedlora.optimizer", "fedadam");
      w.write(bad / "server_state.safetensors");
      auto c = fresh();
      EXPECT_THROW(c.restore_checkpoint(bad), OptimizerStateError) << value;
      EXPECT_EQ(c.next_round(), 1u);
    }
    const auto bad = copy_to("no_optimizer");
    lora::safetensors::SafetensorsWriter w;
    w.set_metadata("fedlora.round", "2");
    w.write(bad / "server_state.safetensors");
    auto c = fresh();
    EXPECT_THROW(c.restore_checkpoint(bad), OptimizerStateError);
  }
  {  // Another optimizer's state (FedAvgM's momentum for a FedAdam coordinator).
    const auto other_dir = dir.path() / "fedavgm";
    Coordinator m(small_layout(), Eigen::VectorXf::Zero(20), strategy("fedavgm", 0.1, 2), {other_dir, "tiny.gguf"});
    run_rounds(m, 1);
    auto c = fresh();
    EXPECT_THROW(c.restore_checkpoint(other_dir), OptimizerStateError);
    EXPECT_EQ(c.next_round(), 1u);
  }
}

}  // namespace
}  // namespace fedlora::coordinator
