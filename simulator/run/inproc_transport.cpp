#include "simulator/run/inproc_transport.h"

#include <algorithm>

#include "coordinator/protocol/errors.h"
#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/protocol/seeds.h"

namespace fedlora::sim {
namespace {

using secagg::Stage;

bool draws_below(std::uint64_t seed, double p) { return static_cast<double>(seed >> 11) * 0x1.0p-53 < p; }

}  // namespace

std::vector<secagg::crypto::Ed25519PrivateKey> virtual_identities(std::size_t n, std::optional<std::uint64_t> research_seed) {
  std::vector<secagg::crypto::Ed25519PrivateKey> keys;
  keys.reserve(n);
  secagg::crypto::SystemRandom os;
  for (std::size_t i = 0; i < n; ++i) {
    if (research_seed) {
      secagg::crypto::DeterministicRandom rng(*research_seed, "identity " + std::to_string(i));
      keys.push_back(secagg::crypto::Ed25519PrivateKey::generate(rng));
    } else {
      keys.push_back(secagg::crypto::Ed25519PrivateKey::generate(os));
    }
  }
  return keys;
}

secagg::ClientPolicy virtual_device_policy(const config::SecAggSection& s) {
  auto policy = secagg::ClientPolicy::for_threat(secagg::ThreatModel{
      s.corrupt_fraction, s.dropout_fraction,
      s.consistency_check ? secagg::AdversaryModel::kSemiMalicious : secagg::AdversaryModel::kSemiHonest});
  policy.min_graph_seed_work = static_cast<unsigned>(s.graph_seed_work);
  return policy;
}

coordinator::DeviceFacts virtual_device_facts(const VirtualFleet& vf) {
  coordinator::DeviceFacts f;
  f.examples = [&vf](std::uint64_t id) { return static_cast<std::int64_t>(vf.fleet.meta(id).train_examples); };
  f.identity = [&vf](std::uint64_t id) -> std::optional<secagg::crypto::Ed25519PublicKey> {
    if (id >= vf.identities.size()) return std::nullopt;
    return vf.identities[id].public_key();
  };
  return f;
}

InprocTransport::InprocTransport(WorkerPool& pool, VirtualFleet fleet, double dropout_rate, std::uint64_t run_seed)
    : pool_(pool), fleet_(std::move(fleet)), dropout_rate_(dropout_rate), run_seed_(run_seed) {}

InprocRound InprocTransport::run_round(coordinator::RoundDriver& driver, std::span<const std::uint64_t> available,
                                       const std::unordered_set<std::uint64_t>& ineligible, const RoundClockSpec* clock) {
  const Fleet& fleet = fleet_.fleet;
  const auto& opened = driver.open_round(available, ineligible, virtual_device_facts(fleet_));
  const std::size_t k = opened.cohort.size();
  InprocRound out;
  out.devices.resize(k);
  for (std::size_t i = 0; i < k; ++i) out.devices[i].device = opened.cohort[i];
  if (opened.setup_failure) {
    out.report = driver.finish_round();
    return out;
  }
  coordinator::AggregationChannel& channel = *driver.channel();
  const bool secure = channel.secure();
  const std::span<const float> theta(opened.theta->data(), static_cast<std::size_t>(opened.theta->size()));
  driver.add_download_bytes(static_cast<std::int64_t>(k * theta.size() * sizeof(float)));  // θ_t to every member

  // Simulated dropouts: plain rounds drop before uploading; SecAgg rounds before a stage.
  std::vector<Stage> stages{Stage::kAdvertiseKeys, Stage::kShareKeys, Stage::kMaskedInputCollection};
  if (secure && opened.instructions[0].secagg->config->consistency_check) stages.push_back(Stage::kConsistencyCheck);
  stages.push_back(Stage::kUnmasking);
  std::vector<std::optional<Stage>> silent_from(k);
  for (std::size_t i = 0; i < k; ++i) {
    const std::uint64_t s = protocol::derive_seed(run_seed_, {0xD80, opened.round, opened.cohort[i]});
    if (!draws_below(s, dropout_rate_)) continue;
    out.devices[i].dropped = true;
    silent_from[i] = secure ? stages[protocol::derive_seed(s, {1}) % stages.size()] : Stage::kAdvertiseKeys;
    if (secure) out.devices[i].dropped_before = silent_from[i];
  }
  auto silent = [&](std::size_t i, Stage at) {
    return silent_from[i] && static_cast<int>(at) >= static_cast<int>(*silent_from[i]);
  };

  // The cohort's windows exist from here to the end of the round (tokenized in parallel).
  std::vector<std::shared_ptr<const client::UserExamples>> held(k);
  std::vector<std::size_t> all(k);
  for (std::size_t i = 0; i < k; ++i) all[i] = i;
  pool_.run(all, [&](std::size_t i, int) { held[i] = fleet.examples(opened.cohort[i]); });

  // Each device checks its instructions as received on the wire.
  std::vector<client::DeviceContext> contexts(k);
  std::vector<std::optional<client::DeviceRound>> devices(k);
  for (std::size_t i = 0; i < k; ++i) {
    const std::uint64_t id = opened.cohort[i];
    auto& c = contexts[i];
    c.base = fleet_.base;
    c.base_model_sha256 = fleet_.base_model_sha256;
    c.train_examples = &held[i]->train;
    c.ledger = fleet_.ledger;
    if (fleet_.dp_budget) c.privacy = client::DevicePrivacy{std::to_string(id), *fleet_.dp_budget};
    c.randomness = client::DeviceRandomness{fleet_.research_seed, id};
    if (id < fleet_.identities.size()) c.identity = &fleet_.identities[id];
    c.secagg_policy = fleet_.secagg_policy;
    c.memory_budget_mb = fleet_.memory_budget_mb;
    if (fleet_.profiles) {  // the device class's memory caps the budget
      const double class_mb = fleet_.profiles->device_class(id).memory_mb;
      if (class_mb > 0) c.memory_budget_mb = c.memory_budget_mb ? std::min(*c.memory_budget_mb, class_mb) : class_mb;
    }
    c.base_gemm = fleet_.base_gemm;
    try {
      devices[i].emplace(c, protocol::from_proto(protocol::to_proto(opened.instructions[i])));
    } catch (const client::TaskRefused& e) {
      out.devices[i].refused_task = e.what();
    } catch (const protocol::ProtocolError& e) {
      out.devices[i].refused_task = e.what();
    }
  }

  // Local training, one device per worker, longest first. A device whose input would never
  // be used (it goes silent before MaskedInputCollection) does not train.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < k; ++i)
    if (devices[i] && !silent(i, Stage::kMaskedInputCollection)) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return fleet.meta(opened.cohort[a]).train_targets > fleet.meta(opened.cohort[b]).train_targets;
  });
  pool_.run(order, [&](std::size_t i, int) { devices[i]->train(theta); });

  auto trained = [&](std::size_t i) { return devices[i] && devices[i]->report().status == client::DeviceStatus::kReady; };
  auto untrained_but_present = [&](std::size_t i) {
    return devices[i] && devices[i]->report().status == client::DeviceStatus::kAccepted &&
           silent(i, Stage::kMaskedInputCollection);
  };
  auto go_silent_from = [&](std::size_t i, Stage at) {
    if (!silent_from[i] || static_cast<int>(at) < static_cast<int>(*silent_from[i])) silent_from[i] = at;
  };
  if (clock) {
    // Simulated arrival order: the reporting phase takes the first `target` reports.
    ClockedRound cr;
    cr.times.resize(k);
    const client::DeviceRoundReport none;
    for (std::size_t i = 0; i < k; ++i) {
      const bool reports = (trained(i) || untrained_but_present(i)) && !silent(i, Stage::kAdvertiseKeys);
      cr.times[i] = clock->timer->time(opened.cohort[i], clock->open_s, devices[i] ? devices[i]->report() : none, reports);
    }
    cr.cut = cut_round(cr.times, clock->target, clock->deadline_s);
    for (std::size_t i = 0; i < k; ++i) {
      out.devices[i].fate = cr.cut.fate[i];
      if (cr.cut.fate[i] == MemberFate::straggler || cr.cut.fate[i] == MemberFate::left)
        go_silent_from(i, Stage::kAdvertiseKeys);
    }
    double t = cr.cut.close_s;
    if (secure) {
      // Each later stage is a round trip at the slowest reporting member's latency; the
      // masked input also pays its upload. A member whose session ends before a stage
      // ends goes silent from that stage.
      double latency = 0, upload = 0;
      for (std::size_t i = 0; i < k; ++i)
        if (cr.cut.fate[i] == MemberFate::reported) {
          latency = std::max(latency, cr.times[i].latency_s);
          upload = std::max(upload, cr.times[i].input_upload_s);
        }
      for (std::size_t s = 1; s < stages.size(); ++s) {
        t += 2 * latency + (stages[s] == Stage::kMaskedInputCollection ? upload : 0.0);
        for (std::size_t i = 0; i < k; ++i)
          if (cr.cut.fate[i] == MemberFate::reported && cr.times[i].leaves_s < t) go_silent_from(i, stages[s]);
      }
    }
    cr.duration_s = t;
    out.clock = std::move(cr);
  }
  if (!secure) {
    for (std::size_t i = 0; i < k; ++i) {
      if (trained(i) && !silent(i, Stage::kAdvertiseKeys)) {
        channel.receive_plain(static_cast<coordinator::MemberIndex>(i), devices[i]->take_plain_upload());
      } else {
        channel.drop(static_cast<coordinator::MemberIndex>(i), "no upload");
      }
    }
    channel.close_stage();
  } else {
    for (std::size_t i = 0; i < k; ++i) {
      if ((trained(i) || untrained_but_present(i)) && !silent(i, Stage::kAdvertiseKeys)) {
        channel.receive_secagg(static_cast<coordinator::MemberIndex>(i), devices[i]->secagg_start());
      } else {
        channel.drop(static_cast<coordinator::MemberIndex>(i), "not reporting");
      }
    }
    while (!channel.finished()) {
      for (auto& down : channel.close_stage()) {
        const std::size_t i = down.to;
        const auto stage = static_cast<Stage>(down.message.header().stage());
        if (!devices[i] || silent(i, stage)) continue;
        if (auto reply = devices[i]->secagg_handle(down.message))
          channel.receive_secagg(down.to, std::move(*reply));
      }
    }
  }
  out.report = driver.finish_round();
  for (std::size_t i = 0; i < k; ++i)
    if (devices[i]) out.devices[i].report = devices[i]->report();
  return out;
}

}  // namespace fedlora::sim
