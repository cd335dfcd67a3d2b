#include "simulator/run/inproc_transport.h"

#include <algorithm>

#include "coordinator/protocol/errors.h"
#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/protocol/seeds.h"

namespace fedlora::sim {
using secagg::Stage;

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

client::DeviceContext virtual_device_context(const VirtualFleet& vf, std::uint64_t id,
                                             const std::vector<lora::TokenSeq>& train) {
  client::DeviceContext c;
  c.base = vf.base;
  c.base_model_sha256 = vf.base_model_sha256;
  c.train_examples = &train;
  c.ledger = vf.ledger;
  if (vf.dp_budget) c.privacy = client::DevicePrivacy{std::to_string(id), *vf.dp_budget};
  c.randomness = client::DeviceRandomness{vf.research_seed, id};
  if (id < vf.identities.size()) c.identity = &vf.identities[id];
  c.secagg_policy = vf.secagg_policy;
  c.memory_budget_mb = vf.memory_budget_mb;
  if (vf.profiles) {  // the device class's memory caps the budget
    const double class_mb = vf.profiles->device_class(id).memory_mb;
    if (class_mb > 0) c.memory_budget_mb = c.memory_budget_mb ? std::min(*c.memory_budget_mb, class_mb) : class_mb;
  }
  c.base_gemm = vf.base_gemm;
  return c;
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
  const auto stages = round_stages(secure && opened.instructions[0].secagg->config->consistency_check);
  MemberSilence silence = draw_dropouts(run_seed_, opened.round, opened.cohort, dropout_rate_, secure, stages);
  for (std::size_t i = 0; i < k; ++i) {
    out.devices[i].dropped = silence.from(i).has_value();
    if (secure) out.devices[i].dropped_before = silence.from(i);
  }

  // The cohort's windows exist from here to the end of the round (tokenized in parallel).
  std::vector<std::shared_ptr<const client::UserExamples>> held(k);
  std::vector<std::size_t> all(k);
  for (std::size_t i = 0; i < k; ++i) all[i] = i;
  pool_.run(all, [&](std::size_t i, int) { held[i] = fleet.examples(opened.cohort[i]); });

  // Each device checks its instructions as received on the wire.
  std::vector<client::DeviceContext> contexts(k);
  std::vector<std::optional<client::DeviceRound>> devices(k);
  for (std::size_t i = 0; i < k; ++i) {
    contexts[i] = virtual_device_context(fleet_, opened.cohort[i], held[i]->train);
    try {
      devices[i].emplace(contexts[i], protocol::from_proto(protocol::to_proto(opened.instructions[i])));
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
    if (devices[i] && !silence.silent(i, Stage::kMaskedInputCollection)) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return fleet.meta(opened.cohort[a]).train_targets > fleet.meta(opened.cohort[b]).train_targets;
  });
  pool_.run(order, [&](std::size_t i, int) { devices[i]->train(theta); });

  auto reports = [&](std::size_t i) {
    return member_reports(devices[i].has_value(), devices[i] ? devices[i]->report().status : client::DeviceStatus::kAccepted,
                          silence, i, secure);
  };
  if (clock) {
    std::vector<client::DeviceRoundReport> rep(k);
    std::vector<bool> reporting(k);
    for (std::size_t i = 0; i < k; ++i) {
      if (devices[i]) rep[i] = devices[i]->report();
      reporting[i] = reports(i);
    }
    out.clock = clock_round(*clock, opened.cohort, rep, reporting, secure, stages, silence);
    for (std::size_t i = 0; i < k; ++i) out.devices[i].fate = out.clock->cut.fate[i];
  }
  if (!secure) {
    for (std::size_t i = 0; i < k; ++i) {
      if (reports(i)) {
        channel.receive_plain(static_cast<coordinator::MemberIndex>(i), devices[i]->take_plain_upload());
      } else {
        channel.drop(static_cast<coordinator::MemberIndex>(i), "no upload");
      }
    }
    channel.close_stage();
  } else {
    for (std::size_t i = 0; i < k; ++i) {
      if (reports(i)) {
        channel.receive_secagg(static_cast<coordinator::MemberIndex>(i), devices[i]->secagg_start());
      } else {
        channel.drop(static_cast<coordinator::MemberIndex>(i), "not reporting");
      }
    }
    while (!channel.finished()) {
      for (auto& down : channel.close_stage()) {
        const std::size_t i = down.to;
        const auto stage = static_cast<Stage>(down.message.header().stage());
        if (!devices[i] || silence.silent(i, stage)) continue;
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
