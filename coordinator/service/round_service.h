#pragma once
// The coordinator service's engine, independent of gRPC: the device registry, check-ins
// and selection, the open round (through RoundDriver and its aggregation channel), stage
// deadlines, and the durable commit of every finished round (checkpoint files, then one
// SQLite transaction, then metrics.jsonl). Thread-safe: the gRPC handlers call it from many
// threads, one loop thread calls tick().
//
// Crash safety: the in-memory round is never persisted; a restart resumes from the last
// committed round (θ, optimizer and privacy accounting as committed) and reopens the next
// round under a fresh round token, so calls from the previous incarnation are refused.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "coordinator/protocol/payload.h"
#include "coordinator/protocol/round_instructions.h"
#include "coordinator/round/coordinator.h"
#include "coordinator/round/round_driver.h"
#include "coordinator/service/checkpoint_store.h"
#include "coordinator/service/serve_config.h"
#include "coordinator/service/state_store.h"
#include "proto/secagg.pb.h"
#include "secure-agg/crypto/ed25519.h"

namespace fedlora::coordinator {

/// A device call that cannot be served; `code` maps to a gRPC status.
struct ServiceError : std::runtime_error {
  enum class Code {
    kInvalidArgument,     ///< malformed or out-of-range input
    kFailedPrecondition,  ///< stale round or token, wrong kind of upload, other base model
    kPermissionDenied,    ///< the device is not a member of the round
    kAlreadyExists,       ///< already reported this round
    kResourceExhausted,   ///< over a size limit
    kUnavailable,         ///< shutting down
  };
  ServiceError(Code c, const std::string& what) : std::runtime_error(what), code(c) {}
  Code code;
};

/// What a device announces when it checks in.
struct CheckIn {
  std::string runtime_version;
  protocol::Sha256Digest base_model_sha256{};
  std::int64_t num_examples = 0;
  std::optional<secagg::crypto::Ed25519PublicKey> identity_public_key;  ///< registered on first use
};

struct TaskOffer {
  std::uint64_t round = 0;
  std::uint64_t round_token = 0;
  protocol::RoundInstructions instructions;
  std::uint64_t adapter_bytes = 0;
  protocol::Sha256Digest adapter_sha256{};
};
struct RetryOffer {
  std::uint32_t retry_after_ms = 1000;
  std::string reason;
};
using CheckInAnswer = std::variant<TaskOffer, RetryOffer>;

/// The transport's stream to one device for its SecAgg session.
class SecAggSink {
 public:
  virtual ~SecAggSink() = default;
  /// A message for the device, to be answered before `deadline_unix_ms`.
  virtual void deliver(const secagg::pb::ServerToClient& message, std::uint64_t deadline_unix_ms) = 0;
  /// The session is over for this device (the round finished or was aborted).
  virtual void close(const std::string& reason) = 0;
};

struct RoundResultInfo {
  enum class Status { kUnknown, kOpen, kCompleted, kAborted };
  std::uint64_t round = 0;
  Status status = Status::kUnknown;
  int cohort = 0, contributors = 0;
  std::string abort_reason;
  protocol::Sha256Digest adapter_sha256{};
};

class RoundService {
 public:
  using Clock = std::function<std::int64_t()>;  ///< Unix time in ms

  /// Opens (or resumes) the job's state in serve.state_dir; enrols the token file's devices.
  /// Throws config::ConfigError, StoreError, or a model/format error naming the file.
  explicit RoundService(const ServeConfig& config, Clock clock = {});
  ~RoundService();

  /// The device a bearer token belongs to (tokens are compared by SHA-256).
  std::optional<std::string> device_for_token(std::string_view token) const;
  /// Enrols a device that presented a valid client certificate (the CA vouched for it).
  void enrol_certificate_device(const std::string& name);
  bool known_device(const std::string& name) const;

