// The deployment end to end, in separate processes on loopback: a fedlora-coordinator (TLS,
// bearer tokens) and fedlora-client devices. SecAgg with user-level DP over three rounds; a
// coordinator killed with SIGKILL at each crash point and restarted loses no committed round;
// a device killed during SecAgg leaves a round that completes through dropout recovery; a
// device without valid credentials is refused.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "coordinator/service/state_store.h"
#include "tests/e2e/deployment_harness.h"
#include "tests/e2e/tcp_tap.h"

namespace fedlora::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const char* kSecAggJob = R"(
[lora]
rank = 2
alpha = 4.0
target_modules = ["q", "v"]
[federation]
rounds = 3
cohort_size = 5
[client]
epochs = 1
batch_size = 4
lr = 0.01
max_steps = 3
[server]
weighting = "uniform"
[secagg]
enabled = true
graph = "complete"
threshold = 3
)";

std::vector<json> metrics_lines(const std::filesystem::path& state) {
  std::vector<json> out;
  std::ifstream in(state / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

TEST(Deployment, FiveDevicesThreeRoundsWithSecAggAndUserLevelDp) {
  const std::string job = std::string(kSecAggJob) + R"(
[user_dp]
enabled = true
mode = "distributed"
noise_multiplier = 0.5
l2_norm_clip = 1.0
)";
  Deployment d(5, job, "over_selection = 1.0\nstage_deadline_ms = 20000\n");
  auto coordinator = d.start_coordinator();
  std::vector<std::unique_ptr<sim::ChildProcess>> devices;
  for (int i = 0; i < 5; ++i) devices.push_back(d.start_device(i));
  ASSERT_EQ(Deployment::wait_for(*coordinator, 180), 0) << d.log_of("coordinator");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Deployment::wait_for(*devices[i], 30), 0) << d.log_of(d.device(i));

  const auto store = coordinator::StateStore::open_existing(d.state_dir());
  ASSERT_EQ(store.committed_round(), 3u);
  std::set<std::string> adapters;
  for (const auto& r : store.rounds()) {
    EXPECT_FALSE(r.aborted) << r.abort_reason;
    EXPECT_EQ(r.contributors, 5);
    adapters.insert(std::string(r.adapter_sha256.begin(), r.adapter_sha256.end()));
  }
  EXPECT_EQ(adapters.size(), 3u);  // θ changed every round
  const auto lines = metrics_lines(d.state_dir());
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& l : lines) {
    EXPECT_TRUE(l.contains("secagg")) << l;
    // A private run reports ε per adversary.
    ASSERT_TRUE(l.contains("user_dp")) << l;
    EXPECT_EQ(l["private"], true);
    EXPECT_TRUE(l["user_dp"]["epsilon"]["released_model"]["epsilon"].is_number()) << l;
    EXPECT_TRUE(l["user_dp"]["epsilon"]["coordinator"]["epsilon"].is_number()) << l;  // distributed: finite
    EXPECT_GT(l["bytes_up"].get<std::int64_t>(), 0);
    EXPECT_GT(l["bytes_down"].get<std::int64_t>(), 0);
  }
  auto coordinator_eps = [](const nlohmann::json& l) {
    return l["user_dp"]["epsilon"]["coordinator"]["epsilon"].get<double>();
  };
  EXPECT_LT(coordinator_eps(lines[0]), coordinator_eps(lines[2]));
  // `fedlora-coordinator status` shows the same two figures as the last metrics line.
  const std::string cmd = (fs::path(FEDLORA_BIN_DIR) / "fedlora-coordinator").string() + " status --json --state " +
                          d.state_dir().string();
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    EXPECT_EQ(pclose(f), 0);
  }
  const auto status = nlohmann::json::parse(out);
  EXPECT_EQ(status["rounds_committed"], 3);
  EXPECT_EQ(status["user_epsilon"]["coordinator"]["epsilon"], lines[2]["user_dp"]["epsilon"]["coordinator"]["epsilon"]);
  EXPECT_EQ(status["user_epsilon"]["released_model"]["epsilon"],
            lines[2]["user_dp"]["epsilon"]["released_model"]["epsilon"]);
  EXPECT_NE(d.log_of(d.device(0)).find("the job is finished"), std::string::npos) << d.log_of(d.device(0));
}

class CoordinatorCrash : public ::testing::TestWithParam<const char*> {};

