#include "simulator/run/device_timing.h"

#include "coordinator/protocol/seeds.h"
#include "lora/model/train_flops.h"

namespace fedlora::sim {

DeviceTimer::DeviceTimer(const DeviceProfiles& profiles, const AvailabilityModel& availability, TrainShape shape,
                         double down_bytes, double up_bytes, double masked_bytes)
    : profiles_(profiles),
      availability_(availability),
      shape_(std::move(shape)),
      down_bytes_(down_bytes),
      up_bytes_(up_bytes),
      masked_bytes_(masked_bytes) {}

double DeviceTimer::train_flop(const client::DeviceRoundReport& report) const {
  if (report.tokens <= 0) return 0.0;
  const int64_t per_step = shape_.batch_size * shape_.seq_len;
  return static_cast<double>(report.tokens) *
         lora::train_flop_per_token(shape_.model, shape_.targets, shape_.rank, shape_.seq_len, per_step,
                                    report.memory.activation_checkpointing);
}

double DeviceTimer::leaves_after(std::uint64_t device, double open_s) const {
  const auto until = availability_.available_until(device, open_s);
  if (!until) return 0.0;  // not eligible now: it leaves at once
  return *until == kNever ? kNever : *until - open_s;
}

MemberTime DeviceTimer::time(std::uint64_t device, double open_s, const client::DeviceRoundReport& report,
                             bool trained) const {
  const DeviceClass& c = profiles_.device_class(device);
  MemberTime m;
  m.latency_s = c.latency_ms / 1000.0;
  m.leaves_s = leaves_after(device, open_s);
  m.train_start_s = transfer_seconds(down_bytes_, c.down_mbps, c.latency_ms);
  if (!trained) return m;
  m.compute_s = compute_seconds(train_flop(report), c.gflops);
  const bool secure = masked_bytes_ > 0;
  m.report_s = m.train_start_s + m.compute_s +
               (secure ? m.latency_s : transfer_seconds(up_bytes_, c.up_mbps, c.latency_ms));
  if (secure) m.input_upload_s = transfer_seconds(masked_bytes_, c.up_mbps, c.latency_ms);
  return m;
}

FleetClock::FleetClock(const SimConfig& cfg, std::size_t population, TrainShape shape, double down_bytes,
                       double up_bytes, double masked_bytes)
    : profiles(cfg.fleet, population, protocol::derive_seed(cfg.run.seed, {0xF1EE7})),
      availability(make_availability(cfg.fleet, profiles, protocol::derive_seed(cfg.run.seed, {0xA7A1}))),
      timer(profiles, *availability, std::move(shape), down_bytes, up_bytes, masked_bytes) {}

}  // namespace fedlora::sim