  CheckInAnswer check_in(const std::string& device, const CheckIn& info);
  /// θ of the open round, for a member holding the round's token; the bytes from `offset`
  /// on count as sent in the round's traffic.
  std::shared_ptr<const std::string> adapter_payload(const std::string& device, std::uint64_t round,
                                                     std::uint64_t token, std::uint64_t offset);
  /// Bytes of this member's plain upload (4 per value). Throws ServiceError if the device may
  /// not upload (not a member, stale round, SecAgg round).
  std::uint64_t expected_upload_bytes(const std::string& device, std::uint64_t round, std::uint64_t token);
  /// Adds a plain upload to the round's sum. Returns the uploads counted so far.
  std::uint32_t submit_plain(const std::string& device, std::uint64_t round, std::uint64_t token,
                             protocol::PlainUpload upload);
  /// Largest SecAgg message a device of the open round may send (bytes).
  std::uint64_t max_secagg_message_bytes(const std::string& device, std::uint64_t round, std::uint64_t token);
  /// The device's SecAgg stream: messages for it go to `sink` (pending ones at once).
  void attach_secagg(const std::string& device, std::uint64_t round, std::uint64_t token,
                     std::shared_ptr<SecAggSink> sink);
  void submit_secagg(const std::string& device, std::uint64_t round, std::uint64_t token,
                     secagg::pb::ClientToServer message);
  /// The device's stream ended: from now on it counts as silent in this round.
  void detach_secagg(const std::string& device, std::uint64_t round, const SecAggSink* sink);
  RoundResultInfo round_result(std::uint64_t round) const;

  /// Runs the round loop until done() or `stop`; wakes on device activity and deadlines.
  void run(const std::atomic<bool>& stop);
  /// One step: selection, stage closing on completion or deadline, commit of a finished
  /// round. Returns false once the job is done.
  bool tick();
  /// Aborts the open round (if any) and commits that, so a restart resumes cleanly.
  void drain(const std::string& reason);
  bool done() const;
  std::uint64_t committed_round() const;

  /// Bad-input and traffic counters ("checkin", "upload.rejected", ...).
  std::map<std::string, std::uint64_t> counters() const;
  void count(const std::string& event);

 private:
  struct Member {
    std::string name;
    bool task_sent = false;
    bool reported = false;       ///< plain: its upload was accepted
    bool joined_secagg = false;  ///< SecAgg: it opened its stream; the channel now decides its fate
    std::shared_ptr<SecAggSink> sink;
    std::deque<secagg::pb::ServerToClient> pending;
  };
  struct Known {
    std::int64_t id = 0;
    std::int64_t last_checkin_ms = -1;
    std::int64_t num_examples = 0;
    std::string runtime_version;
    std::optional<secagg::crypto::Ed25519PublicKey> identity;
    bool dirty = false;
  };

  std::int64_t now() const;
  std::size_t member_index(const std::string& device, std::uint64_t round, std::uint64_t token) const;
  void open_round_locked();
  void close_stage_locked();
  void finish_round_locked(RoundReport report);
  void commit_locked(const RoundReport& report);
  void write_progress_locked();
  void commit_metrics_file_locked();
  void flush_seen_locked();

  ServeConfig config_;
  Clock clock_;
  bool private_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  StateStore store_;
  CheckpointStore checkpoints_;
  std::unordered_map<std::string, std::string> token_owner_;  ///< SHA-256(token) → device
  std::unordered_map<std::string, Known> known_;
  std::unordered_map<std::int64_t, std::string> name_of_;
  protocol::Sha256Digest base_sha256_{};
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<RoundDriver> driver_;
  double user_delta_ = 0.0;
  // The open round.
  std::uint64_t round_token_ = 0;
  std::vector<Member> members_;
  std::shared_ptr<const std::string> theta_bytes_;
  protocol::Sha256Digest theta_sha256_{};
  std::int64_t stage_deadline_ms_ = 0;
  std::int64_t opened_at_ms_ = 0;
  std::int64_t next_selection_ms_ = 0;
  std::uint32_t reported_ = 0;
  bool draining_ = false;
  mutable std::mutex counters_mu_;
  std::map<std::string, std::uint64_t> counters_;
};

}  // namespace fedlora::coordinator
