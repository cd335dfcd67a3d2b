#pragma once
// Per-purpose seeds derived from a run seed, for the randomness that is not private:
// local batch order, evaluation samples, simulated dropouts. (Privacy randomness comes from
// the OS CSPRNG unless a research run opts into reproducible noise.)
#include <cstdint>
#include <initializer_list>

#include "lora/adapter/splitmix64.h"

namespace fedlora::protocol {

/// A 64-bit stream seed from the run seed and a path of ids (purpose tag, round, device),
/// with SplitMix64 finalisation, so streams of different paths never collide in practice.
inline std::uint64_t derive_seed(std::uint64_t run_seed, std::initializer_list<std::uint64_t> path) {
  auto mix = [](std::uint64_t z) { return lora::splitmix64_mix(z + 0x9E3779B97F4A7C15ull); };
  std::uint64_t h = mix(run_seed);
  for (std::uint64_t p : path) h = mix(h ^ mix(p + 0x632BE59BD9B4E019ull));
  return h;
}

}  // namespace fedlora::protocol
