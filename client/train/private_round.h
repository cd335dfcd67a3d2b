#pragma once
// One device's DP-SGD round gated by its privacy ledger: the entry point the simulator (and
// the device runtime) calls per device per round.
//
//   1. plan (q, T, σ) from the config and the device's example count (plan_dp_sgd);
//   2. ensure the device is registered in the ledger with its (ε, δ) budget;
//   3. PrivacyLedger::spend(T, q, σ): one exclusive transaction that checks whether the
//      RDP curve already spent plus T Poisson-subsampled Gaussian steps still converts to
//      ε ≤ budget at δ, and if so commits the new curve durably (fsync) BEFORE returning;
//   4. refused → PrivateRoundRefused: no example is sampled, read or trained on and no
//      update exists to send; accepted → train (train_local_dp_sgd) and return the update.
// Spending is a reservation made before any data is touched: a crash or a TrainingDiverged
// after step 3 loses that round's budget but never under-reports spending, and a refusal
// holds across restarts because it is computed from the stored curve
// (privacy/ledger/privacy_ledger.h).
//
// Ledger storage: ONE SQLite ledger file per run (e.g. <run_dir>/privacy_ledger.sqlite),
// keyed by device id; PrivacyLedger is internally locked, so the simulator's worker threads
// may share one open PrivacyLedger. A real device keeps a file holding its own id only.
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "client/train/dp_sgd_config.h"
#include "client/train/local_trainer.h"
#include "privacy/ledger/privacy_ledger.h"

namespace fedlora::client {

/// Who is training and the lifetime example-level budget their ledger enforces.
struct DevicePrivacy {
  std::string device_id;            ///< ledger key (non-empty)
  privacy::PrivacyBudget budget;    ///< (ε, δ): 0 < ε < ∞, 0 < δ < 1
};

/// The ledger accepted the round and the device trained.
struct PrivateRoundTrained {
  LocalUpdate update;             ///< Δ and update.dp (q, T, σ, C of this round)
  privacy::SpendDecision spend;   ///< accepted; epsilon_after includes this round
  /// Example-level ε spent by this device so far (this round included), at budget.delta,
  /// from the RDP accountant over the ledger's stored history.
  double epsilon_spent() const { return spend.epsilon_after.epsilon; }
};

/// The ledger refused: T more steps at (q, σ) would exceed the budget. Nothing was trained
/// and nothing may be sent for this device this round.
struct PrivateRoundRefused {
  DpSgdPlan plan;                   ///< what was asked for
  privacy::SpendDecision decision;  ///< kRefusedOverBudget; epsilon_after = what it would have been
  /// ε already spent (unchanged by the refusal).
  double epsilon_spent() const { return decision.epsilon_before.epsilon; }
};

using PrivateRoundResult = std::variant<PrivateRoundTrained, PrivateRoundRefused>;

/// ε spent so far by the device, whichever way the round went.
double epsilon_spent(const PrivateRoundResult& result);

/// Runs steps 1-4 above. `config.dp` must be set (σ = 0 is accepted by the mechanism but
/// has infinite ε, so any ledger refuses it).
/// Throws std::invalid_argument (config without dp, bad config, no examples, empty device
/// id), privacy::InvalidPrivacyParameter (bad budget), privacy::LedgerConfigMismatch (the
/// device is registered with a different budget), privacy::LedgerError /
/// LedgerCorruptError (ledger I/O or integrity; never treated as "nothing spent"), and after
/// an accepted spend whatever train_local_dp_sgd throws (TrainingDiverged, AdapterError).
PrivateRoundResult train_local_private(privacy::PrivacyLedger& ledger, const DevicePrivacy& device,
                                       std::shared_ptr<const lora::BaseModel> base,
                                       const lora::AdapterLayout& layout, std::span<const float> global,
                                       const std::vector<lora::TokenSeq>& examples,
                                       const LocalTrainConfig& config);

}  // namespace fedlora::client
