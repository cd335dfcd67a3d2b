#include "secure-agg/graph_parameters.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "secure-agg/errors.h"
#include "secure-agg/hypergeometric.h"

namespace fedlora::secagg {
namespace {

// Guards floor(rate * n) against rounding down in the insecure direction.
constexpr double kSmall = 1e-14;

void validate_threat(const ThreatModel& th) {
  if (!(th.corrupt_fraction >= 0 && th.corrupt_fraction < 1)) {
    throw ConfigError("corrupt_fraction must be in [0, 1), got " + std::to_string(th.corrupt_fraction));
  }
  if (!(th.dropout_fraction >= 0 && th.dropout_fraction < 1)) {
    throw ConfigError("dropout_fraction must be in [0, 1), got " + std::to_string(th.dropout_fraction));
  }
}

std::uint32_t floor_count(double rate, std::uint32_t n) {
  return static_cast<std::uint32_t>(std::floor((rate + kSmall) * n));
}

using Range = ThresholdRange;

std::optional<Range> harary_range(std::uint32_t n, std::uint32_t k, const ThreatModel& th) {
  const double log_sec = -(kSecurityBits + 1) * std::log(2.0);  // 2^-40 split over two events
  const std::uint32_t adv = floor_count(th.corrupt_fraction, n);
  const std::uint32_t drop = floor_count(th.dropout_fraction, n);
  const std::uint32_t bad = std::min(n, adv + drop);
  // Disconnection (Bell et al. CCS'20): removing nodes disconnects H_{k,n} only if two
  // disjoint runs of k/2 consecutive ring positions are all bad. Union bound over the
  // n (n-k-1)/2 pairs of runs; each has probability C(n-k, bad-k) / C(n, bad).
  if (k <= bad) {
    const double log_pairs = std::log(double(n)) + std::log(double(n) - k - 1) - std::log(2.0);
    const double log_p = log_pairs + std::lgamma(bad + 1.0) + std::lgamma(double(n) - k + 1) -
                         std::lgamma(n + 1.0) - std::lgamma(double(bad) - k + 1);
    if (log_p >= log_sec) return std::nullopt;
  }
  const double sec_tail = std::exp(log_sec) / n;
  const double cor_tail = std::pow(2.0, -kCorrectnessBits) / n;
  // t1: smallest x with P[#corrupt neighbours > x] <= sec_tail (running upper tail).
  const Hypergeometric corrupt(n, adv, k);
  std::int64_t t1 = corrupt.support_max();
  double upper = 0.0;  // P[X > t1]
  while (t1 > 0 && upper + corrupt.pmf(t1) <= sec_tail) upper += corrupt.pmf(t1--);
  // t2: largest x <= k with P[#surviving neighbours < x] <= cor_tail (running lower tail).
  const Hypergeometric alive(n, n - drop, k);
  std::int64_t t2 = 0;
  double lower = 0.0;  // P[X < t2]
  while (t2 < k && lower + alive.pmf(t2) <= cor_tail) lower += alive.pmf(t2++);
  std::int64_t t_min = t1 + 1;
  if (th.adversary == AdversaryModel::kSemiMalicious) {
    // Honest holders (k + 1 - a of them, a <= t1) must not be able to answer two
    // conflicting views with t shares each: 2 (t - a) > k + 1 - a.
    t_min = std::max<std::int64_t>(t_min, (std::int64_t{k} + 1 + t1) / 2 + 1);
  }
  return Range{std::max<std::int64_t>(t_min, 2), std::min<std::int64_t>(t2, k + 1)};
}

Range complete_range(std::uint32_t n, const ThreatModel& th) {
  const std::uint32_t adv = floor_count(th.corrupt_fraction, n);
  const std::uint32_t drop = floor_count(th.dropout_fraction, n);
  std::int64_t t_min = std::int64_t{adv} + 1;
  if (th.adversary == AdversaryModel::kSemiMalicious) t_min = (std::int64_t{n} + adv) / 2 + 1;
  return Range{std::max<std::int64_t>(t_min, 2), std::int64_t{n} - drop};
}

std::string range_text(const Range& r) {
  return "[" + std::to_string(r.t_min) + ", " + std::to_string(r.t_max) + "]";
}

}  // namespace

void validate_parameters(std::uint32_t n, const SecAggParameters& p) {
  if (n < 2) throw ConfigError("SecAgg needs at least n = 2 clients, got " + std::to_string(n));
  if (p.graph == GraphKind::kComplete) {
    if (p.degree != n - 1) {
      throw ConfigError("complete graph on n = " + std::to_string(n) + " clients has degree " +
                        std::to_string(n - 1) + ", got k = " + std::to_string(p.degree));
    }
  } else if (p.degree < 2 || p.degree % 2 != 0 || n < 4 || p.degree > n - 2) {
    throw ConfigError("Harary degree k must be even with 2 <= k <= n-2 (n = " + std::to_string(n) +
                      ", k = " + std::to_string(p.degree) + "); use the complete graph otherwise");
  }
  if (p.threshold < 2 || p.threshold > p.degree + 1) {
    throw ConfigError("threshold t = " + std::to_string(p.threshold) + " must be in [2, k+1 = " +
                      std::to_string(p.degree + 1) + "]: t = 1 would publish the secrets");
  }
}

SecAggParameters find_harary_parameters(std::uint32_t n, const ThreatModel& threat) {
  validate_threat(threat);
  for (std::uint32_t k = 2; n >= 4 && k <= n - 2; k += 2) {
    const auto r = harary_range(n, k, threat);
    if (r && r->t_min <= r->t_max) {
      return SecAggParameters{GraphKind::kHarary, k, static_cast<std::uint32_t>(r->t_min)};
    }
  }
  throw ConfigError("no Harary degree k <= n-2 meets the 2^-40 security and 2^-20 failure "
                    "targets for n = " + std::to_string(n) + ", corrupt_fraction = " +
                    std::to_string(threat.corrupt_fraction) + ", dropout_fraction = " +
                    std::to_string(threat.dropout_fraction) +
                    "; use the complete graph or lower the fractions");
}

SecAggParameters find_complete_graph_parameters(std::uint32_t n, const ThreatModel& threat) {
  validate_threat(threat);
  if (n < 2) throw ConfigError("SecAgg needs at least n = 2 clients, got " + std::to_string(n));
  const Range r = complete_range(n, threat);
  if (r.t_min > r.t_max) {
    throw ConfigError("complete graph with n = " + std::to_string(n) + ": security needs t >= " +
                      std::to_string(r.t_min) + " but tolerating the dropout fraction needs t <= " +
                      std::to_string(r.t_max) + "; lower corrupt_fraction or dropout_fraction");
  }
  return SecAggParameters{GraphKind::kComplete, n - 1, static_cast<std::uint32_t>(r.t_min)};
}

SecAggParameters choose_parameters(std::uint32_t n, const ThreatModel& threat, GraphChoice choice) {
  switch (choice) {
    case GraphChoice::kComplete:
      return find_complete_graph_parameters(n, threat);
    case GraphChoice::kHarary:
      return find_harary_parameters(n, threat);
    case GraphChoice::kAuto:
      break;
  }
  try {
    return find_harary_parameters(n, threat);
  } catch (const ConfigError&) {
    return find_complete_graph_parameters(n, threat);
  }
}

std::optional<ThresholdRange> admissible_thresholds(std::uint32_t n, GraphKind graph, std::uint32_t k,
                                                    const ThreatModel& threat) {
  validate_threat(threat);
  validate_parameters(n, SecAggParameters{graph, k, 2});
  if (graph == GraphKind::kComplete) return complete_range(n, threat);
  return harary_range(n, k, threat);
}

void check_security_against(std::uint32_t n, const SecAggParameters& p, const ThreatModel& threat) {
  validate_parameters(n, p);
  const auto r = admissible_thresholds(n, p.graph, p.degree, threat);
  if (!r) {
    throw ConfigError("Harary degree k = " + std::to_string(p.degree) + " is too small for n = " + std::to_string(n) +
                      ": corrupt and dropped clients disconnect the honest survivors' graph with probability "
                      ">= 2^-40 under this threat model");
  }
  if (p.threshold < r->t_min) {
    throw ConfigError("threshold t = " + std::to_string(p.threshold) + " is below the smallest secure t = " +
                      std::to_string(r->t_min) + " for n = " + std::to_string(n) + ", k = " + std::to_string(p.degree) +
                      ", corrupt_fraction = " + std::to_string(threat.corrupt_fraction) +
                      (threat.adversary == AdversaryModel::kSemiMalicious ? " (semi-malicious)" : " (semi-honest)"));
  }
}

std::uint32_t min_live_neighbours(std::uint32_t k, double dropout_fraction) {
  if (!(dropout_fraction >= 0 && dropout_fraction < 1)) {
    throw ConfigError("dropout_fraction must be in [0, 1), got " + std::to_string(dropout_fraction));
  }
  return k - floor_count(dropout_fraction, k);
}

SecAggParameters plan_parameters(std::uint32_t n, const ParameterRequest& request) {
  ThreatModel th = request.threat;
  validate_threat(th);
  if (n < 2) throw ConfigError("SecAgg needs at least n = 2 clients, got " + std::to_string(n));
  if (request.consistency_check) {
    th.adversary = AdversaryModel::kSemiMalicious;
  } else if (th.adversary == AdversaryModel::kSemiMalicious) {
    throw ConfigError("the semi-malicious model relies on the consistency round: set consistency_check = true");
  }
  const std::uint32_t k_req = request.degree, t_req = request.threshold;
  const std::string cohort = " for this cohort of n = " + std::to_string(n);
  if (k_req == 0 && t_req == 0) return choose_parameters(n, th, request.graph);

  SecAggParameters p;
  const bool complete = request.graph == GraphChoice::kComplete ||
                        (request.graph == GraphChoice::kAuto && k_req != 0 && k_req == n - 1);
  if (complete) {
    if (k_req != 0 && k_req != n - 1) {
      throw ConfigError("the complete graph has degree n - 1 = " + std::to_string(n - 1) + cohort +
                        ", but degree = " + std::to_string(k_req) + " was configured");
    }
    p = {GraphKind::kComplete, n - 1, t_req};
  } else if (k_req != 0) {
    p = {GraphKind::kHarary, k_req, t_req};
  } else {
    // Explicit t, automatic Harary degree: the smallest even k whose range holds t.
    std::optional<SecAggParameters> found;
    for (std::uint32_t k = 2; n >= 4 && k <= n - 2 && !found; k += 2) {
      const auto r = harary_range(n, k, th);
      if (r && r->t_min <= t_req && t_req <= r->t_max) found = SecAggParameters{GraphKind::kHarary, k, t_req};
    }
    if (!found && request.graph == GraphChoice::kAuto) {
      const Range r = complete_range(n, th);
      if (r.t_min <= t_req && t_req <= r.t_max) found = SecAggParameters{GraphKind::kComplete, n - 1, t_req};
    }
    if (!found) {
      throw ConfigError("no graph admits the configured threshold t = " + std::to_string(t_req) + cohort +
                        " under corrupt_fraction = " + std::to_string(th.corrupt_fraction) +
                        ", dropout_fraction = " + std::to_string(th.dropout_fraction) +
                        "; set threshold = 0 (automatic) or change the fractions");
    }
    p = *found;
  }
  if (p.threshold == 0) {
    const auto r = admissible_thresholds(n, p.graph, p.degree, th);
    if (!r || r->t_min > r->t_max) {
      throw ConfigError("degree k = " + std::to_string(p.degree) + cohort + " admits no threshold" +
                        (r ? " (secure t >= " + std::to_string(r->t_min) + " but the dropout budget needs t <= " +
                                 std::to_string(r->t_max) + ")"
                           : " (the graph disconnects with probability >= 2^-40)") +
                        "; choose a larger degree or degree = 0 (automatic)");
    }
    p.threshold = static_cast<std::uint32_t>(r->t_min);
  }
  if (p.threshold > p.degree + 1) {
    throw ConfigError("configured threshold t = " + std::to_string(p.threshold) + " exceeds k + 1 = " +
                      std::to_string(p.degree + 1) + " shareholders" + cohort +
                      "; it is never lowered silently: lower it or enlarge the cohort");
  }
  check_parameters_against(n, p, th);
  return p;
}

void check_parameters_against(std::uint32_t n, const SecAggParameters& p, const ThreatModel& threat) {
  validate_threat(threat);
  validate_parameters(n, p);
  std::optional<Range> r;
  if (p.graph == GraphKind::kComplete) {
    r = complete_range(n, threat);
  } else {
    r = harary_range(n, p.degree, threat);
    if (!r) {
      throw ConfigError("Harary degree k = " + std::to_string(p.degree) + " is too small for n = " +
                        std::to_string(n) + ": the honest survivors' graph disconnects with "
                        "probability >= 2^-40 under this threat model");
    }
  }
  if (p.threshold < r->t_min || p.threshold > r->t_max) {
    throw ConfigError("threshold t = " + std::to_string(p.threshold) + " outside the admissible range " +
                      range_text(*r) + " for n = " + std::to_string(n) + ", k = " + std::to_string(p.degree) +
                      " under the given corrupt/dropout fractions");
  }
}

}  // namespace fedlora::secagg
