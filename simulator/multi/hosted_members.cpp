#include "simulator/multi/hosted_members.h"

#include <algorithm>
#include <stdexcept>

#include "coordinator/protocol/errors.h"
#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/strategy/errors.h"
#include "coordinator/strategy/update_aggregate.h"
#include "proto/secagg.pb.h"
#include "secure-agg/masking.h"

namespace fedlora::sim {

using secagg::Stage;

struct HostedMembers::Member {
  ShardOpen::Member open;
  MemberSilence silence{1};
  std::shared_ptr<const client::UserExamples> held;
  client::DeviceContext context;
  std::optional<client::DeviceRound> device;
  std::optional<std::string> refused;
};

HostedMembers::HostedMembers(const VirtualFleet& fleet, WorkerPool& pool, const ShardOpen& open)
    : fleet_(fleet), pool_(pool), open_(open) {
  for (const auto& m : open.members) {
    auto h = std::make_unique<Member>();
    h->open = m;
    if (m.silent_from) h->silence.silence_from(0, *m.silent_from);
    local_[m.index] = members_.size();
    members_.push_back(std::move(h));
  }
  std::vector<std::size_t> all(members_.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  pool_.run(all, [&](std::size_t i, int) { members_[i]->held = fleet_.fleet.examples(members_[i]->open.device); });
  if (members_.empty()) return;
  v1::RoundInstructions wire;
  if (!wire.ParseFromString(open.instructions))
    throw protocol::ProtocolError("multi-process simulation: the round's instructions do not parse");
  const protocol::RoundInstructions common = protocol::from_proto(wire);
  for (auto& m : members_) {
    m->context = virtual_device_context(fleet_, m->open.device, m->held->train);
    protocol::RoundInstructions in = common;
    in.train.shuffle_seed = m->open.shuffle_seed;
    if (in.secagg) in.secagg->logical_id = m->open.index;
    try {
      in.validate();
      m->device.emplace(m->context, std::move(in));
    } catch (const client::TaskRefused& e) {
      m->refused = e.what();
    } catch (const protocol::ProtocolError& e) {
      m->refused = e.what();
    }
  }
}

HostedMembers::~HostedMembers() = default;

void HostedMembers::train(std::span<const float> theta) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < members_.size(); ++i)
    if (members_[i]->device && !members_[i]->silence.silent(0, Stage::kMaskedInputCollection)) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return fleet_.fleet.meta(members_[a]->open.device).train_targets >
           fleet_.fleet.meta(members_[b]->open.device).train_targets;
  });
  pool_.run(order, [&](std::size_t i, int) { members_[i]->device->train(theta); });
}

std::vector<ShardReport> HostedMembers::reports() const {
  std::vector<ShardReport> out;
  for (const auto& m : members_)
    out.push_back(ShardReport{m->open.index, m->device ? m->device->report() : client::DeviceRoundReport{}, m->refused});
  return out;
}

void HostedMembers::silence(const std::vector<ShardSilence>& silences) {
  for (const auto& s : silences) {
    const auto it = local_.find(s.index);
    if (it == local_.end())
      throw std::runtime_error("multi-process simulation: rank 0 silenced member " + std::to_string(s.index) +
                               ", which this rank does not host");
    members_[it->second]->silence.silence_from(0, s.from);
  }
}

bool HostedMembers::reports(const Member& m) const {
  return member_reports(m.device.has_value(), m.device ? m.device->report().status : client::DeviceStatus::kAccepted,
                        m.silence, 0, open_.secure);
}

