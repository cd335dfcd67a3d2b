#pragma once
// scrypt (RFC 7914) through OpenSSL's EVP_KDF "SCRYPT": a memory-hard function. SecAgg+
// uses it to make each evaluation of the graph seed cost a fixed amount of time and
// memory, which bounds how many graphs a malicious server can try ("grinding") within
// one stage deadline (see secure-agg/README.md, "Graph seed").
#include <cstdint>
#include <span>

#include "secure-agg/crypto/bytes.h"

namespace fedlora::secagg::crypto {

/// Largest supported log2(N): N = 2^20 with r = 8 needs 1 GiB.
inline constexpr unsigned kMaxScryptLog2N = 20;

/// scrypt(P = password, S = salt, N = 2^log2_n, r, p) into out (RFC 7914 §6).
/// Memory used: 128 * r * N bytes. Throws CryptoError for log2_n outside [1, 20],
/// r or p == 0, an empty out, or an OpenSSL failure.
void scrypt(ByteSpan password, ByteSpan salt, unsigned log2_n, std::uint32_t r, std::uint32_t p,
            std::span<std::uint8_t> out);

}  // namespace fedlora::secagg::crypto
