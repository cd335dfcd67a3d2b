#include "privacy/accounting/user_level_accountant.h"

#include <string>
#include <utility>

#include "privacy/errors.h"

namespace fedlora::privacy {

UserLevelAccountant::UserLevelAccountant(std::int64_t population, double delta,
                                         std::vector<double> orders)
    : population_(population), delta_(delta), accountant_(std::move(orders)) {
  if (population < 1) {
    throw InvalidPrivacyParameter("UserLevelAccountant: population " +
                                  std::to_string(population) + " must be >= 1");
  }
  if (!(delta > 0.0 && delta < 1.0)) {
    throw InvalidPrivacyParameter("UserLevelAccountant: delta " + std::to_string(delta) +
                                  " must be in (0, 1)");
  }
}

UserLevelAccountant UserLevelAccountant::from_state(std::int64_t population, double delta,
                                                    std::vector<double> orders,
                                                    std::vector<double> rdp,
                                                    std::int64_t rounds) {
  if (rounds < 0) {
    throw InvalidPrivacyParameter("UserLevelAccountant: stored round count " +
                                  std::to_string(rounds) + " is negative");
  }
  UserLevelAccountant acc(population, delta, std::move(orders));
  acc.accountant_.compose_rdp(rdp);
  acc.rounds_ = rounds;
  return acc;
}

EpsilonResult UserLevelAccountant::record_round(std::int64_t expected_cohort,
                                                double noise_multiplier) {
  if (expected_cohort < 1 || expected_cohort > population_) {
    throw InvalidPrivacyParameter("UserLevelAccountant: expected cohort " +
                                  std::to_string(expected_cohort) + " must be in [1, " +
                                  std::to_string(population_) + "] (the population)");
  }
  const double q = static_cast<double>(expected_cohort) / static_cast<double>(population_);
  accountant_.compose_poisson_gaussian(q, noise_multiplier, 1);
  ++rounds_;
  return epsilon();
}

}  // namespace fedlora::privacy
