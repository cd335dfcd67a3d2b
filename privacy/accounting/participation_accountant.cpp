#include "privacy/accounting/participation_accountant.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>

#include "privacy/accounting/analytic_gaussian.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void check_delta(double delta, const char* where) {
  if (!(delta > 0.0 && delta < 1.0)) {
    throw InvalidPrivacyParameter(std::string(where) + ": delta " + std::to_string(delta) +
                                  " must be in (0, 1)");
  }
}

ParticipationEpsilon epsilon_for_sum(double s, double participations, double delta,
                                     std::span<const double> orders) {
  ParticipationEpsilon out;
  out.participations = participations;
  out.sum_inverse_sigma2 = s;
  std::vector<double> rdp(orders.size());
  for (std::size_t i = 0; i < orders.size(); ++i) {
    // α·s/2; the α = ∞ order is +∞ unless nothing was released.
    rdp[i] = s == 0.0 ? 0.0 : orders[i] * s / 2.0;
  }
  out.rdp = epsilon_from_rdp(orders, rdp, delta);
  out.exact = analytic_gaussian_epsilon(gaussian_mu_from_sum_inverse_sigma2(s), delta);
  return out;
}

// Sum of the `count` largest values (count clamped to the size).
double largest_sum(std::vector<double> values, std::int64_t count) {
  const auto k = static_cast<std::size_t>(
      std::min<std::int64_t>(count, static_cast<std::int64_t>(values.size())));
  if (k == 0) return 0.0;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k - 1),
                   values.end(), std::greater<>());
  double s = 0.0;
  for (std::size_t i = 0; i < k; ++i) s += values[i];
  return s;
}

}  // namespace

ParticipationEpsilon gaussian_participation_epsilon(double participations,
                                                    double noise_multiplier, double delta,
                                                    std::span<const double> orders) {
  if (!(participations >= 0.0) || std::isinf(participations)) {
    throw InvalidPrivacyParameter("gaussian_participation_epsilon: participations " +
                                  std::to_string(participations) + " must be finite and >= 0");
  }
  if (!(noise_multiplier >= 0.0) || std::isinf(noise_multiplier)) {
    throw InvalidPrivacyParameter("gaussian_participation_epsilon: noise multiplier " +
                                  std::to_string(noise_multiplier) + " must be finite and >= 0");
  }
  check_delta(delta, "gaussian_participation_epsilon");
  validate_orders(orders);
  const double s = participations == 0.0 ? 0.0
                   : noise_multiplier == 0.0
                       ? kInf
                       : participations / (noise_multiplier * noise_multiplier);
  return epsilon_for_sum(s, participations, delta, orders);
}

ParticipationAccountant::ParticipationAccountant(double delta, std::int64_t max_participations,
                                                 std::vector<double> orders)
    : delta_(delta), max_participations_(max_participations), orders_(std::move(orders)) {
  check_delta(delta, "ParticipationAccountant");
  if (max_participations < 0) {
    throw InvalidPrivacyParameter("ParticipationAccountant: max_participations " +
                                  std::to_string(max_participations) +
                                  " must be >= 0 (0 = no cap)");
  }
  validate_orders(orders_);
}

bool ParticipationAccountant::more_exposed(const UserParticipation& a,
                                           const UserParticipation& b) {
  if (a.sum_inverse_sigma2 != b.sum_inverse_sigma2) {
    return a.sum_inverse_sigma2 > b.sum_inverse_sigma2;
  }
  if (a.participations != b.participations) return a.participations > b.participations;
  return a.user_id < b.user_id;
}

void ParticipationAccountant::consider_worst(std::uint64_t id, const Entry& e) {
  const UserParticipation u{id, e.sum_inverse_sigma2, e.participations};
  if (!worst_ || more_exposed(u, *worst_)) worst_ = u;
  max_participations_seen_ = std::max(max_participations_seen_, e.participations);
}

