#pragma once
// Identity keys and rosters for SecAgg tests (deterministic, never for devices).
#include <algorithm>
#include <string>
#include <vector>

#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/random.h"
#include "secure-agg/round_config.h"

namespace fedlora::secagg::testing {

/// n identity keys from DeterministicRandom(seed, "test identity <i>"), sorted by public
/// key, so that key u is the device with logical id u of roster_of(keys).
inline std::vector<crypto::Ed25519PrivateKey> sorted_identities(std::uint32_t n, std::uint64_t seed) {
  std::vector<crypto::Ed25519PrivateKey> keys;
  for (std::uint32_t i = 0; i < n; ++i) {
    crypto::DeterministicRandom rng(seed, "test identity " + std::to_string(i));
    keys.push_back(crypto::Ed25519PrivateKey::generate(rng));
  }
  std::sort(keys.begin(), keys.end(),
            [](const auto& a, const auto& b) { return a.public_key() < b.public_key(); });
  return keys;
}

inline std::vector<RosterEntry> roster_of(const std::vector<crypto::Ed25519PrivateKey>& keys) {
  std::vector<RosterEntry> r;
  for (const auto& k : keys) r.push_back(RosterEntry{k.public_key(), std::nullopt});
  return make_roster(std::move(r));
}

}  // namespace fedlora::secagg::testing
