#pragma once
// The SecAgg+ neighbour graph of a round and the seed of its random permutation.
//
// Bell et al. CCS'20 need the Harary label permutation to be uniformly random and
// independent of who is corrupt. Here the seed depends on the round's configuration
// (cohort, parameters, session id) and on every accepted device's fresh round keys, so
// it is fixed only after honest clients chose theirs, and every client recomputes it
// from the list of accepted keys that its ShareKeysRequest carries. What a malicious
// server can still do (choose which advertised devices to keep, or regenerate corrupt
// devices' keys, and retry) is bounded by the scrypt cost of each try: see
// secure-agg/README.md, "Graph seed".
#include <array>
#include <cstdint>
#include <vector>

#include "secure-agg/crypto/bytes.h"
#include "secure-agg/crypto/sha256.h"
#include "secure-agg/graph.h"
#include "secure-agg/round_config.h"

namespace fedlora::secagg {

/// What the server accepted at AdvertiseKeys (U1 before threshold pruning): ids in
/// increasing order and, per id, advertised_entry_digest of its keys. The Harary graph
/// seed commits to it, and every ShareKeysRequest carries it so clients can recompute it.
struct AdvertisedKeys {
  std::vector<ClientId> ids;
  std::vector<crypto::Digest32> digests;
};

/// SHA-256("advertised-keys" || id || c_pk || s_pk).
crypto::Digest32 advertised_entry_digest(ClientId id, const std::array<std::uint8_t, 32>& c_pk,
                                         const std::array<std::uint8_t, 32>& s_pk);

/// Seed of the Harary label permutation: scrypt(P = SHA-256(config digest || advertised
/// ids and digests), S = session id, N = 2^graph_seed_work, r = 8, p = 1), or that SHA-256
/// value through HKDF when graph_seed_work = 0. It depends on every accepted device's fresh
/// round keys, so the graph is fixed only after honest clients chose theirs; the scrypt
/// cost bounds how many candidate graphs a server can try before the ShareKeys deadline
/// (README, "Graph seed"). A process computes each distinct scrypt input once (virtual
/// devices of one round in a simulator share it; the value is a pure function of public
/// inputs). Thread-safe. Throws ConfigError if advertised is malformed, CryptoError if
/// scrypt fails.
crypto::Secret32 graph_seed(const RoundConfig& config, const AdvertisedKeys& advertised);

/// The round's neighbour graph: complete (advertised unused), or the Harary graph whose
/// permutation is drawn from graph_seed(config, advertised).
NeighbourGraph build_graph(const RoundConfig& config, const AdvertisedKeys& advertised);

}  // namespace fedlora::secagg
