#include "secure-agg/round_config.h"

#include <algorithm>

#include "secure-agg/errors.h"
#include "secure-agg/key_derivation.h"

namespace fedlora::secagg {

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
  c.validate();
  return c;
}

NeighbourGraph build_graph(const RoundConfig& config) {
  config.validate();
  if (config.params.graph == GraphKind::kComplete) return NeighbourGraph::complete(config.num_clients);
  crypto::DeterministicRandom rng(graph_permutation_seed(config));
  return NeighbourGraph::harary(config.num_clients, config.params.degree, rng);
}

}  // namespace fedlora::secagg
