#pragma once
// The device side of one simulated round, for every member of the cohort: whether it drops
// out (and, with SecAgg, before which stage), local training (plain or DP-SGD through the
// device's privacy ledger), and the upload it would send. Runs the same client code a
// device runs, one device per worker thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/upload/device_upload.h"
#include "lora/adapter/adapter_layout.h"
#include "lora/model/base_model.h"
#include "privacy/ledger/privacy_ledger.h"
#include "simulator/config/sim_config.h"
#include "simulator/fleet/fleet.h"
#include "simulator/fleet/worker_pool.h"
#include "simulator/run/aggregation_channel.h"

namespace fedlora::sim {

enum class DeviceOutcome {
  uploaded,  ///< trained and produced an upload
  dropped,   ///< went silent (simulated dropout) before uploading
  refused,   ///< DP-SGD ledger: the round would exceed its example-level budget
  rejected,  ///< training diverged or produced NaN/Inf: nothing is sent
};

struct DeviceReport {
  DeviceOutcome outcome = DeviceOutcome::dropped;
  std::string error;           ///< for rejected
  double train_loss = 0.0;     ///< mean local loss (simulation report only)
  int64_t tokens = 0;
  double example_epsilon = 0;  ///< ε spent so far (DP-SGD only)
};

struct CohortRound {
  CohortUploads uploads;               ///< what goes into aggregation
  std::vector<DeviceReport> devices;   ///< per cohort member
};

struct DeviceRoundContext {
  const SimConfig& cfg;
  std::shared_ptr<const lora::BaseModel> base;
  const lora::AdapterLayout& layout;
  std::span<const float> theta;        ///< θ_t
  uint64_t round = 0;
  double fedprox_mu = 0.0;
  client::UploadSpec upload;
  bool secagg = false;                 ///< drops happen before a protocol stage
  privacy::PrivacyLedger* ledger = nullptr;  ///< set when [dp_sgd] is on
};

/// Runs the cohort's devices on the pool (longest first). Seeds derive from
/// (run seed, round, device id). A device that drops before masking its input (or without
/// SecAgg, before uploading) does not train.
CohortRound run_cohort(WorkerPool& pool, const DeviceRoundContext& ctx, std::span<const uint64_t> cohort,
                       const Fleet& fleet);

}  // namespace fedlora::sim
