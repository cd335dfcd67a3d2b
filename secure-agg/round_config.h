#pragma once
// Parameters of one SecAgg round that the server and every client must share.
#include <array>
#include <cstdint>
#include <string>

#include "proto/secagg.pb.h"
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

struct RoundConfig {
  std::array<std::uint8_t, 32> session_id{};  ///< fresh random bytes per round (server)
  std::uint64_t round = 0;                    ///< federated round number
  std::uint32_t num_clients = 0;              ///< n: ids are 0..n-1
  std::uint64_t vector_length = 0;            ///< m: words per input, 1..kMaxVectorLength
  unsigned word_bits = 32;                    ///< w in {32, 64}: sums modulo 2^w
  SecAggParameters params;                    ///< graph, k, t
  bool consistency_check = false;             ///< run round 3 (malicious-server option)

  /// Throws ConfigError on: n < 2, bad k/t (validate_parameters), m out of range,
  /// w not 32/64, all-zero session id.
  void validate() const;
  unsigned word_bytes() const { return word_bits / 8; }
  std::uint64_t word_mask() const { return word_bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << word_bits) - 1; }

  pb::RoundConfigProto to_proto() const;
  /// Parses and validates (untrusted input: ConfigError on any bad field).
  static RoundConfig from_proto(const pb::RoundConfigProto& p);
};

/// The round's neighbour graph. For Harary graphs the label permutation is drawn from
/// an AES-CTR stream keyed by HKDF(session id, round, n, k), so every party derives the
/// same graph without sending it. (A malicious server that chooses the session id could
/// grind it; the semi-honest model of Bonawitz/Bell assumes it does not.)
NeighbourGraph build_graph(const RoundConfig& config);

}  // namespace fedlora::secagg
