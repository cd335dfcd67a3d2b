// User-level ε named by the adversary it holds against.
//
// One federated run has (at least) two different privacy guarantees, and reporting a single
// ε hides which one it is:
//  * released_model — against anyone who sees the sequence of released global models but
//    NOT which users were in which cohort (a model consumer, another user). Poisson
//    subsampling with q = K/N amplifies privacy (UserLevelAccountant). The amplification
//    assumes cohort membership stays secret: it does not hold against the coordinator, who
//    draws the cohorts, nor against anyone the coordinator or a device tells who took part.
//  * coordinator — against the coordinator itself, who knows every cohort and sees the
//    SecAgg sums (ParticipationAccountant): each participation of a user is a plain
//    Gaussian mechanism, no amplification. Valid only if the sums the coordinator sees carry
//    noise it cannot remove (distributed noise calibrated to honest survivors,
//    user_level_dp.h); with central noise it is +∞ and must be recorded as σ = 0.
// Both figures are at the same δ.
#pragma once

#include "privacy/accounting/epsilon.h"
#include "privacy/accounting/participation_accountant.h"
#include "privacy/accounting/user_level_accountant.h"

namespace fedlora::privacy {

struct EpsilonByAdversary {
  double delta = 0.0;  ///< δ of both figures
  /// Amplified by Poisson sampling; valid only while cohort membership stays secret from
  /// the adversary (see the header comment).
  EpsilonResult released_model{0.0, 0.0};
  /// Without amplification: the most exposed user over actual participations, the largest
  /// participation count seen, and the worst case for the rounds so far (or the cap).
  CoordinatorEpsilon coordinator;
};

/// Both figures from the two accountants of one run. Throws InvalidPrivacyParameter if their
/// δ differ or they recorded a different number of rounds (they must see the same rounds).
EpsilonByAdversary epsilon_by_adversary(const UserLevelAccountant& released_model,
                                        const ParticipationAccountant& coordinator);

}  // namespace fedlora::privacy
