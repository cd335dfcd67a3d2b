#include "simulator/run/aggregation_channel.h"

#include <cmath>

#include "secure-agg/driver.h"
#include "secure-agg/errors.h"
#include "secure-agg/crypto/random.h"

namespace fedlora::sim {

ChannelResult plain_sum(const CohortUploads& cohort, size_t length) {
  ChannelResult r;
  r.value_sum = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(length));
  for (const auto& u : cohort.uploads) {
    if (!u) continue;
    if (u->values.size() != length) throw std::invalid_argument("plain_sum: upload of the wrong length");
    for (size_t i = 0; i < length; ++i) r.value_sum[static_cast<Eigen::Index>(i)] += u->values[i];
    r.weight_sum += u->weight;
    ++r.contributors;
    r.bytes_up += static_cast<int64_t>(length * sizeof(float) + sizeof(double));
  }
  return r;
}

SecAggPlan plan_secagg(uint32_t n, const SecAggSection& s) {
  using namespace secagg;
  if (n < 2) throw ConfigError("secure aggregation needs at least 2 devices in a round");
  SecAggParameters p;
  try {
    if (s.degree > 0 || s.threshold > 0) {
      p.graph = s.graph == "harary" ? GraphKind::kHarary : GraphKind::kComplete;
      p.degree = s.degree > 0 ? static_cast<uint32_t>(s.degree) : n - 1;
      if (p.graph == GraphKind::kComplete) p.degree = n - 1;
      p.threshold = s.threshold > 0 ? static_cast<uint32_t>(s.threshold) : p.degree / 2 + 1;
      if (p.threshold > p.degree + 1) p.threshold = p.degree + 1;  // cohort smaller than configured
      validate_parameters(n, p);
    } else {
      const GraphChoice choice = s.graph == "complete" ? GraphChoice::kComplete
                                 : s.graph == "harary"  ? GraphChoice::kHarary
                                                        : GraphChoice::kAuto;
      p = choose_parameters(n, ThreatModel{s.corrupt_fraction, s.dropout_fraction, AdversaryModel::kSemiHonest}, choice);
    }
  } catch (const secagg::ConfigError& e) {
    throw fedlora::sim::ConfigError("secagg parameters for a cohort of " + std::to_string(n) + ": " + e.what() +
                                    " (adjust secagg.corrupt_fraction / dropout_fraction, or set degree/threshold)");
  }
  return SecAggPlan{n, p.degree, p.threshold, p.graph == GraphKind::kHarary};
}

ChannelResult secure_sum(const CohortUploads& cohort, size_t length, bool with_weights, double max_weight,
                         double clip_range, const SecAggSection& s, const SecAggPlan& plan, uint64_t round,
                         uint64_t seed) {
  using namespace secagg;
  const auto n = static_cast<uint32_t>(cohort.uploads.size());
  FixedPointParams fp;
  fp.clip = clip_range;
  fp.bits = static_cast<unsigned>(s.bits);
  fp.max_contributors = n;
  fp.word_bits = static_cast<unsigned>(s.word_bits);
  if (with_weights) fp.weight_clip = max_weight;
  FixedPointCodec codec(fp);

  RoundConfig rc;
  crypto::DeterministicRandom(seed, "session " + std::to_string(round)).fill(rc.session_id);
  rc.round = round;
  rc.num_clients = n;
  rc.vector_length = codec.encoded_length(length);
  rc.word_bits = fp.word_bits;
  rc.params = SecAggParameters{plan.harary ? GraphKind::kHarary : GraphKind::kComplete, plan.degree, plan.threshold};
  rc.consistency_check = s.consistency_check;

  ChannelResult r;
  r.min_contributors = static_cast<int>(plan.threshold);
  std::vector<std::vector<float>> inputs(n);
  std::vector<double> weights;
  DropoutSchedule schedule = DropoutSchedule::none(n);
  for (uint32_t u = 0; u < n; ++u) {
    if (u < cohort.drop_stage.size() && cohort.drop_stage[u])
      schedule.drop_before[u] = static_cast<Stage>(*cohort.drop_stage[u]);
    const auto& up = cohort.uploads[u];
    if (up) {
      inputs[u] = up->values;
      for (float v : up->values)
        if (std::abs(v) > clip_range) ++r.clipped_values;
    } else {
      inputs[u].assign(length, 0.0f);  // never sent: the device drops before masking
    }
    if (with_weights) weights.push_back(up ? up->weight : 0.0);
  }
  const auto res = run_secagg_round(rc, codec, inputs, weights, schedule, seed ^ (round * 0x9E3779B97F4A7C15ull));
  for (auto b : res.report.bytes_up) r.bytes_up += static_cast<int64_t>(b);
  for (auto b : res.report.bytes_down) r.bytes_down += static_cast<int64_t>(b);
  r.client_cpu_s = res.report.client_seconds_total;
  r.server_cpu_s = res.report.server_seconds;
  if (res.aborted) {
    r.aborted = true;
    r.abort_reason = "secure aggregation aborted: " + res.abort_reason;
    return r;
  }
  r.contributors = static_cast<int>(res.survivors.size());
  r.value_sum = Eigen::Map<const Eigen::VectorXd>(res.sum.data(), static_cast<Eigen::Index>(res.sum.size()));
  r.weight_sum = with_weights ? res.weight_sum.value_or(0.0) : static_cast<double>(r.contributors);
  return r;
}

}  // namespace fedlora::sim
