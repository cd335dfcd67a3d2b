#include "simulator/multi/sharded_transport.h"

#include <algorithm>
#include <exception>
#include <map>

#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/round/plain_sum_channel.h"
#include "coordinator/round/secagg_channel.h"
#include "secure-agg/wire.h"

namespace fedlora::sim {
namespace {

using secagg::Stage;

std::string key(std::uint64_t seq, const std::string& what, int rank = -1) {
  return "r" + std::to_string(seq) + "/" + what + (rank >= 0 ? "/" + std::to_string(rank) : "");
}

std::string take_once(RankGroup& g, const std::string& k) {
  std::string v = g.take(k);
  g.erase(k);
  return v;
}

// Stage 0 is AdvertiseKeys; later stages are numbered as the channel closes them.
std::string stage_key(std::uint64_t seq, int stage, const char* dir, int rank) {
  return key(seq, "s" + std::to_string(stage) + "/" + dir, rank);
}

}  // namespace

std::vector<secagg::crypto::Ed25519PublicKey> exchange_identities(
    RankGroup& group, const std::vector<secagg::crypto::Ed25519PrivateKey>& identities) {
  const int world = group.world_size();
  std::string mine;
  for (std::uint64_t id = 0; id < identities.size(); ++id)
    if (host_rank(id, world) == group.rank()) {
      const auto pk = identities[id].public_key();
      mine.append(reinterpret_cast<const char*>(pk.data()), pk.size());
    }
  group.put("identities/" + std::to_string(group.rank()), mine);
  std::vector<std::string> blobs(static_cast<std::size_t>(world));
  for (int r = 0; r < world; ++r) blobs[static_cast<std::size_t>(r)] = group.take("identities/" + std::to_string(r));
  group.barrier();  // everyone has read every blob
  std::vector<secagg::crypto::Ed25519PublicKey> roster;
  roster.reserve(identities.size());
  std::vector<std::size_t> offset(static_cast<std::size_t>(world), 0);
  for (std::uint64_t id = 0; id < identities.size(); ++id) {
    const auto r = static_cast<std::size_t>(host_rank(id, world));
    secagg::crypto::Ed25519PublicKey b{};
    if (offset[r] + b.size() > blobs[r].size())
      throw RankError("rank " + std::to_string(r) + " published fewer identity keys than its devices");
    std::copy_n(blobs[r].data() + offset[r], b.size(), reinterpret_cast<char*>(b.data()));
    offset[r] += b.size();
    roster.push_back(b);
  }
  return roster;
}

ShardedTransport::ShardedTransport(RankGroup& group, WorkerPool& pool, VirtualFleet fleet,
                                   std::vector<secagg::crypto::Ed25519PublicKey> roster, double dropout_rate,
                                   std::uint64_t run_seed)
    : group_(group), pool_(pool), fleet_(std::move(fleet)), roster_(std::move(roster)), dropout_rate_(dropout_rate),
      run_seed_(run_seed),
      pin_devices_(fleet_.ledger != nullptr || (!fleet_.identities.empty() && !fleet_.research_seed)) {}

ShardedTransport::~ShardedTransport() {
  ShardOpen end;
  end.end = true;
  end.failed = std::uncaught_exceptions() > 0;
  try {
    for (int r = 1; r < group_.world_size(); ++r) group_.put(key(sequence_ + 1, "open", r), encode(end));
  } catch (const RankError&) {
    // A rank that is gone needs no goodbye.
  }
}

std::vector<int> ShardedTransport::assign_hosts(std::span<const std::uint64_t> cohort, int world) const {
  std::vector<int> host(cohort.size());
  if (pin_devices_) {
    for (std::size_t i = 0; i < cohort.size(); ++i) host[i] = host_rank(cohort[i], world);
    return host;
  }
  // Longest processing time first: each member, largest first, to the least loaded rank
  // (ties: the lower rank), so that ranks finish training together.
  std::vector<std::size_t> order(cohort.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto work = [&](std::size_t i) { return fleet_.fleet.meta(cohort[i]).train_targets; };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return work(a) > work(b); });
  std::vector<std::int64_t> load(static_cast<std::size_t>(world), 0);
  for (std::size_t i : order) {
    const auto r = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    host[i] = static_cast<int>(r);
    load[r] += static_cast<std::int64_t>(work(i)) + 1;
  }
  return host;
}

