#include "privacy/accounting/epsilon_by_adversary.h"

#include <string>

#include "privacy/errors.h"

namespace fedlora::privacy {

EpsilonByAdversary epsilon_by_adversary(const UserLevelAccountant& released_model,
                                        const ParticipationAccountant& coordinator) {
  if (released_model.delta() != coordinator.delta()) {
    throw InvalidPrivacyParameter(
        "epsilon_by_adversary: the accountants use different delta (" +
        std::to_string(released_model.delta()) + " vs " + std::to_string(coordinator.delta()) +
        "); construct both with the run's user-level delta");
  }
  if (released_model.rounds() != coordinator.rounds()) {
    throw InvalidPrivacyParameter(
        "epsilon_by_adversary: the accountants recorded different numbers of rounds (" +
        std::to_string(released_model.rounds()) + " vs " + std::to_string(coordinator.rounds()) +
        "); record every round in both");
  }
  EpsilonByAdversary out;
  out.delta = released_model.delta();
  out.released_model = released_model.epsilon();
  out.coordinator = coordinator.epsilon();
  return out;
}

}  // namespace fedlora::privacy
