#pragma once
// The device side of one federated round, transport-agnostic: it obeys the round
// instructions the coordinator sent (never its own copy of the job's config).
//
//   DeviceRound r(device, instructions);   // refuses a task for another base or layout
//   r.train(theta);                         // ledger check, local training, clip, noise, weight
//   plain:  send(r.take_plain_upload())
//   SecAgg: send(r.secagg_start()); for each server message m: if (auto reply = r.secagg_handle(m)) send(*reply)
//
// The simulator's in-process loop and the fedlora-client runtime both drive this class.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/train/local_trainer.h"
#include "client/train/step_memory.h"
#include "client/train/private_round.h"
#include "coordinator/protocol/payload.h"
#include "coordinator/protocol/round_instructions.h"
#include "lora/model/base_model.h"
#include "privacy/ledger/privacy_ledger.h"
#include "proto/secagg.pb.h"
#include "secure-agg/client_policy.h"
#include "secure-agg/client_state_machine.h"

namespace fedlora::client {

/// Where the device's private randomness (DP noise and sampling, fixed-point rounding) comes
/// from. Default: the OS CSPRNG (OpenSSL RAND_bytes), which nobody can reproduce.
/// `research_seed` set: reproducible streams from (seed, device index, round), for
/// explicitly non-private research runs only. SecAgg keys always come from the OS.
struct DeviceRandomness {
  std::optional<std::uint64_t> research_seed;
  std::uint64_t device_index = 0;
};

/// What a device holds and never sends.
struct DeviceContext {
  std::shared_ptr<const lora::BaseModel> base;
  protocol::Sha256Digest base_model_sha256{};          ///< of the base GGUF file as loaded
  const std::vector<lora::TokenSeq>* train_examples = nullptr;  ///< the user's windows (not owned)
  privacy::PrivacyLedger* ledger = nullptr;            ///< example-level ledger (DP-SGD rounds)
  std::optional<DevicePrivacy> privacy;                ///< ledger id and lifetime budget
  DeviceRandomness randomness;
  /// Long-term Ed25519 identity: signs the device's SecAgg round keys; its public key is the
  /// device's place in a round's roster (secure-agg/identity.h). Required for SecAgg rounds.
  const secagg::crypto::Ed25519PrivateKey* identity = nullptr;
  /// What SecAgg parameters the device accepts from the coordinator (secure-agg/client_policy.h).
  secagg::ClientPolicy secagg_policy;
  /// MB (10⁶ bytes) local training may take on top of the runtime and base weights
  /// (client.memory_budget_mb). Set: the device picks micro-batch and activation
  /// checkpointing to fit (plan_step_memory) and refuses a task that cannot fit. Unset:
  /// whole batches, no checkpointing.
  std::optional<double> memory_budget_mb;
  /// How local training computes the frozen base's products (client.base_matmul).
  lora::BaseGemm base_gemm = lora::BaseGemm::fp32;
};

/// The device declines the task before doing anything (other base, other adapter layout,
/// DP-SGD requested without a ledger, ...). The message says why.
struct TaskRefused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class DeviceStatus {
  kAccepted,       ///< task checked, not trained yet
  kReady,          ///< trained: the upload is prepared
  kRefusedBudget,  ///< DP-SGD ledger: the round would exceed the device's budget
  kRejected,       ///< training diverged or produced NaN/Inf: nothing is sent
  kUploaded,       ///< plain upload taken
  kSecAggDone,     ///< SecAgg finished for this device (its part of the protocol completed)
  kSecAggAborted,  ///< SecAgg aborted (by the server or this device)
};
const char* to_string(DeviceStatus s);

/// What the round did on the device (simulation reports; a real device keeps it local).
struct DeviceRoundReport {
  DeviceStatus status = DeviceStatus::kAccepted;
  std::string error;            ///< for kRejected / kSecAggAborted
  double train_loss = 0.0;      ///< mean local loss (nats/token)
  std::int64_t tokens = 0;
  std::int64_t num_examples = 0;
  double weight = 0.0;
  double example_epsilon = 0;   ///< ε spent so far (DP-SGD)
  std::int64_t clipped_values = 0;  ///< SecAgg: upload values outside the fixed-point range
  StepMemorySettings memory;        ///< micro-batch and checkpointing the training used
  bool micro_batched = false;       ///< memory.micro_batch < the task's batch size
  /// Peak RSS (bytes) of the process while this device trained (VmHWM, reset when training
  /// starts; runtime.h). In a simulator process it covers every device training at the
  /// same time. -1 where /proc is unavailable.
  std::int64_t peak_rss_bytes = -1;
};

class DeviceRound {
 public:
  /// Checks the instructions against this device: base model hash, the adapter dimension its
  /// own base gives for (r, alpha, targets), a ledger and budget when DP-SGD is asked,
  /// training data, and for SecAgg its policy (parameters, roster, its own logical id).
  /// Throws TaskRefused naming the mismatch.
  DeviceRound(const DeviceContext& device, protocol::RoundInstructions instructions);
  ~DeviceRound();
  DeviceRound(DeviceRound&&) noexcept;
  DeviceRound& operator=(DeviceRound&&) noexcept;

  const protocol::RoundInstructions& instructions() const { return instructions_; }
  const lora::AdapterLayout& layout() const { return *layout_; }

  /// Local training from θ_t (float32 [d]): DP-SGD through the ledger when asked, else
  /// plain training; then make_upload (clip, noise, weight). Returns kReady, kRefusedBudget
  /// or kRejected. Throws TaskRefused if θ has the wrong length; ledger errors propagate.
  DeviceStatus train(std::span<const float> theta);

  /// The plain upload (after kReady). Throws std::logic_error otherwise, or in a SecAgg round.
  protocol::PlainUpload take_plain_upload();

  /// What the memory estimate of this task's step depends on (step_memory.h).
  StepShape step_shape() const;

  /// SecAgg: AdvertiseKeys. May be called before train(); the input is set when training is
  /// done (a device that never trains aborts at MaskedInputCollection).
  secagg::pb::ClientToServer secagg_start();
  /// SecAgg: one server message; the reply to send, if any. Never throws for bad input.
  std::optional<secagg::pb::ClientToServer> secagg_handle(const secagg::pb::ServerToClient& message);
  /// SecAgg stage this device waits for (nullopt before start or when finished).
  std::optional<secagg::Stage> secagg_awaiting() const;

  const DeviceRoundReport& report() const { return report_; }

 private:
  std::unique_ptr<privacy::NoiseSource> noise_for(std::uint64_t stream) const;
  std::unique_ptr<secagg::crypto::RandomSource> secagg_rng(const char* purpose) const;
  static std::unique_ptr<secagg::crypto::RandomSource> key_rng();
  void refresh_secagg_status();

  const DeviceContext* device_;
  protocol::RoundInstructions instructions_;
  std::unique_ptr<lora::AdapterLayout> layout_;
  std::optional<protocol::PlainUpload> upload_;
  std::unique_ptr<secagg::ClientStateMachine> secagg_;
  DeviceRoundReport report_;
};

}  // namespace fedlora::client