TEST_P(CoordinatorCrash, RestartLosesNoCommittedRound) {
  Deployment d(3, std::string(kSecAggJob).replace(std::string(kSecAggJob).find("cohort_size = 5"), 15, "cohort_size = 3"),
               "over_selection = 1.0\nstage_deadline_ms = 20000\n");
  auto first = d.start_coordinator(GetParam());
  std::vector<std::unique_ptr<sim::ChildProcess>> devices;
  for (int i = 0; i < 3; ++i) devices.push_back(d.start_device(i));
  const int crashed = Deployment::wait_for(*first, 120);
  ASSERT_EQ(crashed, 128 + SIGKILL) << "the failpoint did not fire:\n" << d.log_of("coordinator");
  const auto before = coordinator::StateStore::open_existing(d.state_dir()).committed_round();
  auto second = d.start_coordinator();
  ASSERT_EQ(Deployment::wait_for(*second, 180), 0) << d.log_of("coordinator");
  for (auto& dev : devices) Deployment::wait_for(*dev, 30);

  const auto store = coordinator::StateStore::open_existing(d.state_dir());
  EXPECT_GE(store.committed_round(), before);  // nothing committed was lost
  ASSERT_EQ(store.committed_round(), 3u);
  const auto rows = store.rounds();
  for (std::size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i].round, i + 1);
  const auto lines = metrics_lines(d.state_dir());  // rewritten whole: never torn or duplicated
  ASSERT_EQ(lines.size(), 3u);
  for (int r = 1; r <= 3; ++r) EXPECT_EQ(lines[static_cast<std::size_t>(r - 1)]["round"], r);
  if (before > 0) EXPECT_NE(d.log_of("coordinator").find("resumed after round"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(AtEachCrashPoint, CoordinatorCrash,
                         ::testing::Values("round_opened", "stage_closed", "checkpoint_written", "round_committed"));

TEST(Deployment, DeviceKilledDuringSecAggLeavesARoundThatCompletes) {
  std::string job = kSecAggJob;
  job.replace(job.find("rounds = 3"), 10, "rounds = 1");
  Deployment d(5, job, "over_selection = 1.0\nstage_deadline_ms = 3000\n");
  auto coordinator = d.start_coordinator();
  std::vector<std::unique_ptr<sim::ChildProcess>> devices;
  // Devices accept losing one of their 4 neighbours (⌊0.25·4⌋ = 1); the default 10% would
  // make each of them fail closed as isolated when one neighbour of five dies.
  const std::vector<std::string> tolerate_one{"--secagg-dropout-fraction", "0.25"};
  for (int i = 0; i < 4; ++i) devices.push_back(d.start_device(i, tolerate_one));
  devices.push_back(d.start_device(4, tolerate_one, "device_secagg_share_keys"));  // dies after sharing its keys
  ASSERT_EQ(Deployment::wait_for(*coordinator, 120), 0) << d.log_of("coordinator");
  EXPECT_EQ(Deployment::wait_for(*devices[4], 5), 128 + SIGKILL);
  const auto store = coordinator::StateStore::open_existing(d.state_dir());
  const auto r = store.round(1);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->aborted) << r->abort_reason;
  EXPECT_EQ(r->contributors, 4);  // its mask key was reconstructed from the survivors' shares
}

TEST(Deployment, DevicesWithoutValidCredentialsAreRefused) {
  Deployment d(2, std::string(kSecAggJob));
  auto coordinator = d.start_coordinator();
  std::ofstream(d.dir() / "wrong.token") << "not-a-token-of-this-job-000\n";
  auto intruder = d.start_device(0, {"--token", (d.dir() / "wrong.token").string()});
  EXPECT_EQ(Deployment::wait_for(*intruder, 30), 1);
  EXPECT_NE(d.log_of(d.device(0)).find("unknown bearer token"), std::string::npos) << d.log_of(d.device(0));
  coordinator->signal(SIGTERM);  // drains and exits 0
  EXPECT_EQ(Deployment::wait_for(*coordinator, 30), 0) << d.log_of("coordinator");
  EXPECT_EQ(coordinator::StateStore::open_existing(d.state_dir()).committed_round(), 0u);
}

TEST(Deployment, ADeviceSendsOnlyItsCheckInAndItsUpdate) {
  // Plaintext on loopback through a tap that records every byte the device sends.
  std::string job = kSecAggJob;
  job.replace(job.find("[secagg]\nenabled = true"), 23, "[secagg]\nenabled = false");
  job.replace(job.find("cohort_size = 5"), 15, "cohort_size = 1");
  job.replace(job.find("rounds = 3"), 10, "rounds = 2");
  Deployment d(1, job, "over_selection = 1.0\n");
  auto coordinator = d.start_coordinator("", /*insecure=*/true);
  const int port = std::stoi(d.address().substr(d.address().rfind(':') + 1));
  TcpTap tap(port);
  auto device = std::make_unique<sim::ChildProcess>(
      std::vector<std::string>{std::filesystem::path(FEDLORA_BIN_DIR) / "fedlora-client", "run", "--coordinator",
                               "127.0.0.1:" + std::to_string(tap.port()), "--insecure", "--base",
                               (d.dir() / "tiny.gguf").string(), "--quantize", "f32", "--data",
                               (d.dir() / "dev0.txt").string(), "--state", (d.dir() / "state-dev0").string(),
                               "--device-id", "dev0", "--token", (d.dir() / "dev0.token").string()},
      d.dir() / "dev0.log", false);
  ASSERT_EQ(Deployment::wait_for(*coordinator, 120), 0) << d.log_of("coordinator");
  ASSERT_EQ(Deployment::wait_for(*device, 30), 0) << d.log_of("dev0");
  const std::string wire = tap.sent();
  ASSERT_GT(wire.size(), 0u);
  // The device's text: no 12-byte piece of it is on the wire, as text or as the token ids
  // the tiny vocabulary gives it (byte b -> id b + 3, int32 little-endian).
  const std::string text = "the cat sat on the mat and the cat sat again";
  for (std::size_t i = 0; i + 12 <= text.size(); ++i) {
    ASSERT_EQ(wire.find(text.substr(i, 12)), std::string::npos) << "raw text on the wire at " << i;
    std::string ids;
    for (char c : text.substr(i, 12)) {
      const std::int32_t id = static_cast<unsigned char>(c) + 3;
      ids.append(reinterpret_cast<const char*>(&id), 4);
    }
    ASSERT_EQ(wire.find(ids), std::string::npos) << "token ids on the wire at " << i;
  }
  // What it may send: check-ins and its two uploads (bytes_up in the coordinator's metrics);
  // 64 KiB covers the check-ins and HTTP/2 framing, far less than any text it holds.
  std::int64_t uploads = 0;
  for (const auto& l : metrics_lines(d.state_dir())) uploads += l["bytes_up"].get<std::int64_t>();
  EXPECT_GT(uploads, 0);
  EXPECT_LT(static_cast<std::int64_t>(wire.size()), uploads + 64 * 1024)
      << "the device sent " << wire.size() << " bytes for " << uploads << " bytes of updates";
}

}  // namespace
}  // namespace fedlora::test
