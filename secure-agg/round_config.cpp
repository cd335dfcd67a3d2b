#include "secure-agg/round_config.h"

#include <algorithm>
#include <string_view>

#include "secure-agg/errors.h"

namespace fedlora::secagg {
namespace {

void put_u32(crypto::Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_u64(crypto::Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
template <std::size_t N>
void put(crypto::Bytes& b, const std::array<std::uint8_t, N>& a) {
  b.insert(b.end(), a.begin(), a.end());
}

template <std::size_t N>
std::array<std::uint8_t, N> fixed_bytes(const std::string& s, const char* what, std::size_t index) {
  if (s.size() != N) {
    throw ConfigError(std::string(what) + " of roster entry " + std::to_string(index) + " has " +
                      std::to_string(s.size()) + " bytes, expected " + std::to_string(N));
  }
  std::array<std::uint8_t, N> a{};
  std::copy(s.begin(), s.end(), a.begin());
  return a;
}

}  // namespace

const char* stage_name(Stage s) {
  switch (s) {
    case Stage::kAdvertiseKeys: return "AdvertiseKeys";
    case Stage::kShareKeys: return "ShareKeys";
    case Stage::kMaskedInputCollection: return "MaskedInputCollection";
    case Stage::kConsistencyCheck: return "ConsistencyCheck";
    case Stage::kUnmasking: return "Unmasking";
  }
  return "?";
}

void RoundConfig::validate() const {
  validate_parameters(num_clients, params);
  if (vector_length < 1 || vector_length > kMaxVectorLength) {
    throw ConfigError("vector_length m = " + std::to_string(vector_length) + " must be in [1, 2^28]");
  }
  if (word_bits != 32 && word_bits != 64) {
    throw ConfigError("word_bits must be 32 or 64, got " + std::to_string(word_bits));
  }
  if (std::all_of(session_id.begin(), session_id.end(), [](std::uint8_t b) { return b == 0; })) {
    throw ConfigError("session_id is all zero: draw 32 fresh random bytes per round");
  }
  if (roster.size() != num_clients) {
    throw ConfigError("the roster lists " + std::to_string(roster.size()) + " identity keys for n = " +
                      std::to_string(num_clients) + " clients (one per device, see make_roster)");
  }
  for (std::size_t i = 1; i < roster.size(); ++i) {
    if (!(roster[i - 1].identity < roster[i].identity)) {
      throw ConfigError("roster entry " + std::to_string(i) +
                        " is out of order or repeats an identity key: build the roster with make_roster");
    }
  }
  if (graph_seed_work > kMaxGraphSeedWork) {
    throw ConfigError("graph_seed_work = " + std::to_string(graph_seed_work) + " exceeds " +
                      std::to_string(kMaxGraphSeedWork) + " (scrypt memory would exceed 256 MiB)");
  }
}

std::optional<ClientId> RoundConfig::logical_id_of(const crypto::Ed25519PublicKey& identity) const {
  const auto it = std::lower_bound(roster.begin(), roster.end(), identity,
                                   [](const RosterEntry& e, const crypto::Ed25519PublicKey& k) { return e.identity < k; });
  if (it == roster.end() || it->identity != identity) return std::nullopt;
  return static_cast<ClientId>(it - roster.begin());
}

crypto::Digest32 RoundConfig::digest() const {
  constexpr std::string_view kDomain = "fedlora-secagg/v1 round-config";
  crypto::Bytes b(kDomain.begin(), kDomain.end());
  b.push_back(0);
  put(b, session_id);
  put_u64(b, round);
  put_u32(b, num_clients);
  put_u64(b, vector_length);
  put_u32(b, word_bits);
  b.push_back(params.graph == GraphKind::kComplete ? 0 : 1);
  put_u32(b, params.degree);
  put_u32(b, params.threshold);
  b.push_back(consistency_check ? 1 : 0);
  put_u32(b, graph_seed_work);
  put_u32(b, static_cast<std::uint32_t>(roster.size()));
  for (const RosterEntry& e : roster) {
    put(b, e.identity);
    b.push_back(e.enrolment ? 1 : 0);
    if (e.enrolment) put(b, *e.enrolment);
  }
  return crypto::sha256({b});
}

pb::RoundConfigProto RoundConfig::to_proto() const {
  pb::RoundConfigProto p;
  p.set_session_id(session_id.data(), session_id.size());
  p.set_round(round);
  p.set_num_clients(num_clients);
  p.set_vector_length(vector_length);
  p.set_word_bits(word_bits);
  p.set_degree(params.graph == GraphKind::kComplete ? 0 : params.degree);
  p.set_threshold(params.threshold);
  p.set_consistency_check(consistency_check);
  p.set_graph_seed_work(graph_seed_work);
  for (const RosterEntry& e : roster) {
    auto* r = p.add_roster();
    r->set_identity(e.identity.data(), e.identity.size());
    if (e.enrolment) r->set_enrolment_signature(e.enrolment->data(), e.enrolment->size());
  }
  return p;
}

RoundConfig RoundConfig::from_proto(const pb::RoundConfigProto& p) {
  RoundConfig c;
  if (p.session_id().size() != 32) {
    throw ConfigError("session_id must be 32 bytes, got " + std::to_string(p.session_id().size()));
  }
  std::copy(p.session_id().begin(), p.session_id().end(), c.session_id.begin());
  c.round = p.round();
  c.num_clients = p.num_clients();
  c.vector_length = p.vector_length();
  c.word_bits = p.word_bits();
  if (p.degree() == 0) {
    c.params.graph = GraphKind::kComplete;
    c.params.degree = c.num_clients >= 1 ? c.num_clients - 1 : 0;
  } else {
    c.params.graph = GraphKind::kHarary;
    c.params.degree = p.degree();
  }
  c.params.threshold = p.threshold();
  c.consistency_check = p.consistency_check();
  c.graph_seed_work = p.graph_seed_work();
  if (static_cast<std::uint64_t>(p.roster_size()) != c.num_clients) {
    throw ConfigError("the roster lists " + std::to_string(p.roster_size()) + " identity keys for n = " +
                      std::to_string(c.num_clients) + " clients");
  }
  c.roster.reserve(static_cast<std::size_t>(p.roster_size()));
  for (int i = 0; i < p.roster_size(); ++i) {
    const auto& r = p.roster(i);
    RosterEntry e;
    e.identity = fixed_bytes<32>(r.identity(), "identity", static_cast<std::size_t>(i));
    if (!r.enrolment_signature().empty()) {
      e.enrolment = fixed_bytes<64>(r.enrolment_signature(), "enrolment signature", static_cast<std::size_t>(i));
    }
    c.roster.push_back(e);
  }
  c.validate();
  return c;
}

std::vector<RosterEntry> make_roster(std::vector<RosterEntry> entries) {
  std::sort(entries.begin(), entries.end(), [](const RosterEntry& a, const RosterEntry& b) { return a.identity < b.identity; });
  for (std::size_t i = 1; i < entries.size(); ++i) {
    if (entries[i - 1].identity == entries[i].identity) {
      throw ConfigError("two cohort devices share one identity key (" + crypto::to_hex(entries[i].identity) +
                        "): every device needs its own enrolled key");
    }
  }
  return entries;
}

}  // namespace fedlora::secagg
