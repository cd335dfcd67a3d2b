#pragma once
// What a client accepts from a coordinator it does not trust.
//
// A malicious server can choose the round's parameters (t = 2, a tiny degree k), claim
// that most of a client's neighbours dropped (isolating it among corrupt clients), or
// skip the consistency check. A ClientPolicy states the threat model the device was
// provisioned for; ClientStateMachine refuses, before sending any key, a round whose
// (graph, k, t) are not secure under it (check_security_against, Bell et al. CCS'20 /
// fcp graph_parameter_finder bounds), and aborts a round in which fewer than
// min_live_neighbours() neighbours stay live at any stage.
#include <cstdint>
#include <optional>

#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/graph_parameters.h"
#include "secure-agg/round_config.h"

namespace fedlora::secagg {

struct ClientPolicy {
  /// The model (k, t) must be secure under. With a consistency-check round the client
  /// checks the semi-malicious bound whatever `threat.adversary` says. The dropout
  /// fraction also sets the isolation bound (min_live_neighbours).
  ThreatModel threat{0.05, 0.30, AdversaryModel::kSemiHonest};
  std::uint32_t min_clients = 2;          ///< expected cohort size range [min, max]
  std::uint32_t max_clients = 1'000'000;
  std::uint32_t min_threshold = 2;        ///< absolute floor on t
  std::uint32_t min_degree = 0;           ///< absolute floor on k
  bool require_consistency_check = false; ///< refuse rounds without round 3
  /// Least scrypt log2 N of the Harary graph seed (README, "Graph seed").
  unsigned min_graph_seed_work = kDefaultGraphSeedWork;
  /// If set, every neighbour's roster entry must carry this authority's enrolment
  /// signature (identity.h); without it the server could fill a neighbourhood with
  /// identities it made up.
  std::optional<crypto::Ed25519PublicKey> enrolment_authority;
  /// false only in unchecked(): no threat-model check, isolation bound t - 1.
  bool enforce_threat_model = true;

  /// The default policy, with the given threat model; semi-malicious implies
  /// require_consistency_check.
  static ClientPolicy for_threat(const ThreatModel& threat);
  /// Accepts any structurally valid round (isolation bound t - 1, no seed-work floor).
  /// For simulations and protocol tests where the server is ours, never for devices.
  static ClientPolicy unchecked();

  /// Throws PolicyError naming the first field of config that falls below the policy
  /// (ConfigError if config itself is invalid).
  void check(const RoundConfig& config) const;
  /// Least number of live neighbours the client proceeds with at every stage:
  /// max(t - 1, k - floor(delta k)) when enforcing the threat model, t - 1 otherwise.
  std::uint32_t min_live_neighbours(const RoundConfig& config) const;
};

}  // namespace fedlora::secagg