ParticipationAccountant ParticipationAccountant::from_state(
    const ParticipationAccountantState& state) {
  ParticipationAccountant acc(state.delta, state.max_participations, state.orders);
  const auto rounds = static_cast<std::int64_t>(state.round_inverse_sigma2.size());
  for (std::size_t r = 0; r < state.round_inverse_sigma2.size(); ++r) {
    const double v = state.round_inverse_sigma2[r];
    if (!(v >= 0.0)) {
      throw InvalidPrivacyParameter("ParticipationAccountant state: round " + std::to_string(r) +
                                    " has 1/sigma^2 = " + std::to_string(v) +
                                    " (must be >= 0, not NaN)");
    }
  }
  acc.round_inverse_sigma2_ = state.round_inverse_sigma2;
  // smallest[k] / largest[k]: sums of the k smallest / largest σ_r^−2, bounds on any s_u
  // of a user with k participations.
  std::vector<double> ascending = state.round_inverse_sigma2;
  std::sort(ascending.begin(), ascending.end());
  std::vector<double> smallest(ascending.size() + 1, 0.0), largest(ascending.size() + 1, 0.0);
  for (std::size_t k = 0; k < ascending.size(); ++k) {
    smallest[k + 1] = smallest[k] + ascending[k];
    largest[k + 1] = largest[k] + ascending[ascending.size() - 1 - k];
  }
  acc.users_.reserve(state.users.size());
  for (const UserParticipation& u : state.users) {
    const std::string who = "ParticipationAccountant state: user " + std::to_string(u.user_id);
    if (u.participations < 1 || u.participations > rounds) {
      throw InvalidPrivacyParameter(who + " has " + std::to_string(u.participations) +
                                    " participations, outside [1, " + std::to_string(rounds) +
                                    "] (the recorded rounds)");
    }
    if (state.max_participations > 0 && u.participations > state.max_participations) {
      throw InvalidPrivacyParameter(who + " has " + std::to_string(u.participations) +
                                    " participations, above the cap " +
                                    std::to_string(state.max_participations));
    }
    if (!(u.sum_inverse_sigma2 >= 0.0)) {
      throw InvalidPrivacyParameter(who + " has sum of 1/sigma^2 = " +
                                    std::to_string(u.sum_inverse_sigma2) +
                                    " (must be >= 0, not NaN)");
    }
    const double hi = largest[static_cast<std::size_t>(u.participations)];
    const double lo = smallest[static_cast<std::size_t>(u.participations)];
    const bool too_high = !std::isinf(hi) && u.sum_inverse_sigma2 > hi * (1 + 1e-9);
    const bool too_low = !std::isinf(u.sum_inverse_sigma2) && u.sum_inverse_sigma2 < lo * (1 - 1e-9);
    if (too_high || too_low) {
      throw InvalidPrivacyParameter(
          who + " has sum of 1/sigma^2 = " + std::to_string(u.sum_inverse_sigma2) +
          ", which no " + std::to_string(u.participations) +
          " of the recorded rounds can produce (range [" + std::to_string(lo) + ", " +
          std::to_string(hi) + "]); the checkpoint is corrupt");
    }
    const Entry e{u.sum_inverse_sigma2, u.participations};
    if (!acc.users_.emplace(u.user_id, e).second) {
      throw InvalidPrivacyParameter(who + " appears twice; the checkpoint is corrupt");
    }
    acc.consider_worst(u.user_id, e);
  }
  return acc;
}

ParticipationAccountantState ParticipationAccountant::state() const {
  ParticipationAccountantState s;
  s.delta = delta_;
  s.max_participations = max_participations_;
  s.orders = orders_;
  s.round_inverse_sigma2 = round_inverse_sigma2_;
  s.users.reserve(users_.size());
  for (const auto& [id, e] : users_) s.users.push_back({id, e.sum_inverse_sigma2, e.participations});
  std::sort(s.users.begin(), s.users.end(),
            [](const UserParticipation& a, const UserParticipation& b) {
              return a.user_id < b.user_id;
            });
  return s;
}

void ParticipationAccountant::record_round(std::span<const std::uint64_t> participants,
                                           double noise_multiplier) {
  if (!(noise_multiplier >= 0.0) || std::isinf(noise_multiplier)) {
    throw InvalidPrivacyParameter("ParticipationAccountant::record_round: noise multiplier " +
                                  std::to_string(noise_multiplier) + " must be finite and >= 0");
  }
  std::vector<std::uint64_t> sorted(participants.begin(), participants.end());
  std::sort(sorted.begin(), sorted.end());
  if (auto dup = std::adjacent_find(sorted.begin(), sorted.end()); dup != sorted.end()) {
    throw InvalidPrivacyParameter("ParticipationAccountant::record_round: user " +
                                  std::to_string(*dup) +
                                  " is listed twice in one round (its sensitivity would double)");
  }
  for (std::uint64_t id : sorted) {
    if (!can_participate(id)) {
      throw PrivacyError("ParticipationAccountant::record_round: user " + std::to_string(id) +
                         " already took part " + std::to_string(max_participations_) +
                         " times, the cap; exclude it from the cohort");
    }
  }
  const double inv = noise_multiplier == 0.0 ? kInf : 1.0 / (noise_multiplier * noise_multiplier);
  round_inverse_sigma2_.push_back(inv);
  users_.reserve(users_.size() + sorted.size());
  for (std::uint64_t id : sorted) {
    Entry& e = users_.try_emplace(id, Entry{0.0, 0}).first->second;
    e.sum_inverse_sigma2 += inv;
    e.participations += 1;
    consider_worst(id, e);
  }
}

bool ParticipationAccountant::can_participate(std::uint64_t user_id) const {
  if (max_participations_ == 0) return true;
  const auto it = users_.find(user_id);
  return it == users_.end() || it->second.participations < max_participations_;
}

std::optional<UserParticipation> ParticipationAccountant::user(std::uint64_t user_id) const {
  const auto it = users_.find(user_id);
  if (it == users_.end()) return std::nullopt;
  return UserParticipation{user_id, it->second.sum_inverse_sigma2, it->second.participations};
}

ParticipationEpsilon ParticipationAccountant::epsilon_of(double sum_inverse_sigma2,
                                                         double participations) const {
  return epsilon_for_sum(sum_inverse_sigma2, participations, delta_, orders_);
}

CoordinatorEpsilon ParticipationAccountant::epsilon() const {
  CoordinatorEpsilon out;
  out.rounds = rounds();
  if (worst_) {
    out.worst_user = epsilon_of(worst_->sum_inverse_sigma2,
                                static_cast<double>(worst_->participations));
    out.worst_user_id = worst_->user_id;
  } else {
    out.worst_user = epsilon_of(0.0, 0);
  }
  out.max_participations_seen = max_participations_seen_;
  const std::int64_t bound_count =
      max_participations_ > 0 ? std::min(max_participations_, rounds()) : rounds();
  out.worst_case = epsilon_of(largest_sum(round_inverse_sigma2_, bound_count),
                              static_cast<double>(bound_count));
  return out;
}

}  // namespace fedlora::privacy
