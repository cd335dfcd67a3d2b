#include "secure-agg/driver.h"

#include <algorithm>
#include <ctime>
#include <memory>

#include "secure-agg/errors.h"

namespace fedlora::secagg {
namespace {
// CPU time of this thread: the driver is single-threaded, and CPU time stays meaningful
// on a shared machine where wall time includes waiting for the core.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
};
double seconds_since(double t0) { return Clock::now() - t0; }
}  // namespace

DriverReport run_secagg_round_encoded(const RoundConfig& config, const std::vector<std::vector<std::uint64_t>>& inputs,
                                      const DropoutSchedule& schedule, std::uint64_t seed, const DriverHooks& hooks) {
  if (inputs.size() != config.num_clients) {
    throw ConfigError("driver: " + std::to_string(inputs.size()) + " inputs for n = " +
                      std::to_string(config.num_clients) + " clients");
  }
  return run_secagg_round_streaming(config, [&](ClientId u) { return inputs[u]; }, schedule, seed, hooks);
}

DriverReport run_secagg_round_streaming(const RoundConfig& config, const InputProvider& inputs,
                                        const DropoutSchedule& schedule, std::uint64_t seed, const DriverHooks& hooks) {
  const std::uint32_t n = config.num_clients;
  if (!schedule.drop_before.empty() && schedule.drop_before.size() != n) {
    throw ConfigError("driver: dropout schedule has " + std::to_string(schedule.drop_before.size()) + " entries, n = " +
                      std::to_string(n));
  }
  DriverReport rep;
  rep.bytes_up.assign(n, 0);
  rep.bytes_down.assign(n, 0);
  rep.client_errors.assign(n, "");
  std::vector<double> client_time(n, 0.0);

  auto t0 = Clock::now();
  ServerStateMachine server(config);
  rep.server_seconds += seconds_since(t0);

  std::vector<std::unique_ptr<ClientStateMachine>> clients(n);
  for (ClientId u = 0; u < n; ++u) {
    t0 = Clock::now();
    clients[u] = std::make_unique<ClientStateMachine>(
        config, u, std::make_unique<crypto::DeterministicRandom>(seed, "client " + std::to_string(u)));
    client_time[u] += seconds_since(t0);
  }

  auto upload = [&](ClientId u, pb::ClientToServer msg) {
    rep.bytes_up[u] += msg.ByteSizeLong();
    if (hooks.on_upload) hooks.on_upload(u, msg);
    const auto t = Clock::now();
    server.receive(u, std::move(msg));
    rep.server_seconds += seconds_since(t);
  };
  auto close = [&](Stage s) {
    if (hooks.before_close) hooks.before_close(server, s);
    const auto t = Clock::now();
    auto out = server.close_stage();
    rep.server_seconds += seconds_since(t);
    return out;
  };

  std::vector<char> offline(n, 0);  // went silent per the schedule
  for (ClientId u = 0; u < n; ++u) {
    if (schedule.silent_at(u, Stage::kAdvertiseKeys)) {
      offline[u] = 1;
      continue;
    }
    t0 = Clock::now();
    auto msg = clients[u]->start();
    client_time[u] += seconds_since(t0);
    upload(u, std::move(msg));
  }
  std::vector<Outgoing> outgoing = close(Stage::kAdvertiseKeys);
  for (;;) {
    const std::optional<Stage> stage = server.stage();  // nullopt: these are the final aborts
    for (Outgoing& o : outgoing) {
      const ClientId u = o.to;
      rep.bytes_down[u] += o.message.ByteSizeLong();
      if (offline[u] || (stage && schedule.silent_at(u, *stage))) {
        offline[u] = 1;  // dropped out: never answers again
        continue;
      }
      if (hooks.on_download) hooks.on_download(u, o.message);
      if (o.message.has_masked_input() && clients[u]->awaiting() == Stage::kMaskedInputCollection) {
        clients[u]->set_input(inputs(u));
      }
      t0 = Clock::now();
      ClientStep step = clients[u]->handle(o.message);
      client_time[u] += seconds_since(t0);
      if (step.reply) upload(u, std::move(*step.reply));
    }
    if (!stage) break;
    outgoing = close(*stage);
  }
  for (ClientId u = 0; u < n; ++u) rep.client_errors[u] = clients[u]->abort_reason();
  rep.client_seconds = client_time;
  for (double t : client_time) {
    rep.client_seconds_total += t;
    rep.client_seconds_max = std::max(rep.client_seconds_max, t);
  }
  rep.outcome = server.outcome();
  rep.offences = server.offences();
  return rep;
}

SecAggSummary run_secagg_round(const RoundConfig& config, const FixedPointCodec& codec,
                               const std::vector<std::vector<float>>& inputs, std::span<const double> weights,
                               const DropoutSchedule& schedule, std::uint64_t seed, const DriverHooks& hooks) {
  const bool weighted = codec.params().weight_clip.has_value();
  if (weighted && weights.size() != inputs.size()) {
    throw ConfigError("driver: the codec has a weight coordinate; give one weight per client");
  }
  if (!weighted && !weights.empty()) throw ConfigError("driver: weights given but the codec has no weight_clip");
  if (codec.params().word_bits != config.word_bits) {
    throw ConfigError("driver: codec word_bits " + std::to_string(codec.params().word_bits) +
                      " differs from the round's " + std::to_string(config.word_bits));
  }
  if (codec.params().max_contributors < config.num_clients) {
    throw ConfigError("driver: codec max_contributors " + std::to_string(codec.params().max_contributors) +
                      " is below n = " + std::to_string(config.num_clients) + ": the sum could wrap");
  }
  std::vector<std::vector<std::uint64_t>> encoded(inputs.size());
  for (std::size_t u = 0; u < inputs.size(); ++u) {
    if (codec.encoded_length(inputs[u].size()) != config.vector_length) {
      throw ConfigError("driver: client " + std::to_string(u) + " encodes to " +
                        std::to_string(codec.encoded_length(inputs[u].size())) + " words, round expects m = " +
                        std::to_string(config.vector_length));
    }
    crypto::DeterministicRandom rng(seed, "encode " + std::to_string(u));
    encoded[u] = codec.encode(inputs[u], rng, weighted ? std::optional<double>(weights[u]) : std::nullopt);
  }
  SecAggSummary s;
  s.report = run_secagg_round_encoded(config, encoded, schedule, seed, hooks);
  if (const auto* ab = std::get_if<RoundAborted>(&s.report.outcome)) {
    s.aborted = true;
    s.abort_reason = ab->reason;
    return s;
  }
  const auto& res = std::get<RoundResult>(s.report.outcome);
  auto dec = codec.decode_sum(res.sum, static_cast<std::uint32_t>(res.survivors.size()));
  s.sum = std::move(dec.values);
  s.weight_sum = dec.weight_sum;
  s.survivors = res.survivors;
  return s;
}

}  // namespace fedlora::secagg
