#include "privacy/cli/adversary_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "privacy/accounting/analytic_gaussian.h"
#include "privacy/accounting/epsilon.h"
#include "privacy/accounting/participation_accountant.h"
#include "privacy/accounting/tree_aggregation_accountant.h"
#include "privacy/errors.h"

namespace fedlora::privacy::cli {
namespace {

using nlohmann::json;

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string fmt(double v, int precision = 6) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os.precision(precision);
  os << v;
  return os.str();
}

json to_json(const ParticipationEpsilon& e) {
  return {{"participations", e.participations},
          {"epsilon", number_or_null(e.rdp.epsilon)},
          {"optimal_order", number_or_null(e.rdp.optimal_order)},
          {"epsilon_exact", number_or_null(e.exact)}};
}

std::string line(const std::string& label, const ParticipationEpsilon& e) {
  return "  " + label + ": epsilon = " + fmt(e.rdp.epsilon) + " (RDP), " + fmt(e.exact) +
         " (exact, analytic Gaussian)\n";
}

}  // namespace

std::string released_model_caveat(double sample_rate) {
  return "  adversary: sees the released models only; amplified by Poisson sampling (q = " +
         fmt(sample_rate) +
         "), valid only while cohort membership stays secret from it (NOT against the "
         "coordinator, who draws the cohorts)\n";
}

CoordinatorReport coordinator_report(double sample_rate, double noise_multiplier,
                                     std::int64_t steps, double delta,
                                     std::int64_t max_participations,
                                     std::span<const double> orders) {
  if (max_participations < 0) {
    throw InvalidPrivacyParameter("--max-participations " + std::to_string(max_participations) +
                                  " must be >= 0 (0 = no cap)");
  }
  const double expected_count = sample_rate * static_cast<double>(steps);
  const ParticipationEpsilon expected =
      gaussian_participation_epsilon(expected_count, noise_multiplier, delta, orders);
  const ParticipationEpsilon every =
      gaussian_participation_epsilon(static_cast<double>(steps), noise_multiplier, delta, orders);
  CoordinatorReport r;
  r.json = {{"adversary", "coordinator (knows every cohort; sees the SecAgg sums)"},
            {"assumption",
             "no amplification: each participation is a Gaussian mechanism; requires noise the "
             "coordinator cannot remove (distributed noise calibrated to honest survivors)"},
            {"expected", to_json(expected)},
            {"every_round", to_json(every)},
            {"capped", nullptr}};
  r.text = "epsilon against the coordinator (knows the cohorts: no amplification; needs "
           "distributed noise calibrated to honest survivors):\n";
  r.text += line("expected participations q*T = " + fmt(expected_count), expected);
  r.text += line("picked in every round, T = " + std::to_string(steps), every);
  if (max_participations > 0) {
    const std::int64_t k = std::min(max_participations, steps);
    const ParticipationEpsilon capped =
        gaussian_participation_epsilon(static_cast<double>(k), noise_multiplier, delta, orders);
    r.json["capped"] = to_json(capped);
    r.json["max_participations"] = max_participations;
    r.text += line("cap --max-participations " + std::to_string(max_participations) + " (" +
                       std::to_string(k) + " participations)",
                   capped);
  }
  return r;
}

FtrlReport ftrl_report(double noise_multiplier, std::int64_t steps, double delta,
                       std::int64_t restart_every, std::int64_t max_participations,
                       std::int64_t min_separation, std::span<const double> orders) {
  if (steps < 1) {
    throw InvalidPrivacyParameter("--steps " + std::to_string(steps) + " must be >= 1");
  }
  if (restart_every < 0) {
    throw InvalidPrivacyParameter("--restart-every " + std::to_string(restart_every) +
                                  " must be >= 0 (0 = one tree)");
  }
  if (max_participations < 1) {
    throw InvalidPrivacyParameter("--max-participations " + std::to_string(max_participations) +
                                  " must be >= 1 for dp_ftrl (participations per tree)");
  }
  const std::vector<std::int64_t> trees =
      restart_schedule(steps, restart_every == 0 ? steps : restart_every);
  std::int64_t sensitivity_square = 0;
  for (std::int64_t n : trees) {
    sensitivity_square += tree_sensitivity_square_sum(max_participations, min_separation, n);
  }
  const std::vector<double> rdp =
      tree_aggregation_rdp(noise_multiplier, trees, max_participations, min_separation, orders);
  const EpsilonResult e = epsilon_from_rdp(orders, rdp, delta);
  // All tree nodes together are one Gaussian mechanism with μ = √(Σc²)/σ: exact ε.
  const double mu = noise_multiplier == 0.0
                        ? std::numeric_limits<double>::infinity()
                        : std::sqrt(static_cast<double>(sensitivity_square)) / noise_multiplier;
  const double exact = analytic_gaussian_epsilon(mu, delta);
  FtrlReport r;
  r.json = {{"epsilon", number_or_null(e.epsilon)},
            {"optimal_order", number_or_null(e.optimal_order)},
            {"epsilon_exact", number_or_null(exact)},
            {"delta", delta},
            {"noise_multiplier", noise_multiplier},
            {"steps", steps},
            {"mechanism", "dp_ftrl"},
            {"restart_every", restart_every},
            {"trees", trees},
            {"max_participations_per_tree", max_participations},
            {"min_separation", min_separation},
            {"sensitivity_square_sum", sensitivity_square},
            {"accountant", "rdp-tree-aggregation (Kairouz et al. 2021 App. D)"},
            {"adversary",
             "anyone who sees the released models, even knowing who took part in which round "
             "(no sampling assumed); not the coordinator, which adds the central tree noise"}};
  std::ostringstream os;
  os << "epsilon = " << fmt(e.epsilon, 10) << " at delta = " << fmt(delta)
     << " (DP-FTRL tree aggregation, optimal RDP order " << fmt(e.optimal_order) << ")\n"
     << "  exact (analytic Gaussian, mu = sqrt(" << sensitivity_square << ")/sigma): epsilon = "
     << fmt(exact) << "\n"
     << "  " << trees.size() << " tree(s) of sizes";
  for (std::size_t i = 0; i < trees.size() && i < 8; ++i) os << (i ? ", " : " ") << trees[i];
  if (trees.size() > 8) os << ", ...";
  os << "; at most " << max_participations << " participation(s) per user per tree, "
     << min_separation << " round(s) apart\n"
     << "  adversary: anyone who sees the released models, even knowing the cohorts (no "
        "sampling assumed); not the coordinator, which adds the central tree noise\n";
  r.text = os.str();
  return r;
}

}  // namespace fedlora::privacy::cli
