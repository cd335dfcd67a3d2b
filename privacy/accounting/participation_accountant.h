// User-level ε against the COORDINATOR: per-user participation accounting without
// amplification by sampling.
//
// Why: UserLevelAccountant reports ε of the Poisson-subsampled Gaussian (q = K/N). That
// amplification is valid only against an adversary who does not know which users were in
// which cohort. The coordinator draws the cohort itself and sees who takes part, so against
// the coordinator every participation of a user is a plain Gaussian mechanism (q = 1) on
// that user's data, and rounds the user skipped cost nothing.
//
// What the coordinator sees must carry noise it cannot remove: distributed noise through
// SecAgg, calibrated to honest survivors (user_level_dp.h: per_device_noise_stddev_honest),
// or noise added by a party the coordinator does not control. With central noise the
// coordinator sees the un-noised sum and NO ε holds against it: record σ = 0 (ε = +∞) then.
//
// Accounting: a Gaussian mechanism with noise multiplier σ_r is (α, α/(2σ_r²))-RDP
// (Mironov 2017, Prop. 7) and RDP composes additively, so a user's whole history is summed
// up by s_u = Σ_{r ∋ u} σ_r^−2 — exact even when σ varies by round. From s_u:
//  * RDP conversion: rdp(α) = α·s_u/2 → ε via epsilon_from_rdp (Balle et al. 2020 Thm 21);
//  * exact: the composition is itself a Gaussian mechanism with μ = √s_u (Dong, Roth, Su
//    2019, Cor. 3.3), whose ε is given by Balle & Wang 2018 Thm 8 (analytic_gaussian.h).
// Three figures are reported: the worst (largest s_u) user over actual participations, the
// largest participation count seen, and the worst case for a user picked in every round so
// far, or in at most max_participations rounds (the largest s achievable with that many).
//
// Which σ: as for UserLevelAccountant (with adaptive clipping the total z), provided the
// noise is distributed and honest-survivor calibrated; 0 in central mode.
// What counts as a participation: a user whose (masked) update is part of the unmasked sum
// of the round. Recording the whole selected cohort instead is conservative.
// Memory: one hash-map entry (id, s_u, count) per user who ever took part, plus one double
// per round; record_round is O(cohort log cohort), epsilon() O(rounds + orders).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "privacy/accounting/epsilon.h"
#include "privacy/accounting/rdp.h"

namespace fedlora::privacy {

/// One user's record: Σ σ_r^−2 over the rounds the user took part in, and their count.
struct UserParticipation {
  std::uint64_t user_id = 0;
  double sum_inverse_sigma2 = 0.0;  ///< s_u ≥ 0; +∞ once the user was in a σ = 0 round
  std::int64_t participations = 0;  ///< ≥ 1 for a stored user
};

/// Everything needed to restore a ParticipationAccountant (for coordinator checkpoints).
struct ParticipationAccountantState {
  double delta = 0.0;                        ///< δ ∈ (0, 1) ε is reported at
  std::int64_t max_participations = 0;       ///< cap per user; 0 = no cap
  std::vector<double> orders;                ///< RDP orders (rdp.h)
  std::vector<double> round_inverse_sigma2;  ///< σ_r^−2 of every recorded round, in order
  std::vector<UserParticipation> users;      ///< any order; ids unique
};

/// ε of a Gaussian composition with Σ σ^−2 = sum_inverse_sigma2.
struct ParticipationEpsilon {
  /// Number of Gaussian mechanisms composed: an integer, except for an expected count q·T
  /// passed to gaussian_participation_epsilon.
  double participations = 0.0;
  double sum_inverse_sigma2 = 0.0;  ///< s = Σ σ^−2 (μ² of the composition)
  EpsilonResult rdp{0.0, 0.0};      ///< RDP curve α·s/2 converted with epsilon_from_rdp
  double exact = 0.0;               ///< analytic Gaussian ε (Balle & Wang 2018), ≤ rdp.epsilon
};

/// The coordinator's view after all recorded rounds.
struct CoordinatorEpsilon {
  std::int64_t rounds = 0;
  /// The most exposed user (largest s_u) over the rounds they actually took part in.
  /// Zero participations and ε = 0 before anyone took part.
  ParticipationEpsilon worst_user;
  std::optional<std::uint64_t> worst_user_id;
  /// Largest participation count of any user (differs from worst_user.participations only
  /// when σ varied by round).
  std::int64_t max_participations_seen = 0;
  /// A user picked in every round so far, or in the max_participations rounds with the
  /// smallest σ when a cap is set: what the coordinator can guarantee in advance.
  ParticipationEpsilon worst_case;
};

/// ε of `participations` Gaussian mechanisms with one noise multiplier σ ≥ 0 (σ = 0: ε = +∞
/// unless participations = 0), at δ ∈ (0, 1) over `orders`: s = participations/σ². participations ≥ 0 (real-valued, e.g. the expected
/// count q·T, is accepted: the formula is the composition for integer values and
/// interpolates monotonically between them). Throws InvalidPrivacyParameter.
ParticipationEpsilon gaussian_participation_epsilon(double participations,
                                                    double noise_multiplier, double delta,
                                                    std::span<const double> orders);

class ParticipationAccountant {
 public:
  /// δ ∈ (0, 1); max_participations ≥ 0 (0 = no cap); orders as in rdp.h.
  /// Throws InvalidPrivacyParameter.
  explicit ParticipationAccountant(double delta, std::int64_t max_participations = 0,
                                   std::vector<double> orders = default_orders());

