#pragma once
// The coordinator's side of a round's reporting phase: how the cohort's uploads become one
// sum. Two implementations: PlainSumChannel (the coordinator adds w·Δ uploads as they arrive)
// and SecAggChannel (SecAgg/SecAgg+: it sees only the survivors' sum). Transports (the
// simulator's in-process loop, the gRPC service) feed device messages in and carry the
// channel's messages out; aggregation, DP and strategies never learn which channel ran.
//
// Every upload is validated here, once, on the coordinator's side: length, finite values,
// weight range, duplicates, membership, and the right kind of message for the channel.
#include <Eigen/Core>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "coordinator/protocol/payload.h"
#include "proto/secagg.pb.h"

namespace fedlora::coordinator {

/// A device's position in the round's cohort (0..n-1); with SecAgg also its logical id.
using MemberIndex = std::uint32_t;

enum class ReceiptStatus {
  kAccepted,          ///< counted in this stage
  kDuplicate,         ///< an identical retransmission or a second upload; ignored
  kRejected,          ///< malformed or out of range; nothing changed, the device is out
  kNotParticipating,  ///< unknown member, dropped earlier, or the stage is closed
  kWrongKind,         ///< a plain upload to a SecAgg round, or SecAgg to a plain round
};
std::string_view to_string(ReceiptStatus s) noexcept;

struct Receipt {
  ReceiptStatus status = ReceiptStatus::kAccepted;
  std::string detail;  ///< why, for anything but kAccepted
};

/// Bytes and CPU time the channel handled (bytes are serialized message / payload bytes).
struct ChannelTraffic {
  std::int64_t bytes_up = 0, bytes_down = 0;
  double server_cpu_s = 0.0;
  std::int64_t rejected_messages = 0;
};

/// What the coordinator learns from a completed channel: Σ over contributors of their upload
/// values (float64, upload length) and of their weights.
struct ChannelSum {
  Eigen::VectorXd values;
  double weight_sum = 0.0;
  int contributors = 0;
  std::vector<MemberIndex> members;  ///< whose uploads are in the sum (SecAgg: the survivors), sorted
};
struct ChannelAbort {
  std::string reason;
};
using ChannelOutcome = std::variant<ChannelSum, ChannelAbort>;

/// A message for one device, produced when a SecAgg stage closes.
struct Downlink {
  MemberIndex to = 0;
  secagg::pb::ServerToClient message;
};

class AggregationChannel {
 public:
  virtual ~AggregationChannel() = default;
  /// True for SecAgg (the coordinator never sees an individual upload).
  virtual bool secure() const noexcept = 0;
  /// Name of the stage collecting messages ("upload", "AdvertiseKeys", ...), or "finished".
  virtual std::string_view stage_name() const = 0;
  virtual bool finished() const = 0;
  /// True when the stage may close before its deadline: every device still expected has
  /// answered, or the round's target number of reports has been reached.
  virtual bool stage_complete() const = 0;

  /// A plain upload from `member`. Never throws for bad input.
  virtual Receipt receive_plain(MemberIndex member, protocol::PlainUpload upload) = 0;
  /// A SecAgg message from `member` (its transport authenticated it). Never throws for bad input.
  virtual Receipt receive_secagg(MemberIndex member, secagg::pb::ClientToServer message) = 0;
  /// The device is gone (connection lost, device abort): it is treated as silent from now on.
  virtual void drop(MemberIndex member, const std::string& reason) = 0;

  /// Deadline reached or stage complete: closes the stage. Returns the next stage's
  /// messages (SecAgg) — empty for a plain channel, which is then finished.
  virtual std::vector<Downlink> close_stage() = 0;
  /// Once finished(): the sum, or why the round's aggregation failed.
  virtual const ChannelOutcome& outcome() const = 0;
  virtual const ChannelTraffic& traffic() const = 0;
};

}  // namespace fedlora::coordinator
