#include "coordinator/round/plain_sum_channel.h"

#include <string>

#include "coordinator/strategy/errors.h"

namespace fedlora::coordinator {

std::string_view to_string(ReceiptStatus s) noexcept {
  switch (s) {
    case ReceiptStatus::kAccepted: return "accepted";
    case ReceiptStatus::kDuplicate: return "duplicate";
    case ReceiptStatus::kRejected: return "rejected";
    case ReceiptStatus::kNotParticipating: return "not participating";
    case ReceiptStatus::kWrongKind: return "wrong kind";
  }
  return "?";
}

PlainSumChannel::PlainSumChannel(MemberIndex n, Eigen::Index length, double max_weight, MemberIndex target)
    : target_(target), sum_(length, static_cast<int>(n > 0 ? n : 1), max_weight), members_(n, State::kWaiting) {
  if (n < 1 || target < 1 || target > n)
    throw InvalidUpdateError("plain channel: need 1 <= target (" + std::to_string(target) + ") <= members (" +
                             std::to_string(n) + ")");
}

bool PlainSumChannel::stage_complete() const {
  return !finished_ && (uploaded_ >= target_ || uploaded_ + gone_ == members_.size());
}

Receipt PlainSumChannel::receive_plain(MemberIndex member, protocol::PlainUpload upload) {
  if (finished_ || member >= members_.size() || members_[member] == State::kGone)
    return {ReceiptStatus::kNotParticipating, "not a live member of an open upload stage"};
  if (members_[member] == State::kUploaded)
    return {ReceiptStatus::kDuplicate, "this device already uploaded in this round"};
  try {
    sum_.add_upload(member, upload.values, upload.weight);
  } catch (const InvalidUpdateError& e) {
    members_[member] = State::kGone;
    ++gone_;
    ++traffic_.rejected_messages;
    return {ReceiptStatus::kRejected, e.what()};
  }
  members_[member] = State::kUploaded;
  ++uploaded_;
  traffic_.bytes_up += static_cast<std::int64_t>(upload.values.size() * sizeof(float) + sizeof(double));
  return {};
}

void PlainSumChannel::receive_partial_sum(std::span<const MemberIndex> members, const Eigen::VectorXd& weighted_sum,
                                          double weight, std::int64_t bytes) {
  if (finished_) throw InvalidUpdateError("plain channel: a partial sum after the stage closed");
  for (MemberIndex m : members)
    if (m >= members_.size() || members_[m] != State::kWaiting)
      throw InvalidUpdateError("plain channel: partial sum counts member " + std::to_string(m) +
                               ", which is not a waiting member");
  const std::vector<std::uint64_t> ids(members.begin(), members.end());
  sum_.add_partial_sum(ids, weighted_sum, weight);
  for (MemberIndex m : members) members_[m] = State::kUploaded;
  uploaded_ += static_cast<MemberIndex>(members.size());
  traffic_.bytes_up += bytes;
}

void PlainSumChannel::reject(MemberIndex member) {
  if (finished_ || member >= members_.size() || members_[member] != State::kWaiting) return;
  members_[member] = State::kGone;
  ++gone_;
  ++traffic_.rejected_messages;
}

Receipt PlainSumChannel::receive_secagg(MemberIndex, secagg::pb::ClientToServer) {
  ++traffic_.rejected_messages;
  return {ReceiptStatus::kWrongKind, "this round aggregates plain uploads; it has no SecAgg session"};
}

void PlainSumChannel::drop(MemberIndex member, const std::string&) {
  if (finished_ || member >= members_.size() || members_[member] != State::kWaiting) return;
  members_[member] = State::kGone;
  ++gone_;
}

std::vector<Downlink> PlainSumChannel::close_stage() {
  if (finished_) throw std::logic_error("plain channel: close_stage after the round finished");
  finished_ = true;
  const UpdateAggregate& a = sum_.aggregate();
  ChannelSum s;
  s.values = a.weighted_sum;
  s.weight_sum = a.total_weight;
  s.contributors = a.num_contributors;
  for (MemberIndex m = 0; m < members_.size(); ++m)
    if (members_[m] == State::kUploaded) s.members.push_back(m);
  outcome_ = std::move(s);
  return {};
}

const ChannelOutcome& PlainSumChannel::outcome() const {
  if (!finished_) throw std::logic_error("plain channel: outcome before the stage closed");
  return outcome_;
}

}  // namespace fedlora::coordinator
