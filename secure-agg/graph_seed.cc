#include "secure-agg/graph_seed.h"

#include <string_view>

#include "secure-agg/crypto/hkdf.h"
#include "secure-agg/crypto/random.h"
#include "secure-agg/crypto/scrypt.h"
#include "secure-agg/errors.h"

namespace fedlora::secagg {
namespace {

constexpr std::string_view kEntryDomain = "fedlora-secagg/v1 advertised-keys";
constexpr std::string_view kSeedDomain = "fedlora-secagg/v1 graph-seed";
constexpr std::uint32_t kScryptR = 8;

void put_u32(crypto::Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

}  // namespace

crypto::Digest32 advertised_entry_digest(ClientId id, const std::array<std::uint8_t, 32>& c_pk,
                                         const std::array<std::uint8_t, 32>& s_pk) {
  crypto::Bytes b(kEntryDomain.begin(), kEntryDomain.end());
  b.push_back(0);
  put_u32(b, id);
  b.insert(b.end(), c_pk.begin(), c_pk.end());
  b.insert(b.end(), s_pk.begin(), s_pk.end());
  return crypto::sha256({b});
}

crypto::Secret32 graph_seed(const RoundConfig& config, const AdvertisedKeys& advertised) {
  if (advertised.ids.size() != advertised.digests.size()) {
    throw ConfigError("advertised keys: " + std::to_string(advertised.ids.size()) + " ids but " +
                      std::to_string(advertised.digests.size()) + " digests");
  }
  for (std::size_t i = 0; i < advertised.ids.size(); ++i) {
    if (advertised.ids[i] >= config.num_clients || (i > 0 && advertised.ids[i] <= advertised.ids[i - 1])) {
      throw ConfigError("advertised ids must be strictly increasing and below n = " + std::to_string(config.num_clients));
    }
  }
  crypto::Bytes b(kSeedDomain.begin(), kSeedDomain.end());
  b.push_back(0);
  const auto cfg = config.digest();
  b.insert(b.end(), cfg.begin(), cfg.end());
  put_u32(b, static_cast<std::uint32_t>(advertised.ids.size()));
  for (std::size_t i = 0; i < advertised.ids.size(); ++i) {
    put_u32(b, advertised.ids[i]);
    b.insert(b.end(), advertised.digests[i].begin(), advertised.digests[i].end());
  }
  const crypto::Digest32 material = crypto::sha256({b});
  crypto::Secret32 seed;
  if (config.graph_seed_work == 0) {
    crypto::hkdf_sha256(material, config.session_id, crypto::as_bytes(kSeedDomain), seed.mutable_span());
  } else {
    crypto::scrypt(material, config.session_id, config.graph_seed_work, kScryptR, 1, seed.mutable_span());
  }
  return seed;
}

NeighbourGraph build_graph(const RoundConfig& config, const AdvertisedKeys& advertised) {
  config.validate();
  if (config.params.graph == GraphKind::kComplete) return NeighbourGraph::complete(config.num_clients);
  crypto::DeterministicRandom rng(graph_seed(config, advertised));
  return NeighbourGraph::harary(config.num_clients, config.params.degree, rng);
}

}  // namespace fedlora::secagg