InprocRound ShardedTransport::run_round(coordinator::RoundDriver& driver, std::span<const std::uint64_t> available,
                                        const std::unordered_set<std::uint64_t>& ineligible,
                                        const RoundClockSpec* clock) {
  const std::uint64_t seq = ++sequence_;
  const int world = group_.world_size();
  coordinator::DeviceFacts facts = virtual_device_facts(fleet_);
  if (!roster_.empty())
    facts.identity = [this](std::uint64_t id) -> std::optional<secagg::crypto::Ed25519PublicKey> {
      if (id >= roster_.size()) return std::nullopt;
      return roster_[id];
    };
  const auto& opened = driver.open_round(available, ineligible, facts);
  const std::size_t k = opened.cohort.size();
  InprocRound out;
  out.devices.resize(k);
  for (std::size_t i = 0; i < k; ++i) out.devices[i].device = opened.cohort[i];

  std::vector<ShardOpen> open(static_cast<std::size_t>(world));
  for (auto& o : open) o.round = opened.round;
  if (opened.setup_failure) {  // theta_length 0: nothing to run this round
    for (int r = 1; r < world; ++r) group_.put(key(seq, "open", r), encode(open[static_cast<std::size_t>(r)]));
    out.report = driver.finish_round();
    return out;
  }
  coordinator::AggregationChannel& channel = *driver.channel();
  const bool secure = channel.secure();
  std::vector<float> theta(opened.theta->data(), opened.theta->data() + opened.theta->size());
  driver.add_download_bytes(static_cast<std::int64_t>(k * theta.size() * sizeof(float)));

  const auto stages = round_stages(secure && opened.instructions[0].secagg->config->consistency_check);
  MemberSilence silence = draw_dropouts(run_seed_, opened.round, opened.cohort, dropout_rate_, secure, stages);
  for (std::size_t i = 0; i < k; ++i) {
    out.devices[i].dropped = silence.from(i).has_value();
    if (secure) out.devices[i].dropped_before = silence.from(i);
  }

  // Each rank gets its members, the common wire instructions and the channel's shape.
  const std::string wire = protocol::to_proto(opened.instructions[0]).SerializeAsString();
  for (auto& o : open) {
    o.secure = secure;
    o.theta_length = static_cast<std::int64_t>(theta.size());
    o.upload_length = opened.instructions[0].upload_length();
    o.max_weight = opened.instructions[0].weighting.max_weight;
    if (secure) {
      o.vector_length = opened.instructions[0].secagg->config->vector_length;
      o.word_bits = opened.instructions[0].secagg->config->word_bits;
    }
  }
  const std::vector<int> host = assign_hosts(opened.cohort, world);
  for (std::size_t i = 0; i < k; ++i) {
    auto& o = open[static_cast<std::size_t>(host[i])];
    if (o.members.empty()) o.instructions = wire;
    o.members.push_back(ShardOpen::Member{static_cast<std::uint32_t>(i), opened.cohort[i],
                                          opened.instructions[i].train.shuffle_seed, silence.from(i)});
  }
  for (int r = 1; r < world; ++r) group_.put(key(seq, "open", r), encode(open[static_cast<std::size_t>(r)]));
  group_.broadcast(theta, 0);

  HostedMembers local(fleet_, pool_, open[0]);
  local.train(theta);

  // Every member's report after training.
  std::vector<client::DeviceRoundReport> reports(k);
  std::vector<bool> has_device(k, false);
  auto absorb = [&](const std::vector<ShardReport>& rs) {
    for (const auto& r : rs) {
      if (r.index >= k) throw RankError("a rank reported member " + std::to_string(r.index) + " of a cohort of " + std::to_string(k));
      reports[r.index] = r.report;
      out.devices[r.index].refused_task = r.refused_task;
      has_device[r.index] = !r.refused_task;
    }
  };
  absorb(local.reports());
  for (int r = 1; r < world; ++r) absorb(decode_reports(take_once(group_, key(seq, "trained", r))));
  auto reporting = [&](std::size_t i) { return member_reports(has_device[i], reports[i].status, silence, i, secure); };

  // The clock's cut, and what it silenced, back to the hosts.
  std::vector<std::vector<ShardSilence>> silenced(static_cast<std::size_t>(world));
  if (clock) {
    std::vector<bool> flags(k);
    for (std::size_t i = 0; i < k; ++i) flags[i] = reporting(i);
    const MemberSilence before = silence;
    out.clock = clock_round(*clock, opened.cohort, reports, flags, secure, stages, silence);
    for (std::size_t i = 0; i < k; ++i) {
      out.devices[i].fate = out.clock->cut.fate[i];
      if (silence.from(i) != before.from(i))
        silenced[static_cast<std::size_t>(host[i])].push_back(
            ShardSilence{static_cast<std::uint32_t>(i), *silence.from(i)});
    }
  }
  for (int r = 1; r < world; ++r) group_.put(key(seq, "silence", r), encode(silenced[static_cast<std::size_t>(r)]));
  local.silence(silenced[0]);

  if (!secure) {
    auto& plain = dynamic_cast<coordinator::PlainSumChannel&>(channel);
    std::vector<double> sum;
    std::vector<ShardPlain> parts{local.sum_plain_uploads(sum)};
    for (int r = 1; r < world; ++r) parts.push_back(decode_plain(take_once(group_, key(seq, "plain", r))));
    group_.allreduce_sum(sum);
    std::vector<coordinator::MemberIndex> accepted;
    std::vector<bool> answered(k, false);
    std::int64_t bytes = 0;
    for (const auto& p : parts) {
      for (auto i : p.accepted)
        if (i >= k) throw RankError("a rank summed the upload of member " + std::to_string(i) + " of a cohort of " + std::to_string(k));
      for (const auto& [i, why] : p.rejected)
        if (i >= k) throw RankError("a rank rejected member " + std::to_string(i) + " of a cohort of " + std::to_string(k));
    }
    for (const auto& p : parts) {
      for (auto i : p.accepted) {
        accepted.push_back(i);
        answered[i] = true;
      }
      for (const auto& [i, why] : p.rejected) {
        plain.reject(i);
        answered[i] = true;
      }
      bytes += p.bytes;
    }
    std::sort(accepted.begin(), accepted.end());
    const auto length = static_cast<Eigen::Index>(sum.size() - 1);
    if (!accepted.empty())
      plain.receive_partial_sum(accepted, Eigen::Map<const Eigen::VectorXd>(sum.data(), length), sum.back(), bytes);
    for (std::size_t i = 0; i < k; ++i)
      if (!answered[i]) plain.drop(static_cast<coordinator::MemberIndex>(i), "no upload");
    plain.close_stage();
  } else {
    auto& sa = dynamic_cast<coordinator::SecAggChannel&>(channel);
    std::map<std::uint32_t, ShardSecAgg> starts;
    for (auto& m : local.secagg_start()) starts.emplace(m.index, std::move(m));
    for (int r = 1; r < world; ++r)
      for (auto& m : decode_secagg(take_once(group_, stage_key(seq, 0, "up", r)))) starts.emplace(m.index, std::move(m));
    for (std::size_t i = 0; i < k; ++i) {
      const auto it = starts.find(static_cast<std::uint32_t>(i));
      secagg::pb::ClientToServer msg;
      if (it != starts.end() && msg.ParseFromString(it->second.message)) {
        sa.receive_secagg_without_words(static_cast<coordinator::MemberIndex>(i), std::move(msg), it->second.wire_bytes);
      } else {
        sa.drop(static_cast<coordinator::MemberIndex>(i), "not reporting");
      }
    }
    for (int stage = 1; !sa.finished(); ++stage) {
      std::vector<ShardStage> down(static_cast<std::size_t>(world));
      for (auto& d : sa.close_stage())
        down[static_cast<std::size_t>(host[d.to])].downlinks.push_back(
            ShardSecAgg{d.to, d.message.SerializeAsString(), 0});
      const bool masked = !sa.finished() && sa.stage_name() == secagg::stage_name(Stage::kMaskedInputCollection);
      for (auto& d : down) {
        d.masked_stage = masked;
        d.finished = sa.finished();
      }
      for (int r = 1; r < world; ++r) group_.put(stage_key(seq, stage, "down", r), encode(down[static_cast<std::size_t>(r)]));
      std::map<std::uint32_t, ShardSecAgg> replies;
      for (auto& m : local.secagg_handle(down[0].downlinks)) replies.emplace(m.index, std::move(m));
      for (int r = 1; r < world; ++r)
        for (auto& m : decode_secagg(take_once(group_, stage_key(seq, stage, "up", r)))) replies.emplace(m.index, std::move(m));
      for (auto& [i, m] : replies) {
        secagg::pb::ClientToServer msg;
        if (msg.ParseFromString(m.message)) sa.receive_secagg_without_words(i, std::move(msg), m.wire_bytes);
      }
      if (masked) {
        const std::vector<std::uint32_t> owed = sa.masked_words_owed();
        const std::string owed_key = key(seq, "s" + std::to_string(stage) + "/owed");
        group_.put(owed_key, encode(owed));
        auto halves = local.masked_word_sum(owed);
        group_.allreduce_sum(halves);  // every rank has read owed_key
        group_.erase(owed_key);
        sa.add_masked_sum(owed, combine_word_halves(halves, open[0].word_bits));
      }
    }
  }
  out.report = driver.finish_round();
  std::vector<ShardReport> finals = local.reports();
  for (int r = 1; r < world; ++r)
    for (auto& f : decode_reports(take_once(group_, key(seq, "final", r)))) finals.push_back(std::move(f));
  for (const auto& f : finals)
    if (f.index < k && !f.refused_task) out.devices[f.index].report = f.report;
  return out;
}

