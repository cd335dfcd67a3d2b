// The coordinator service's durable state: rounds commit in order and once, a store refuses
// another job's configuration, checkpoints restore θ exactly and are pruned, and the token
// file names the line of each mistake.
#include <gtest/gtest.h>

#include <fstream>

#include "coordinator/config/toml_reader.h"
#include "coordinator/round/job_setup.h"
#include "coordinator/service/checkpoint_store.h"
#include "coordinator/service/state_store.h"
#include "coordinator/service/token_file.h"
#include "tests/support/temp_dir.h"

namespace fedlora::coordinator {
namespace {

TEST(StateStore, CommitsRoundsInOrderOnce) {
  test::TempDir dir;
  auto s = StateStore::open(dir.path(), "job-A");
  EXPECT_EQ(s.committed_round(), 0u);
  StoredRound r1;
  r1.round = 1;
  r1.cohort = 3;
  r1.contributors = 2;
  r1.metrics_json = R"({"round":1})";
  s.commit_round(r1);
  EXPECT_THROW(s.commit_round(r1), StoreError);  // twice
  StoredRound r3 = r1;
  r3.round = 3;
  EXPECT_THROW(s.commit_round(r3), StoreError);  // a gap
  StoredRound r2 = r1;
  r2.round = 2;
  r2.aborted = true;
  r2.abort_reason = "too few";
  s.commit_round(r2);
  EXPECT_EQ(s.committed_round(), 2u);
  const auto back = s.round(2);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->aborted);
  EXPECT_EQ(back->abort_reason, "too few");
  EXPECT_EQ(s.rounds().size(), 2u);
}

TEST(StateStore, RefusesAnotherJobsStateAndKeepsDevices) {
  test::TempDir dir;
  {
    auto s = StateStore::open(dir.path(), "job-A");
    EXPECT_EQ(s.enrol("alice").id, 0);
    EXPECT_EQ(s.enrol("bob").id, 1);
    EXPECT_EQ(s.enrol("alice").id, 0);
  }
  EXPECT_THROW(StateStore::open(dir.path(), "job-B"), StoreError);
  auto s = StateStore::open(dir.path(), "job-A");
  ASSERT_EQ(s.devices().size(), 2u);
  EXPECT_EQ(s.find_device("bob")->id, 1);
  EXPECT_FALSE(s.find_device("carol"));
  EXPECT_THROW(StateStore::open_existing(dir / "nowhere"), StoreError);
}

TEST(CheckpointStore, RestoresThetaAndOptimizerAndPrunes) {
  test::TempDir dir;
  const lora::AdapterLayout layout(1, 1, 1.0f, {lora::TargetModule::q},
                                   {{lora::TargetModule::q, {2, 2}}, {lora::TargetModule::k, {2, 2}},
                                    {lora::TargetModule::v, {2, 2}}, {lora::TargetModule::o, {2, 2}},
                                    {lora::TargetModule::gate, {2, 2}}, {lora::TargetModule::up, {2, 2}},
                                    {lora::TargetModule::down, {2, 2}}});
  config::JobConfig job;
  job.federation.cohort_size = 1;
  job.server.optimizer.name = "fedavgm";
  auto make = [&] {
    return Coordinator(layout, Eigen::VectorXf::Zero(4), std::make_unique<FedOptStrategy>(strategy_config_for(job, 1), 4),
                       CoordinatorOptions{});
  };
  Coordinator a = make();
  const CheckpointStore store(dir.path());
  for (int r = 1; r <= 3; ++r) {
    a.open_round(std::vector<std::uint64_t>{0});
    UpdateAggregate agg;
    agg.weighted_sum = Eigen::VectorXd::Constant(4, 0.5 * r);
    agg.total_weight = 1;
    agg.num_contributors = 1;
    agg.expected_cohort_size = 1;
    a.close_round(agg);
    store.write(a, static_cast<std::uint64_t>(r));
  }
  store.prune(3, 2);
  EXPECT_FALSE(std::filesystem::exists(store.dir_of(1)));
  EXPECT_TRUE(std::filesystem::exists(store.dir_of(2)));
  Coordinator b = make();
  store.restore(b, 3);
  EXPECT_EQ(b.theta(), a.theta());
  EXPECT_EQ(b.next_round(), 4u);
  // The momentum came back too: the next identical round moves θ identically.
  for (Coordinator* c : {&a, &b}) {
    c->open_round(std::vector<std::uint64_t>{0});
    UpdateAggregate agg;
    agg.weighted_sum = Eigen::VectorXd::Constant(4, 1.0);
    agg.total_weight = 1;
    agg.num_contributors = 1;
    agg.expected_cohort_size = 1;
    c->close_round(agg);
  }
  EXPECT_EQ(b.theta(), a.theta());
  EXPECT_THROW(store.restore(b, 7), std::runtime_error);  // never written
}

TEST(TokenFile, ParsesAndNamesTheBadLine) {
  test::TempDir dir;
  const auto ok = dir.write("ok", "# devices\nalice 0123456789abcdef-A\nbob   0123456789abcdef-B  # second\n\n");
  const auto entries = read_token_file(ok);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].device, "bob");
  EXPECT_EQ(entries[0].token_sha256, token_sha256_hex("0123456789abcdef-A"));
  auto error = [&](const std::string& text) {
    try {
      read_token_file(dir.write("bad", text));
    } catch (const config::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error("alice\n").find("bad:1"), std::string::npos);
  EXPECT_NE(error("alice short\n").find("shorter than 16"), std::string::npos);
  EXPECT_NE(error("a/b 0123456789abcdef-A\n").find("device id"), std::string::npos);
  EXPECT_NE(error("alice 0123456789abcdef-A\nalice 0123456789abcdef-B\n").find(":2: device alice is listed twice"),
            std::string::npos);
  EXPECT_NE(error("alice 0123456789abcdef-A\nbob 0123456789abcdef-A\n").find("token is listed twice"), std::string::npos);
  EXPECT_THROW(read_token_file(dir / "missing"), config::ConfigError);
}

}  // namespace
}  // namespace fedlora::coordinator
