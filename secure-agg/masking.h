#pragma once
// Mask expansion and modular vector arithmetic in Z_{2^w}, w in {32, 64}.
//
// A mask is the AES-256-CTR keystream of its key read as little-endian w-bit words
// (Bonawitz et al. CCS'17: PRG(s_uv), PRG(b_u)). Vectors are held as uint64 lanes;
// only the low w bits matter, and reduce() clears the rest. apply_masks processes the
// vector in cache-sized chunks and, per chunk, adds every mask's keystream, so the
// vector is streamed through memory once however many masks there are; the add loops
// are plain uint64 loops that the compiler vectorizes.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "secure-agg/crypto/bytes.h"

namespace fedlora::secagg {

struct MaskSpec {
  crypto::Secret32 key;
  bool subtract = false;  ///< false: v += PRG(key); true: v -= PRG(key)
};

/// Applies all masks to v (length m, words mod 2^w); word_bytes is 4 or 8.
/// Throws ConfigError for another word size, CryptoError if OpenSSL fails.
void apply_masks(std::span<std::uint64_t> v, std::span<const MaskSpec> masks, unsigned word_bytes);

/// Total keystream bytes apply_masks expands: masks * m * word_bytes (for benchmarks).
inline std::uint64_t mask_expansion_bytes(std::size_t masks, std::size_t m, unsigned word_bytes) {
  return std::uint64_t{masks} * m * word_bytes;
}

/// v[i] &= 2^w - 1.
void reduce(std::span<std::uint64_t> v, unsigned word_bits);
/// acc[i] += x[i] (mod 2^64; reduce later for w = 32). Sizes must match (ConfigError).
void add_into(std::span<std::uint64_t> acc, std::span<const std::uint64_t> x);

/// Little-endian packing of the low word_bytes bytes of each word.
std::string pack_words(std::span<const std::uint64_t> v, unsigned word_bytes);
/// Unpacks exactly m words; throws ProtocolError if bytes.size() != m * word_bytes.
std::vector<std::uint64_t> unpack_words(const std::string& bytes, std::uint64_t m, unsigned word_bytes);
/// acc[i] += word i of packed bytes, without a temporary vector. ProtocolError on size.
void add_packed_into(std::span<std::uint64_t> acc, const std::string& bytes, unsigned word_bytes);

}  // namespace fedlora::secagg