int serve_rounds(RankGroup& group, WorkerPool& pool, const VirtualFleet& fleet) {
  const int rank = group.rank();
  int served = 0;
  for (std::uint64_t seq = 1;; ++seq) {
    const ShardOpen open = decode_open(take_once(group, key(seq, "open", rank)));
    if (open.end && open.failed) throw RankError("rank 0 stopped the run on an error (see its output)");
    if (open.end) return served;
    if (open.theta_length == 0) continue;  // the round's setup failed on rank 0
    ++served;
    std::vector<float> theta(static_cast<std::size_t>(open.theta_length));
    group.broadcast(theta, 0);
    HostedMembers local(fleet, pool, open);
    local.train(theta);
    group.put(key(seq, "trained", rank), encode(local.reports()));
    local.silence(decode_silences(take_once(group, key(seq, "silence", rank))));
    if (!open.secure) {
      std::vector<double> sum;
      group.put(key(seq, "plain", rank), encode(local.sum_plain_uploads(sum)));
      group.allreduce_sum(sum);
    } else {
      group.put(stage_key(seq, 0, "up", rank), encode(local.secagg_start()));
      for (int stage = 1;; ++stage) {
        const ShardStage s = decode_stage(take_once(group, stage_key(seq, stage, "down", rank)));
        group.put(stage_key(seq, stage, "up", rank), encode(local.secagg_handle(s.downlinks)));
        if (s.masked_stage) {
          const auto owed = decode_members(group.take(key(seq, "s" + std::to_string(stage) + "/owed")));
          auto halves = local.masked_word_sum(owed);
          group.allreduce_sum(halves);
        }
        if (s.finished) break;
      }
    }
    group.put(key(seq, "final", rank), encode(local.reports()));
  }
}

}  // namespace fedlora::sim
