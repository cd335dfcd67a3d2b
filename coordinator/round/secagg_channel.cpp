#include "coordinator/round/secagg_channel.h"

#include <ctime>

#include "secure-agg/errors.h"

namespace fedlora::coordinator {
namespace {

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

SecAggChannel::SecAggChannel(const secagg::RoundConfig& config, const secagg::FixedPointParams& codec,
                             std::size_t upload_length, MemberIndex target)
    : server_(config), codec_(codec), upload_length_(upload_length), target_(target),
      pending_(config.num_clients, 1) {
  if (codec_.encoded_length(upload_length) != config.vector_length)
    throw secagg::ConfigError("SecAgg channel: " + std::to_string(upload_length) + " values encode to " +
                              std::to_string(codec_.encoded_length(upload_length)) + " words, the round has m = " +
                              std::to_string(config.vector_length));
  if (target < 1 || target > config.num_clients)
    throw secagg::ConfigError("SecAgg channel: target " + std::to_string(target) + " must be in [1, n]");
}

std::string_view SecAggChannel::stage_name() const {
  const auto s = server_.stage();
  return s ? secagg::stage_name(*s) : "finished";
}

bool SecAggChannel::stage_complete() const {
  if (server_.finished()) return false;
  if (server_.stage() == secagg::Stage::kAdvertiseKeys && answered_ >= target_) return true;
  for (char p : pending_)
    if (p) return false;
  return true;
}

Receipt SecAggChannel::receive_plain(MemberIndex, protocol::PlainUpload) {
  ++traffic_.rejected_messages;
  return {ReceiptStatus::kWrongKind, "secure aggregation is on: a plain upload is refused"};
}

Receipt SecAggChannel::receive_secagg(MemberIndex member, secagg::pb::ClientToServer message) {
  const auto bytes = static_cast<std::int64_t>(message.ByteSizeLong());
  return receive(member, std::move(message), false, bytes);
}

Receipt SecAggChannel::receive_secagg_without_words(MemberIndex member, secagg::pb::ClientToServer message,
                                                    std::int64_t wire_bytes) {
  return receive(member, std::move(message), true, wire_bytes);
}

Receipt SecAggChannel::receive(MemberIndex member, secagg::pb::ClientToServer message, bool words_elsewhere,
                               std::int64_t bytes) {
  if (server_.finished() || member >= pending_.size())
    return {ReceiptStatus::kNotParticipating, "not a member of an open SecAgg session"};
  const double t0 = thread_cpu_s();
  const auto r = words_elsewhere ? server_.receive_without_words(member, std::move(message))
                                 : server_.receive(member, std::move(message));
  traffic_.server_cpu_s += thread_cpu_s() - t0;
  switch (r.status) {
    case secagg::ReceiveStatus::kAccepted:
      traffic_.bytes_up += bytes;
      if (pending_[member]) {
        pending_[member] = 0;
        ++answered_;
      }
      return {};
    case secagg::ReceiveStatus::kDuplicateIgnored:
    case secagg::ReceiveStatus::kConflictIgnored:
    case secagg::ReceiveStatus::kStale:
      return {ReceiptStatus::kDuplicate, r.detail};
    case secagg::ReceiveStatus::kNotParticipating:
      return {ReceiptStatus::kNotParticipating, r.detail};
    case secagg::ReceiveStatus::kClientDropped:
      ++traffic_.rejected_messages;
      pending_[member] = 0;
      return {ReceiptStatus::kRejected, r.detail};
  }
  return {ReceiptStatus::kRejected, "unknown SecAgg receive status"};
}

void SecAggChannel::drop(MemberIndex member, const std::string&) {
  if (member < pending_.size()) pending_[member] = 0;  // silent from now on; close_stage drops it
}

std::vector<Downlink> SecAggChannel::close_stage() {
  const double t0 = thread_cpu_s();
  auto out = server_.close_stage();
  traffic_.server_cpu_s += thread_cpu_s() - t0;
  std::vector<Downlink> downlinks;
  downlinks.reserve(out.size());
  std::fill(pending_.begin(), pending_.end(), 0);
  answered_ = 0;
  for (auto& o : out) {
    traffic_.bytes_down += static_cast<std::int64_t>(o.message.ByteSizeLong());
    if (!server_.finished() && !o.message.has_abort()) pending_[o.to] = 1;
    downlinks.push_back(Downlink{o.to, std::move(o.message)});
  }
  if (server_.finished()) {
    if (const auto* ab = std::get_if<secagg::RoundAborted>(&server_.outcome())) {
      outcome_ = ChannelAbort{"secure aggregation aborted: " + ab->reason};
    } else {
      const auto& res = std::get<secagg::RoundResult>(server_.outcome());
      const auto contributors = static_cast<std::uint32_t>(res.survivors.size());
      try {
        auto dec = codec_.decode_sum(res.sum, contributors);
        ChannelSum s;
        s.values = Eigen::Map<const Eigen::VectorXd>(dec.values.data(), static_cast<Eigen::Index>(dec.values.size()));
        s.weight_sum = dec.weight_sum.value_or(static_cast<double>(contributors));
        s.contributors = static_cast<int>(contributors);
        s.members.assign(res.survivors.begin(), res.survivors.end());
        outcome_ = std::move(s);
      } catch (const secagg::SecAggError& e) {
        outcome_ = ChannelAbort{std::string("secure aggregation: the unmasked sum does not decode: ") + e.what()};
      }
    }
  }
  return downlinks;
}

const ChannelOutcome& SecAggChannel::outcome() const {
  if (!server_.finished()) throw std::logic_error("SecAgg channel: outcome before the session finished");
  return outcome_;
}

}  // namespace fedlora::coordinator