  /// Restores a checkpoint. Throws InvalidPrivacyParameter naming the first inconsistency:
  /// bad δ/cap/orders, a NaN or negative σ^−2, duplicate user ids, a count < 1, above the
  /// number of rounds or above the cap, or an s_u no set of that many recorded rounds can
  /// produce (outside [sum of the smallest, sum of the largest] count σ_r^−2, 1e-9 relative).
  static ParticipationAccountant from_state(const ParticipationAccountantState& state);

  /// The state to checkpoint (users sorted by id, so equal accountants give equal states).
  [[nodiscard]] ParticipationAccountantState state() const;

  /// Records one round in which the users `participants` (distinct ids; may be empty)
  /// contributed, under noise multiplier σ ≥ 0 (the noise the coordinator cannot remove,
  /// in units of the L2 sensitivity). Atomic: on error nothing is recorded.
  /// Throws InvalidPrivacyParameter on σ < 0/NaN/∞ or a duplicate id, and PrivacyError if a
  /// participant would exceed max_participations (exclude them from the cohort beforehand:
  /// see can_participate).
  void record_round(std::span<const std::uint64_t> participants, double noise_multiplier);

  /// False if the user already took part max_participations times (always true without cap).
  [[nodiscard]] bool can_participate(std::uint64_t user_id) const;

  /// The user's record, or nullopt if they never took part.
  [[nodiscard]] std::optional<UserParticipation> user(std::uint64_t user_id) const;

  /// ε against the coordinator at δ (see CoordinatorEpsilon).
  [[nodiscard]] CoordinatorEpsilon epsilon() const;

  [[nodiscard]] double delta() const { return delta_; }
  [[nodiscard]] std::int64_t max_participations() const { return max_participations_; }
  [[nodiscard]] std::int64_t rounds() const {
    return static_cast<std::int64_t>(round_inverse_sigma2_.size());
  }
  [[nodiscard]] std::size_t user_count() const { return users_.size(); }
  [[nodiscard]] std::span<const double> orders() const { return orders_; }

 private:
  struct Entry {
    double sum_inverse_sigma2;
    std::int64_t participations;
  };
  // Orders users by exposure: larger s, then more participations, then smaller id.
  static bool more_exposed(const UserParticipation& a, const UserParticipation& b);
  void consider_worst(std::uint64_t id, const Entry& e);
  [[nodiscard]] ParticipationEpsilon epsilon_of(double sum_inverse_sigma2,
                                                double participations) const;

  double delta_;
  std::int64_t max_participations_;
  std::vector<double> orders_;
  std::vector<double> round_inverse_sigma2_;
  std::unordered_map<std::uint64_t, Entry> users_;
  std::optional<UserParticipation> worst_;
  std::int64_t max_participations_seen_ = 0;
};

}  // namespace fedlora::privacy
