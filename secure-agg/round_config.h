#pragma once
// Parameters of one SecAgg round that the server and every client must share.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/secagg.pb.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/sha256.h"
#include "secure-agg/graph.h"
#include "secure-agg/graph_parameters.h"

namespace fedlora::secagg {

using ClientId = std::uint32_t;  ///< logical id 0..n-1 within one round

/// Protocol stages (Bonawitz et al. CCS'17, detailed protocol: rounds 0-4); values match pb::Stage.
enum class Stage : std::uint8_t {
  kAdvertiseKeys = 1,
  kShareKeys = 2,
  kMaskedInputCollection = 3,
  kConsistencyCheck = 4,
  kUnmasking = 5,
};
const char* stage_name(Stage s);

/// Largest vector length accepted (keeps one masked input under protobuf's 2 GiB cap).
inline constexpr std::uint64_t kMaxVectorLength = std::uint64_t{1} << 28;
/// Default and largest log2 of the scrypt cost of the Harary graph seed (N = 2^14, r = 8:
/// 16 MiB and ~55 ms on one 2020s server core; 2^18: 256 MiB).
inline constexpr unsigned kDefaultGraphSeedWork = 14;
inline constexpr unsigned kMaxGraphSeedWork = 18;

/// One device of the cohort: its long-term Ed25519 identity key and, if the deployment
/// has an enrolment authority, the authority's signature over it (see identity.h).
struct RosterEntry {
  crypto::Ed25519PublicKey identity{};
  std::optional<crypto::Ed25519Signature> enrolment;
  bool operator==(const RosterEntry&) const = default;
};

struct RoundConfig {
  std::array<std::uint8_t, 32> session_id{};  ///< fresh random bytes per round (server)
  std::uint64_t round = 0;                    ///< federated round number
  std::uint32_t num_clients = 0;              ///< n: ids are 0..n-1
  std::uint64_t vector_length = 0;            ///< m: words per input, 1..kMaxVectorLength
  unsigned word_bits = 32;                    ///< w in {32, 64}: sums modulo 2^w
  SecAggParameters params;                    ///< graph, k, t
  bool consistency_check = false;             ///< run round 3 (malicious-server option)
  /// The cohort: n identity keys in strictly increasing byte order. Logical id u is the
  /// index of a device's key, so the server cannot choose who gets which id, and one
  /// identity can hold one id only. Build it with make_roster.
  std::vector<RosterEntry> roster;
  /// log2 of the scrypt N that the Harary graph seed costs (0 = SHA-256 only: cheap to
  /// grind, for simulation and tests). Clients refuse a value below their policy.
  unsigned graph_seed_work = 0;

  /// Throws ConfigError on: n < 2, bad k/t (validate_parameters), m out of range,
  /// w not 32/64, all-zero session id, a roster that is not n strictly increasing keys,
  /// graph_seed_work > kMaxGraphSeedWork.
  void validate() const;
  unsigned word_bytes() const { return word_bits / 8; }
  std::uint64_t word_mask() const { return word_bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << word_bits) - 1; }
  /// Logical id of an identity key (index in the roster), nullopt if not in the cohort.
  std::optional<ClientId> logical_id_of(const crypto::Ed25519PublicKey& identity) const;
  /// SHA-256 over a canonical encoding of every field (domain-separated). Round-key
  /// signatures cover it, so a device's signature also states which parameters and
  /// cohort it accepted.
  crypto::Digest32 digest() const;

  pb::RoundConfigProto to_proto() const;
  /// Parses and validates (untrusted input: ConfigError on any bad field).
  static RoundConfig from_proto(const pb::RoundConfigProto& p);
};

/// Sorts a cohort's identities into roster order. Throws ConfigError on a repeated key.
std::vector<RosterEntry> make_roster(std::vector<RosterEntry> entries);

}  // namespace fedlora::secagg
