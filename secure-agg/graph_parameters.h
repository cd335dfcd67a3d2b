#pragma once
// Choice and validation of the neighbour degree k and Shamir threshold t.
//
// Targets as in Google fcp's graph_parameter_finder (which implements Bell et al.
// CCS'20): security failure < 2^-40 (the server plus corrupt clients never
// hold t shares of an honest client's two secrets, and the graph of honest survivors
// stays connected), correctness failure < 2^-20 (every client keeps >= t live
// shareholders), union-bounded over the n clients.
//
// Holders of client u's shares are its k neighbours plus u itself (k + 1 shares), so
// 2 <= t <= k + 1; for the complete graph k = n - 1 (Bonawitz et al. CCS'17).
#include <cstdint>
#include <optional>

#include "secure-agg/graph.h"

namespace fedlora::secagg {

enum class AdversaryModel {
  kSemiHonest,     ///< honest-but-curious server colluding with corrupt clients
  kSemiMalicious,  ///< server may send inconsistent views (needs t above a majority)
};

struct ThreatModel {
  double corrupt_fraction = 0.0;  ///< alpha in [0, 1): clients colluding with the server
  double dropout_fraction = 0.0;  ///< delta in [0, 1): clients that may drop out
  AdversaryModel adversary = AdversaryModel::kSemiHonest;
};

inline constexpr double kSecurityBits = 40.0;
inline constexpr double kCorrectnessBits = 20.0;

struct SecAggParameters {
  GraphKind graph = GraphKind::kComplete;
  std::uint32_t degree = 0;     ///< k (n - 1 for the complete graph)
  std::uint32_t threshold = 0;  ///< t
};

enum class GraphChoice { kAuto, kComplete, kHarary };

/// Structural validity: n >= 2; complete graph has k = n-1; Harary has even k in
/// [2, n-2]; 2 <= t <= k + 1. Throws ConfigError naming the bad value.
void validate_parameters(std::uint32_t n, const SecAggParameters& p);

/// Smallest even k (and the smallest secure t for it) meeting both targets for a
/// random Harary graph. Throws ConfigError if the threat model is invalid or no k <= n-2
/// works (typical for small n: use the complete graph).
SecAggParameters find_harary_parameters(std::uint32_t n, const ThreatModel& threat);

/// Complete graph: t_min = a + 1 (semi-honest) or floor((n + a)/2) + 1 (semi-malicious)
/// with a = floor(alpha n) corrupt clients; t_max = n - floor(delta n). Returns
/// t = max(t_min, 2); throws ConfigError if t > t_max.
SecAggParameters find_complete_graph_parameters(std::uint32_t n, const ThreatModel& threat);

/// kAuto: Harary if find_harary_parameters succeeds, else the complete graph.
SecAggParameters choose_parameters(std::uint32_t n, const ThreatModel& threat,
                                   GraphChoice choice = GraphChoice::kAuto);

/// Explicit parameters checked against a threat model: throws ConfigError (with the
/// admissible range of t) if they miss the security or correctness target.
void check_parameters_against(std::uint32_t n, const SecAggParameters& p, const ThreatModel& threat);

/// Admissible thresholds for (n, graph, k) under a threat model: t_min is the smallest
/// secure t (never below 2), t_max the largest t that keeps the failure target (may be
/// below t_min: then no t works). nullopt if the Harary degree k already fails the
/// disconnection bound. Throws ConfigError for an invalid threat model or graph.
struct ThresholdRange {
  std::int64_t t_min = 0;
  std::int64_t t_max = 0;
};
std::optional<ThresholdRange> admissible_thresholds(std::uint32_t n, GraphKind graph, std::uint32_t k,
                                                    const ThreatModel& threat);

/// Security side only (what a client must insist on; a too-high t risks an abort, not a
/// leak): t >= t_min and, for Harary, the disconnection bound. Throws ConfigError naming
/// the smallest secure t.
void check_security_against(std::uint32_t n, const SecAggParameters& p, const ThreatModel& threat);

/// Least number of live neighbours a client of degree k accepts when its parameters were
/// chosen for a dropout fraction delta: k - floor(delta k) (see secure-agg/README.md,
/// "Isolation"). Throws ConfigError for delta outside [0, 1).
std::uint32_t min_live_neighbours(std::uint32_t k, double dropout_fraction);

/// What the coordinator asks for when it plans a round (e.g. from the [secagg] config).
struct ParameterRequest {
  ThreatModel threat;                      ///< corrupt / dropout fractions
  GraphChoice graph = GraphChoice::kAuto;  ///< complete, Harary, or whichever fits
  std::uint32_t degree = 0;                ///< explicit k, 0 = choose
  std::uint32_t threshold = 0;             ///< explicit t, 0 = choose
  bool consistency_check = false;          ///< round 3: plans for the semi-malicious model
};

/// Plans (graph, k, t) for a cohort of n. With consistency_check the threat model is
/// taken as semi-malicious; a semi-malicious model without the check is refused.
/// Automatic k/t come from the finders; explicit ones are checked with
/// check_parameters_against and are never lowered or raised: a configured t that does
/// not fit this cohort (t > k + 1, or outside the admissible range) is a ConfigError
/// naming the cohort size and the admissible range.
SecAggParameters plan_parameters(std::uint32_t n, const ParameterRequest& request);

}  // namespace fedlora::secagg
