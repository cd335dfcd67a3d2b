#pragma once
// Seeded generators of 32-float blocks that stress the block quantizers: ordinary
// Gaussian weights at many scales, exact rounding ties, repeated ±max, sparse blocks,
// all-zero and signed-zero blocks, tiny blocks whose scale underflows, and arbitrary finite bit patterns (subnormals, scales
// that underflow or overflow fp16).
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace fedlora::lora::testref {

enum class BlockKind { kGaussian, kQ8Ties, kQ4Ties, kRepeatedMax, kSparse, kZeros, kTiny, kAnyFinite };

/// Appends one block of 32 floats of the given kind.
inline void append_block(std::vector<float>& out, BlockKind kind, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::uniform_int_distribution<int> exp2(-20, 10);
  const float scale = std::pow(10.0f, -6.0f + 8.0f * unit(rng));
  float block[32];
  switch (kind) {
    case BlockKind::kGaussian:
      for (float& v : block) v = normal(rng) * scale;
      break;
    case BlockKind::kQ8Ties: {
      // amax = 127 * 2^k gives d = 2^k exactly and id = 2^-k, so (n + 0.5) * 2^k lands
      // exactly on a rounding tie.
      const float step = std::ldexp(1.0f, exp2(rng));
      std::uniform_int_distribution<int> n(-127, 126);
      for (float& v : block) v = (static_cast<float>(n(rng)) + 0.5f) * step;
      block[rng() % 32] = (rng() & 1 ? 127.0f : -127.0f) * step;
      break;
    }
    case BlockKind::kQ4Ties: {
      // max = -8 * 2^k gives d = 2^k, so (n + 0.5) * 2^k is a tie for the +8.5 rounding.
      const float step = std::ldexp(1.0f, exp2(rng));
      std::uniform_int_distribution<int> n(-8, 7);
      for (float& v : block) v = (static_cast<float>(n(rng)) + 0.5f) * step;
      block[0] = (rng() & 1 ? -8.0f : 8.0f) * step;
      break;
    }
    case BlockKind::kRepeatedMax: {
      // Several elements share the largest magnitude with both signs: the Q4_0 quantizer
      // must take the sign of the first one.
      for (float& v : block) v = normal(rng) * scale;
      const float m = 4.0f * scale;
      for (int k = 0; k < 4; ++k) block[rng() % 32] = (rng() & 1) ? m : -m;
      break;
    }
    case BlockKind::kSparse:
      for (float& v : block) v = (rng() % 8 == 0) ? normal(rng) * scale : ((rng() & 1) ? 0.0f : -0.0f);
      break;
    case BlockKind::kZeros:
      for (float& v : block) v = (rng() & 1) ? 0.0f : -0.0f;
      break;
    case BlockKind::kTiny: {
      // Magnitudes 1e-40 ..= 1e-35 (fp32 subnormals included): the fp16 scale underflows
      // and, below ~1e-37, 1/d overflows to Inf (the pinned ggml_x86_to_int8 case).
      const float tiny = std::pow(10.0f, -40.0f + 5.0f * unit(rng));
      for (float& v : block) v = normal(rng) * tiny;
      break;
    }
    case BlockKind::kAnyFinite:
      for (float& v : block) {
        do v = std::bit_cast<float>(static_cast<uint32_t>(rng()));
        while (!std::isfinite(v));
      }
      break;
  }
  out.insert(out.end(), block, block + 32);
}

/// n_blocks blocks cycling through `kinds`.
inline std::vector<float> random_blocks(size_t n_blocks, const std::vector<BlockKind>& kinds, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> out;
  out.reserve(n_blocks * 32);
  for (size_t b = 0; b < n_blocks; ++b) append_block(out, kinds[b % kinds.size()], rng);
  return out;
}

inline const std::vector<BlockKind>& all_kinds() {
  static const std::vector<BlockKind> k = {BlockKind::kGaussian, BlockKind::kQ8Ties, BlockKind::kQ4Ties,
                                           BlockKind::kRepeatedMax, BlockKind::kSparse, BlockKind::kZeros,
                                           BlockKind::kTiny, BlockKind::kAnyFinite};
  return k;
}

/// Kinds whose scales stay well inside fp16 range (for error-bound tests).
inline const std::vector<BlockKind>& moderate_kinds() {
  static const std::vector<BlockKind> k = {BlockKind::kGaussian, BlockKind::kQ8Ties, BlockKind::kQ4Ties,
                                           BlockKind::kRepeatedMax, BlockKind::kSparse, BlockKind::kZeros};
  return k;
}

}  // namespace fedlora::lora::testref
