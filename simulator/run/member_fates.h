#pragma once
// What happens to each member of a simulated round besides training: simulated dropouts
// (before a SecAgg stage, or before uploading) and the simulated clock's cut (stragglers,
// devices whose session ends). Shared by the in-process and the multi-process transports,
// so that both decide the same fates from the same seeds.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "client/round/device_round.h"
#include "secure-agg/round_config.h"
#include "simulator/run/device_timing.h"
#include "simulator/run/sim_clock.h"

namespace fedlora::sim {

/// The simulated clock of one round (simulator/run/sim_clock.h).
struct RoundClockSpec {
  const DeviceTimer* timer = nullptr;
  double open_s = 0;       ///< simulated time the round opens
  int target = 1;          ///< reports that close the reporting phase (K)
  double deadline_s = 0;   ///< reporting deadline after opening; 0 = none
};

struct ClockedRound {
  std::vector<MemberTime> times;  ///< per member, relative to opening
  RoundCut cut;
  double duration_s = 0;          ///< opening → the round's last message (SecAgg: its last stage)
};

/// Per member: the first stage it is silent from (nullopt: it answers every stage). Plain
/// rounds use kAdvertiseKeys for "does not upload".
class MemberSilence {
 public:
  explicit MemberSilence(std::size_t members = 0) : from_(members) {}
  /// Silent at `stage` (and every later one).
  bool silent(std::size_t member, secagg::Stage stage) const {
    return from_[member] && static_cast<int>(stage) >= static_cast<int>(*from_[member]);
  }
  /// Makes the member silent from `stage` on, unless it already is from an earlier one.
  void silence_from(std::size_t member, secagg::Stage stage) {
    if (!from_[member] || static_cast<int>(stage) < static_cast<int>(*from_[member])) from_[member] = stage;
  }
  const std::optional<secagg::Stage>& from(std::size_t member) const { return from_[member]; }
  std::size_t size() const { return from_.size(); }

 private:
  std::vector<std::optional<secagg::Stage>> from_;
};

/// The stages a device answers, in order: AdvertiseKeys, ShareKeys, MaskedInputCollection,
/// [ConsistencyCheck,] Unmasking (a plain round uses only the first, as "upload").
std::vector<secagg::Stage> round_stages(bool consistency_check);

/// Simulated dropouts: each member goes silent with probability `rate`, drawn from
/// derive_seed(run_seed, {0xD80, round, device}); in a SecAgg round before a stage drawn
/// uniformly from `stages`, in a plain round before uploading.
MemberSilence draw_dropouts(std::uint64_t run_seed, std::uint64_t round, std::span<const std::uint64_t> cohort,
                            double rate, bool secure, const std::vector<secagg::Stage>& stages);

/// Whether member `i` sends its report (a plain upload, or SecAgg's AdvertiseKeys): it has a
/// device that took the task (`status` is its DeviceRoundReport status), is not silent from
/// AdvertiseKeys, and either trained (kReady) or, in a SecAgg round, is present but goes
/// silent before its input is needed (kAccepted, silent from MaskedInputCollection).
inline bool member_reports(bool has_device, client::DeviceStatus status, const MemberSilence& silence, std::size_t i,
                           bool secure) {
  if (!has_device || silence.silent(i, secagg::Stage::kAdvertiseKeys)) return false;
  return status == client::DeviceStatus::kReady ||
         (secure && status == client::DeviceStatus::kAccepted && silence.silent(i, secagg::Stage::kMaskedInputCollection));
}

/// The clock's cut of a round: each member's simulated times from its report (`reports`
/// says whether it sends anything), the first clock.target reports before the deadline
/// count; stragglers and leavers become silent from AdvertiseKeys, and in a SecAgg round a
/// member whose session ends before a later stage ends is silent from that stage.
ClockedRound clock_round(const RoundClockSpec& clock, std::span<const std::uint64_t> cohort,
                         std::span<const client::DeviceRoundReport> reports, const std::vector<bool>& reporting,
                         bool secure, const std::vector<secagg::Stage>& stages, MemberSilence& silence);

}  // namespace fedlora::sim
