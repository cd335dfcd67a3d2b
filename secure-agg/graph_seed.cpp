#include "secure-agg/graph_seed.h"

#include <deque>
#include <future>
#include <map>
#include <mutex>
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

using SeedBytes = std::array<std::uint8_t, 32>;

// scrypt(material, session id, 2^work) computed once per process for each distinct input.
// A simulator or load generator hosts hundreds of virtual devices of one round in one
// process, and each would otherwise pay the same 2^14 scrypt (43 ms, 16 MB). The value is
// a pure function of public inputs, so sharing it changes no result and no security
// property: every device still derives its graph from exactly the inputs it checked, and
// a server trying candidate graphs pays for every distinct input. Concurrent callers of
// one input wait for one computation. Bounded to the last kMemoEntries inputs.
class ScryptMemo {
 public:
  SeedBytes get(const crypto::Digest32& material, crypto::ByteSpan session_id, unsigned work) {
    crypto::Bytes key_bytes(material.begin(), material.end());
    key_bytes.insert(key_bytes.end(), session_id.begin(), session_id.end());
    put_u32(key_bytes, work);
    const crypto::Digest32 key = crypto::sha256({key_bytes});
    std::promise<SeedBytes> promise;
    std::shared_future<SeedBytes> future;
    bool compute = false;
    {
      std::lock_guard lock(mu_);
      auto it = entries_.find(key);
      if (it != entries_.end()) {
        future = it->second;
      } else {
        future = promise.get_future().share();
        entries_.emplace(key, future);
        order_.push_back(key);
        if (order_.size() > kMemoEntries) {
          entries_.erase(order_.front());
          order_.pop_front();
        }
        compute = true;
      }
    }
    if (compute) {
      try {
        SeedBytes out{};
        crypto::scrypt(material, session_id, work, kScryptR, 1, out);
        promise.set_value(out);
      } catch (...) {
        promise.set_exception(std::current_exception());
        std::lock_guard lock(mu_);
        forget(key);  // a failure (e.g. out of memory) is not remembered
      }
    }
    return future.get();
  }

 private:
  static constexpr std::size_t kMemoEntries = 16;

  void forget(const crypto::Digest32& key) {
    entries_.erase(key);
    for (auto it = order_.begin(); it != order_.end(); ++it) {
      if (*it == key) {
        order_.erase(it);
        break;
      }
    }
  }

  std::mutex mu_;
  std::map<crypto::Digest32, std::shared_future<SeedBytes>> entries_;
  std::deque<crypto::Digest32> order_;
};

ScryptMemo& scrypt_memo() {
  static ScryptMemo memo;
  return memo;
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
    const SeedBytes out = scrypt_memo().get(material, config.session_id, config.graph_seed_work);
    std::copy(out.begin(), out.end(), seed.data());
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
