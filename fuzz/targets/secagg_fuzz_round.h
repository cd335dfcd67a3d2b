#pragma once
// The SecAgg+ round the secagg_round fuzz target perturbs, shared with the corpus maker.
#include <cstdint>
#include <vector>

#include "secure-agg/driver.h"

namespace fedlora::fuzz {

inline constexpr std::uint32_t kSecAggClients = 4;

/// Selector byte: bit 0 = direction (0 client→server, 1 server→client), bits 1-2 = client id,
/// bits 3-5 = stage (1..5, as secagg::Stage). The rest of the input is the message.
struct MessageSelector {
  bool to_client;
  std::uint32_t client;
  int stage;
  static MessageSelector from_byte(std::uint8_t b) {
    return {(b & 1) != 0, static_cast<std::uint32_t>((b >> 1) & 3), (b >> 3) & 7};
  }
  std::uint8_t to_byte() const {
    return static_cast<std::uint8_t>((to_client ? 1 : 0) | (client << 1) | (stage << 3));
  }
};

/// A complete-graph round of 4 clients, t = 3, m = 8 words of 32 bits, with the consistency
/// check, deterministic keys and inputs.
secagg::RoundConfig fuzz_round_config();
std::vector<std::vector<std::uint64_t>> fuzz_round_inputs();

}  // namespace fedlora::fuzz