ShardPlain HostedMembers::sum_plain_uploads(std::vector<double>& sum) {
  const auto length = static_cast<Eigen::Index>(open_.upload_length);
  coordinator::Aggregator agg(length, 1, open_.max_weight);
  ShardPlain out;
  for (auto& m : members_) {  // cohort order, as the in-process channel adds them
    if (!reports(*m)) continue;
    const protocol::PlainUpload up = m->device->take_plain_upload();
    try {
      agg.add_upload(m->open.index, up.values, up.weight);
      out.accepted.push_back(m->open.index);
      out.bytes += static_cast<std::int64_t>(up.values.size() * sizeof(float) + sizeof(double));
    } catch (const coordinator::InvalidUpdateError& e) {
      out.rejected.emplace_back(m->open.index, e.what());
    }
  }
  sum.assign(static_cast<std::size_t>(length) + 1, 0.0);
  const auto& a = agg.aggregate();
  std::copy(a.weighted_sum.data(), a.weighted_sum.data() + length, sum.begin());
  sum[static_cast<std::size_t>(length)] = a.total_weight;
  return out;
}

std::vector<ShardSecAgg> HostedMembers::secagg_start() {
  std::vector<ShardSecAgg> out;
  for (auto& m : members_) {
    if (!reports(*m)) continue;
    const auto msg = m->device->secagg_start();
    out.push_back(ShardSecAgg{m->open.index, msg.SerializeAsString(), static_cast<std::int64_t>(msg.ByteSizeLong())});
  }
  return out;
}

std::vector<ShardSecAgg> HostedMembers::secagg_handle(const std::vector<ShardSecAgg>& downlinks) {
  std::vector<ShardSecAgg> out;
  for (const auto& d : downlinks) {
    const auto it = local_.find(d.index);
    if (it == local_.end())
      throw std::runtime_error("multi-process simulation: a SecAgg message for member " + std::to_string(d.index) +
                               ", which this rank does not host");
    Member& m = *members_[it->second];
    secagg::pb::ServerToClient message;
    if (!message.ParseFromString(d.message))
      throw std::runtime_error("multi-process simulation: a SecAgg message for member " + std::to_string(d.index) +
                               " does not parse");
    if (!m.device || m.silence.silent(0, static_cast<Stage>(message.header().stage()))) continue;
    auto reply = m.device->secagg_handle(message);
    if (!reply) continue;
    const auto wire_bytes = static_cast<std::int64_t>(reply->ByteSizeLong());
    if (reply->has_masked_input()) {
      words_[d.index] = std::move(*reply->mutable_masked_input()->mutable_words());
      reply->mutable_masked_input()->clear_words();
    }
    out.push_back(ShardSecAgg{d.index, reply->SerializeAsString(), wire_bytes});
  }
  return out;
}

std::vector<std::int64_t> HostedMembers::masked_word_sum(std::span<const std::uint32_t> owed) {
  const auto m = static_cast<std::size_t>(open_.vector_length);
  std::vector<std::uint64_t> acc(m, 0);
  for (std::uint32_t i : owed) {
    if (!local_.contains(i)) continue;
    const auto it = words_.find(i);
    if (it == words_.end())
      throw std::logic_error("multi-process simulation: member " + std::to_string(i) +
                             " is owed masked words this rank never held");
    secagg::add_packed_into(acc, it->second, open_.word_bits / 8);
  }
  words_.clear();
  secagg::reduce(acc, open_.word_bits);
  std::vector<std::int64_t> halves(2 * m);
  for (std::size_t j = 0; j < m; ++j) {
    halves[j] = static_cast<std::int64_t>(acc[j] & 0xFFFFFFFFu);
    halves[m + j] = static_cast<std::int64_t>(acc[j] >> 32);
  }
  return halves;
}

std::vector<std::uint64_t> combine_word_halves(std::span<const std::int64_t> halves, unsigned word_bits) {
  const std::size_t m = halves.size() / 2;
  std::vector<std::uint64_t> words(m);
  for (std::size_t j = 0; j < m; ++j)  // each half-sum is < ranks·2^32: exact in int64
    words[j] = static_cast<std::uint64_t>(halves[j]) + (static_cast<std::uint64_t>(halves[m + j]) << 32);
  secagg::reduce(words, word_bits);
  return words;
}

}  // namespace fedlora::sim
