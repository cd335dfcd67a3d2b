#pragma once
// Shamir t-out-of-n secret sharing (Shamir, CACM 1979) over the prime field
// GF(p), p = 2^61 - 1, as used by SecAgg to share b_u and s_sk
// (Bonawitz et al. CCS'17, "Secret Sharing" primitive).
//
// A secret of L bytes is cut into ceil(L/7) chunks of at most 7 bytes (little-endian),
// each < 2^56 < p, and every chunk gets its own random polynomial of degree t-1.
// Shares are evaluations at x = 1, 2, ... (SecAgg uses x = client id + 1).
#include <cstdint>
#include <span>
#include <vector>

#include "secure-agg/crypto/bytes.h"
#include "secure-agg/crypto/random.h"

namespace fedlora::secagg {

inline constexpr std::uint64_t kShamirPrime = (std::uint64_t{1} << 61) - 1;
inline constexpr std::size_t kShamirChunkBytes = 7;

/// Arithmetic in GF(2^61 - 1). Inputs must be < p; results are < p.
struct Gf61 {
  static std::uint64_t add(std::uint64_t a, std::uint64_t b);
  static std::uint64_t sub(std::uint64_t a, std::uint64_t b);
  static std::uint64_t mul(std::uint64_t a, std::uint64_t b);
  /// Multiplicative inverse (Fermat: a^(p-2)). Throws ConfigError for a == 0.
  static std::uint64_t inv(std::uint64_t a);
};

/// Field elements of one share; wiped when freed (a share is secret).
using ShareElements = std::vector<std::uint64_t, crypto::CleansingAllocator<std::uint64_t>>;

/// One share: the evaluation point x (>= 1) and one field element per chunk.
struct ShamirShare {
  std::uint32_t x = 0;
  ShareElements y;
};

/// Number of field elements per share for a secret of secret_bytes bytes.
inline std::size_t shamir_chunks(std::size_t secret_bytes) {
  return (secret_bytes + kShamirChunkBytes - 1) / kShamirChunkBytes;
}

/// Splits secret into one share per x in xs with reconstruction threshold t.
/// Requires 1 <= t <= xs.size(), distinct non-zero xs. Coefficients come from rng
/// (uniform in GF(p) by rejection) and are wiped after use. Throws ConfigError.
std::vector<ShamirShare> shamir_split(crypto::ByteSpan secret, std::uint32_t t,
                                      std::span<const std::uint32_t> xs, crypto::RandomSource& rng);

/// Lagrange coefficients at 0 for the evaluation points xs (distinct, non-zero):
/// lambda_i = prod_{j != i} x_j / (x_j - x_i). One batched inversion. Throws ConfigError.
std::vector<std::uint64_t> lagrange_at_zero(std::span<const std::uint32_t> xs);

/// Reconstructs a secret of secret_bytes bytes from exactly the given shares, which
/// must be t of them with the coefficients of lagrange_at_zero over their xs.
/// Throws ProtocolError if a share has the wrong number of elements, an element >= p,
/// or the interpolated chunk does not fit in its byte width (inconsistent shares).
crypto::SecretBytes shamir_reconstruct_with(std::span<const ShamirShare> shares,
                                      std::span<const std::uint64_t> lagrange,
                                      std::size_t secret_bytes);

/// Reconstructs from the first t of shares (which must have distinct x).
/// Throws ConfigError if fewer than t shares are given, ProtocolError as above.
crypto::SecretBytes shamir_reconstruct(std::span<const ShamirShare> shares, std::uint32_t t,
                                 std::size_t secret_bytes);

/// For each share in `others`: true iff it lies, in every chunk, on the degree-(t-1)
/// polynomials through the t shares of `basis` (Lagrange evaluation at its x). Used after
/// a verified reconstruction to name holders whose shares disagree. All xs distinct and
/// non-zero, all shares with the same number of elements < p (ConfigError otherwise).
std::vector<bool> shamir_consistent_with(std::span<const ShamirShare> basis, std::span<const ShamirShare> others);

/// Wire encoding of a share's elements: 8 bytes little-endian each (x is implicit).
crypto::SecretBytes encode_share_elements(const ShamirShare& share);
/// Inverse of encode_share_elements. Throws ProtocolError unless bytes has exactly
/// chunks*8 bytes and every element is < p.
ShamirShare decode_share_elements(std::uint32_t x, crypto::ByteSpan bytes, std::size_t chunks);

}  // namespace fedlora::secagg
