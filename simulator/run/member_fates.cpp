#include "simulator/run/member_fates.h"

#include <algorithm>

#include "coordinator/protocol/seeds.h"

namespace fedlora::sim {

using secagg::Stage;

std::vector<Stage> round_stages(bool consistency_check) {
  std::vector<Stage> stages{Stage::kAdvertiseKeys, Stage::kShareKeys, Stage::kMaskedInputCollection};
  if (consistency_check) stages.push_back(Stage::kConsistencyCheck);
  stages.push_back(Stage::kUnmasking);
  return stages;
}

MemberSilence draw_dropouts(std::uint64_t run_seed, std::uint64_t round, std::span<const std::uint64_t> cohort,
                            double rate, bool secure, const std::vector<Stage>& stages) {
  MemberSilence silence(cohort.size());
  for (std::size_t i = 0; i < cohort.size(); ++i) {
    const std::uint64_t s = protocol::derive_seed(run_seed, {0xD80, round, cohort[i]});
    if (!(static_cast<double>(s >> 11) * 0x1.0p-53 < rate)) continue;
    silence.silence_from(i, secure ? stages[protocol::derive_seed(s, {1}) % stages.size()] : Stage::kAdvertiseKeys);
  }
  return silence;
}

ClockedRound clock_round(const RoundClockSpec& clock, std::span<const std::uint64_t> cohort,
                         std::span<const client::DeviceRoundReport> reports, const std::vector<bool>& reporting,
                         bool secure, const std::vector<Stage>& stages, MemberSilence& silence) {
  const std::size_t k = cohort.size();
  ClockedRound cr;
  cr.times.resize(k);
  for (std::size_t i = 0; i < k; ++i) cr.times[i] = clock.timer->time(cohort[i], clock.open_s, reports[i], reporting[i]);
  cr.cut = cut_round(cr.times, clock.target, clock.deadline_s);
  for (std::size_t i = 0; i < k; ++i)
    if (cr.cut.fate[i] == MemberFate::straggler || cr.cut.fate[i] == MemberFate::left)
      silence.silence_from(i, Stage::kAdvertiseKeys);
  double t = cr.cut.close_s;
  if (secure) {
    // Each later stage is a round trip at the slowest reporting member's latency; the
    // masked input also pays its upload. A member whose session ends before a stage
    // ends goes silent from that stage.
    double latency = 0, upload = 0;
    for (std::size_t i = 0; i < k; ++i)
      if (cr.cut.fate[i] == MemberFate::reported) {
        latency = std::max(latency, cr.times[i].latency_s);
        upload = std::max(upload, cr.times[i].input_upload_s);
      }
    for (std::size_t s = 1; s < stages.size(); ++s) {
      t += 2 * latency + (stages[s] == Stage::kMaskedInputCollection ? upload : 0.0);
      for (std::size_t i = 0; i < k; ++i)
        if (cr.cut.fate[i] == MemberFate::reported && cr.times[i].leaves_s < t) silence.silence_from(i, stages[s]);
    }
  }
  cr.duration_s = t;
  return cr;
}

}  // namespace fedlora::sim
