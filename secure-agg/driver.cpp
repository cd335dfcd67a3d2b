#include "secure-agg/driver.h"

#include <algorithm>
#include <ctime>
#include <memory>

#include "secure-agg/errors.h"
#include "secure-agg/identity.h"

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

// The roster and the identity key of each logical id (see DriverOptions::identities).
std::vector<crypto::Ed25519PrivateKey> fill_identities(RoundConfig& config, const DriverOptions& options,
                                                       std::uint64_t seed) {
  const std::uint32_t n = config.num_clients;
  std::vector<crypto::Ed25519PrivateKey> keys = options.identities;
  if (!config.roster.empty()) {
    if (keys.size() != config.roster.size()) {
      throw ConfigError("driver: the roster has " + std::to_string(config.roster.size()) + " entries but " +
                        std::to_string(keys.size()) + " identity keys were given");
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].public_key() != config.roster[i].identity) {
        throw ConfigError("driver: identity key " + std::to_string(i) + " does not match roster entry " + std::to_string(i));
      }
    }
    return keys;
  }
  if (keys.empty()) {
    for (std::uint32_t i = 0; i < n; ++i) {
      crypto::DeterministicRandom rng(seed, "identity " + std::to_string(i));
      keys.push_back(crypto::Ed25519PrivateKey::generate(rng));
    }
  }
  if (keys.size() != n) {
    throw ConfigError("driver: " + std::to_string(keys.size()) + " identity keys for n = " + std::to_string(n));
  }
  std::vector<RosterEntry> entries;
  for (const auto& k : keys) {
    RosterEntry e{k.public_key(), std::nullopt};
    if (options.enrolment_authority) e.enrolment = sign_enrolment(*options.enrolment_authority, e.identity);
    entries.push_back(e);
  }
  config.roster = make_roster(std::move(entries));
  std::sort(keys.begin(), keys.end(), [](const crypto::Ed25519PrivateKey& a, const crypto::Ed25519PrivateKey& b) {
    return a.public_key() < b.public_key();
  });
  return keys;
}

}  // namespace

DriverReport run_secagg_round_encoded(const RoundConfig& config, const std::vector<std::vector<std::uint64_t>>& inputs,
                                      const DropoutSchedule& schedule, std::uint64_t seed, const DriverHooks& hooks,
                                      const DriverOptions& options) {
  if (inputs.size() != config.num_clients) {
    throw ConfigError("driver: " + std::to_string(inputs.size()) + " inputs for n = " +
                      std::to_string(config.num_clients) + " clients");
  }
  return run_secagg_round_streaming(config, [&](ClientId u) { return inputs[u]; }, schedule, seed, hooks, options);
}

DriverReport run_secagg_round_streaming(const RoundConfig& config_in, const InputProvider& inputs,
                                        const DropoutSchedule& schedule, std::uint64_t seed, const DriverHooks& hooks,
                                        const DriverOptions& options) {
  RoundConfig config = config_in;
  const std::vector<crypto::Ed25519PrivateKey> identities = fill_identities(config, options, seed);
  const ClientPolicy policy = options.policy.value_or(ClientPolicy::unchecked());
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
  std::vector<char> offline(n, 0);  // refused the round or went silent per the schedule
  for (ClientId u = 0; u < n; ++u) {
    t0 = Clock::now();
    try {
      clients[u] = std::make_unique<ClientStateMachine>(
          config, identities[u], policy, std::make_unique<crypto::DeterministicRandom>(seed, "client " + std::to_string(u)));
    } catch (const PolicyError& e) {
      rep.client_errors[u] = e.what();
      offline[u] = 1;
    }
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
    rep.max_server_buffered_bytes = std::max(rep.max_server_buffered_bytes, server.buffered_bytes());
    const auto t = Clock::now();
    auto out = server.close_stage();
    rep.server_seconds += seconds_since(t);
    return out;
  };

  for (ClientId u = 0; u < n; ++u) {
    if (offline[u]) continue;
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
  for (ClientId u = 0; u < n; ++u) {
    if (clients[u]) rep.client_errors[u] = clients[u]->abort_reason();
  }
  rep.client_seconds = client_time;
  for (double t : client_time) {
    rep.client_seconds_total += t;
    rep.client_seconds_max = std::max(rep.client_seconds_max, t);
  }
  rep.outcome = server.outcome();
  rep.offences = server.offences();
  if (server.graph() != nullptr) rep.graph = *server.graph();
  rep.config = std::move(config);
  return rep;
}

SecAggSummary run_secagg_round(const RoundConfig& config, const FixedPointCodec& codec,
                               const std::vector<std::vector<float>>& inputs, std::span<const double> weights,
                               const DropoutSchedule& schedule, std::uint64_t seed, const DriverHooks& hooks,
                               const DriverOptions& options) {
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
  s.report = run_secagg_round_encoded(config, encoded, schedule, seed, hooks, options);
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
