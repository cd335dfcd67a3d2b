#include "client/runtime/device_runtime.h"

#include <openssl/rand.h>

#include <algorithm>
#include <thread>

#include "coordinator/protocol/errors.h"
#include "coordinator/protocol/failpoint.h"
#include "coordinator/protocol/instructions_wire.h"

namespace fedlora::client {
namespace {

std::uint64_t os_seed() {
  std::uint64_t s = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&s), sizeof s) != 1) s = 0x9E3779B97F4A7C15ull;
  return s;
}

}  // namespace

DeviceRuntime::DeviceRuntime(RuntimeOptions options, CoordinatorLink& link, DeviceContext& device, DeviceState* state)
    : options_(std::move(options)), link_(link), device_(device), state_(state),
      jitter_(options_.jitter_seed ? options_.jitter_seed : os_seed()) {}

void DeviceRuntime::say(const std::string& s) const {
  if (log) log(options_.device_id + ": " + s);
}

std::chrono::milliseconds DeviceRuntime::backoff() {
  // Exponential backoff with full jitter: uniform in [0, min(max, base · 2^failures)].
  const auto cap = std::min<std::int64_t>(options_.max_backoff.count(),
                                          options_.min_backoff.count() << std::min(failures_, 20));
  ++failures_;
  return std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(cap, 1))(jitter_));
}

RuntimeExit DeviceRuntime::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    const auto wait = step();
    if (!wait) return exit_;
    // Sleep in short slices so that `stop` is honoured promptly.
    const auto until = std::chrono::steady_clock::now() + *wait;
    while (!stop.load() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
          std::chrono::milliseconds(50),
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()) +
              std::chrono::milliseconds(1)));
  }
  return RuntimeExit::kStopped;
}

std::optional<std::chrono::milliseconds> DeviceRuntime::step() {
  v1::CheckInRequest req;
  req.set_device_id(options_.device_id);
  req.set_base_model_sha256(device_.base_model_sha256.data(), device_.base_model_sha256.size());
  req.set_num_examples(static_cast<std::int64_t>(device_.train_examples->size()));
  req.set_runtime_version(options_.runtime_version);
  if (device_.identity) {
    const auto pk = device_.identity->public_key();
    req.set_identity_public_key(pk.data(), pk.size());
  }
  v1::CheckInResponse resp;
  try {
    resp = link_.check_in(req);
  } catch (const LinkError& e) {
    if (!e.transient()) throw;
    const auto wait = backoff();
    say(std::string(e.what()) + "; retrying in " + std::to_string(wait.count()) + " ms");
    return wait;
  }
  if (resp.has_retry()) {
    failures_ = 0;
    const auto& r = resp.retry();
    if (r.reason() == "the job is finished") {
      exit_ = RuntimeExit::kJobFinished;
      return std::nullopt;
    }
    // The coordinator's window plus up to 10% jitter, so devices do not return in lockstep.
    const auto base = static_cast<std::int64_t>(std::clamp<std::uint32_t>(r.retry_after_ms(), 1, 3'600'000));
    return std::chrono::milliseconds(base + std::uniform_int_distribution<std::int64_t>(0, base / 10)(jitter_));
  }
  if (!resp.has_task()) return backoff();
  try {
    participate(resp.task());
    failures_ = 0;
  } catch (const LinkError& e) {
    if (!e.transient() && e.code != grpc::StatusCode::FAILED_PRECONDITION && e.code != grpc::StatusCode::DATA_LOSS &&
        e.code != grpc::StatusCode::ALREADY_EXISTS && e.code != grpc::StatusCode::INVALID_ARGUMENT)
      throw;
    say(std::string("round ") + std::to_string(resp.task().round()) + " failed: " + e.what());
    return backoff();
  }
  if (exit_ == RuntimeExit::kBudgetSpent) return std::nullopt;
  if (options_.max_rounds > 0 && rounds_done_ >= options_.max_rounds) {
    exit_ = RuntimeExit::kMaxRounds;
    return std::nullopt;
  }
  return std::chrono::milliseconds(0);
}

void DeviceRuntime::participate(const v1::TaskAssignment& task) {
  Participation p;
  p.round = task.round();
  std::optional<DeviceRound> round;
  try {
    round.emplace(device_, protocol::from_proto(task.instructions()));
  } catch (const protocol::ProtocolError& e) {
    say(std::string("refused round ") + std::to_string(task.round()) + ": " + e.what());
    return;
  } catch (const TaskRefused& e) {
    say(std::string("refused round ") + std::to_string(task.round()) + ": " + e.what());
    return;
  }
  const std::string bytes = link_.download(task.round(), task.round_token(), task.adapter());
  const auto theta = protocol::decode_floats(bytes, static_cast<std::size_t>(round->layout().size()));
  if (state_) state_->save_global_adapter(task.round(), bytes);
  DeviceStatus st = DeviceStatus::kAccepted;
  const auto train = [&] { st = round->train(theta); };
  if (options_.train_gate) options_.train_gate(train);
  else train();
  p.secure = round->instructions().secagg.has_value();
  if (st == DeviceStatus::kRefusedBudget) {
    say("privacy budget spent: refusing round " + std::to_string(task.round()) + " and stopping");
    exit_ = RuntimeExit::kBudgetSpent;
  } else if (st == DeviceStatus::kRejected) {
    say("training diverged in round " + std::to_string(task.round()) + ": " + round->report().error);
  } else if (!p.secure) {
    link_.upload(task.round(), task.round_token(), round->take_plain_upload());
    ++rounds_done_;
  } else {
    const auto& d = round->instructions().deadlines;
    const auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(d.train_ms + 6 * d.secagg_stage_ms);
    auto stream = link_.open_secagg(task.round(), task.round_token(), deadline);
    stream->send(round->secagg_start());
    while (auto m = stream->receive()) {
      if (auto reply = round->secagg_handle(m->first)) {
        stream->send(*reply);
        if (reply->has_share_keys()) protocol::failpoint("device_secagg_share_keys");
      }
      if (!round->secagg_awaiting()) break;  // finished or aborted: nothing more to answer
    }
    stream->finish();
    ++rounds_done_;
  }
  p.report = round->report();
  std::string memory;
  if (p.report.tokens && p.report.peak_rss_bytes >= 0) {
    memory = ", peak RSS " + std::to_string(p.report.peak_rss_bytes / 1000000) + " MB";
    if (p.report.micro_batched) memory += ", micro-batch " + std::to_string(p.report.memory.micro_batch);
    if (p.report.memory.activation_checkpointing) memory += ", checkpointed";
  }
  say("round " + std::to_string(task.round()) + ": " + to_string(p.report.status) +
      (p.report.tokens ? ", local loss " + std::to_string(p.report.train_loss) : std::string()) + memory);
  if (on_participation) on_participation(p);
}

}  // namespace fedlora::client
