#include "secure-agg/shamir.h"

#include <openssl/crypto.h>

#include <set>
#include <string>

#include "secure-agg/errors.h"

namespace fedlora::secagg {

std::uint64_t Gf61::add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t s = a + b;  // < 2^62, no overflow
  return s >= kShamirPrime ? s - kShamirPrime : s;
}

std::uint64_t Gf61::sub(std::uint64_t a, std::uint64_t b) {
  return a >= b ? a - b : a + kShamirPrime - b;
}

std::uint64_t Gf61::mul(std::uint64_t a, std::uint64_t b) {
  const unsigned __int128 prod = static_cast<unsigned __int128>(a) * b;  // < 2^122
  // 2^61 = 1 (mod p): fold the high part onto the low 61 bits.
  std::uint64_t r = static_cast<std::uint64_t>(prod & kShamirPrime) +
                    static_cast<std::uint64_t>(prod >> 61);
  r = (r & kShamirPrime) + (r >> 61);
  return r >= kShamirPrime ? r - kShamirPrime : r;
}

std::uint64_t Gf61::inv(std::uint64_t a) {
  if (a == 0) throw ConfigError("GF(2^61-1): zero has no inverse");
  std::uint64_t result = 1, base = a, e = kShamirPrime - 2;
  while (e != 0) {
    if (e & 1) result = mul(result, base);
    base = mul(base, base);
    e >>= 1;
  }
  return result;
}

namespace {
void check_points(std::span<const std::uint32_t> xs, const char* where) {
  std::set<std::uint32_t> seen;
  for (std::uint32_t x : xs) {
    if (x == 0) throw ConfigError(std::string(where) + ": evaluation point x = 0 would reveal the secret");
    if (!seen.insert(x).second) {
      throw ConfigError(std::string(where) + ": duplicate evaluation point x = " + std::to_string(x));
    }
  }
}
}  // namespace

std::vector<ShamirShare> shamir_split(crypto::ByteSpan secret, std::uint32_t t,
                                      std::span<const std::uint32_t> xs, crypto::RandomSource& rng) {
  if (t < 1 || t > xs.size()) {
    throw ConfigError("shamir_split: threshold t = " + std::to_string(t) + " must be in [1, " +
                      std::to_string(xs.size()) + "] (number of shares)");
  }
  check_points(xs, "shamir_split");
  const std::size_t chunks = shamir_chunks(secret.size());
  std::vector<ShamirShare> shares(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    shares[i].x = xs[i];
    shares[i].y.resize(chunks);
  }
  std::vector<std::uint64_t> coeffs(t);
  for (std::size_t c = 0; c < chunks; ++c) {
    std::uint64_t chunk = 0;
    const std::size_t begin = c * kShamirChunkBytes;
    const std::size_t end = std::min(secret.size(), begin + kShamirChunkBytes);
    for (std::size_t b = end; b > begin; --b) chunk = chunk << 8 | secret[b - 1];
    coeffs[0] = chunk;
    for (std::uint32_t d = 1; d < t; ++d) coeffs[d] = rng.uniform_below(kShamirPrime);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      // Horner evaluation of sum coeffs[d] x^d.
      std::uint64_t acc = 0;
      for (std::uint32_t d = t; d-- > 0;) acc = Gf61::add(Gf61::mul(acc, xs[i]), coeffs[d]);
      shares[i].y[c] = acc;
    }
  }
  OPENSSL_cleanse(coeffs.data(), coeffs.size() * sizeof(std::uint64_t));
  return shares;
}

std::vector<std::uint64_t> lagrange_at_zero(std::span<const std::uint32_t> xs) {
  check_points(xs, "lagrange_at_zero");
  const std::size_t t = xs.size();
  // lambda_i = N / (x_i * D_i), N = prod_j x_j, D_i = prod_{j != i} (x_j - x_i).
  std::uint64_t numerator = 1;
  for (std::uint32_t x : xs) numerator = Gf61::mul(numerator, x);
  std::vector<std::uint64_t> denom(t);
  for (std::size_t i = 0; i < t; ++i) {
    std::uint64_t d = xs[i];
    for (std::size_t j = 0; j < t; ++j) {
      if (j != i) d = Gf61::mul(d, Gf61::sub(xs[j], xs[i]));
    }
    denom[i] = d;
  }
  // Montgomery's batch inversion: one field inversion for all t denominators.
  std::vector<std::uint64_t> prefix(t);
  std::uint64_t acc = 1;
  for (std::size_t i = 0; i < t; ++i) {
    prefix[i] = acc;
    acc = Gf61::mul(acc, denom[i]);
  }
  std::uint64_t inv_acc = Gf61::inv(acc);
  std::vector<std::uint64_t> lambda(t);
  for (std::size_t i = t; i-- > 0;) {
    const std::uint64_t inv_d = Gf61::mul(inv_acc, prefix[i]);
    inv_acc = Gf61::mul(inv_acc, denom[i]);
    lambda[i] = Gf61::mul(numerator, inv_d);
  }
  return lambda;
}

crypto::SecretBytes shamir_reconstruct_with(std::span<const ShamirShare> shares,
                                      std::span<const std::uint64_t> lagrange,
                                      std::size_t secret_bytes) {
  if (shares.size() != lagrange.size() || shares.empty()) {
    throw ConfigError("shamir_reconstruct_with: " + std::to_string(shares.size()) + " shares but " +
                      std::to_string(lagrange.size()) + " Lagrange coefficients");
  }
  const std::size_t chunks = shamir_chunks(secret_bytes);
  for (const ShamirShare& s : shares) {
    if (s.y.size() != chunks) {
      throw ProtocolError("Shamir share from x = " + std::to_string(s.x) + " has " +
                          std::to_string(s.y.size()) + " elements, expected " + std::to_string(chunks));
    }
    for (std::uint64_t v : s.y) {
      if (v >= kShamirPrime) throw ProtocolError("Shamir share element out of field range");
    }
  }
  crypto::SecretBytes secret(secret_bytes);
  for (std::size_t c = 0; c < chunks; ++c) {
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < shares.size(); ++i) acc = Gf61::add(acc, Gf61::mul(lagrange[i], shares[i].y[c]));
    const std::size_t begin = c * kShamirChunkBytes;
    const std::size_t width = std::min(secret_bytes, begin + kShamirChunkBytes) - begin;
    if (width < 8 && (acc >> (8 * width)) != 0) {
      throw ProtocolError("Shamir reconstruction gave an out-of-range chunk: the shares are "
                          "inconsistent (a shareholder sent a wrong share)");
    }
    for (std::size_t b = 0; b < width; ++b) secret[begin + b] = static_cast<std::uint8_t>(acc >> (8 * b));
  }
  return secret;
}

crypto::SecretBytes shamir_reconstruct(std::span<const ShamirShare> shares, std::uint32_t t,
                                 std::size_t secret_bytes) {
  if (t < 1 || shares.size() < t) {
    throw ConfigError("shamir_reconstruct: need t = " + std::to_string(t) + " shares, got " +
                      std::to_string(shares.size()));
  }
  std::vector<std::uint32_t> xs(t);
  for (std::uint32_t i = 0; i < t; ++i) xs[i] = shares[i].x;
  const auto lambda = lagrange_at_zero(xs);
  return shamir_reconstruct_with(shares.first(t), lambda, secret_bytes);
}

std::vector<bool> shamir_consistent_with(std::span<const ShamirShare> basis, std::span<const ShamirShare> others) {
  const std::size_t t = basis.size();
  if (t == 0) throw ConfigError("shamir_consistent_with: empty basis");
  std::vector<std::uint32_t> xs;
  for (const auto& s : basis) xs.push_back(s.x);
  for (const auto& s : others) xs.push_back(s.x);
  check_points(xs, "shamir_consistent_with");
  const std::size_t chunks = basis[0].y.size();
  for (const auto* set : {&basis, &others}) {
    for (const auto& s : *set) {
      if (s.y.size() != chunks) throw ConfigError("shamir_consistent_with: shares of different lengths");
      for (std::uint64_t v : s.y) {
        if (v >= kShamirPrime) throw ConfigError("shamir_consistent_with: element out of field range");
      }
    }
  }
  // Barycentric form: f(x) = sum_i y_i * N(x) / ((x - x_i) d_i), N(x) = prod_m (x - x_m),
  // d_i = prod_{m != i} (x_i - x_m). One batched inversion for the d_i, one per point.
  std::vector<std::uint64_t> inv_d(t);
  for (std::size_t i = 0; i < t; ++i) {
    std::uint64_t d = 1;
    for (std::size_t m = 0; m < t; ++m) {
      if (m != i) d = Gf61::mul(d, Gf61::sub(basis[i].x, basis[m].x));
    }
    inv_d[i] = d;
  }
  auto batch_invert = [](std::vector<std::uint64_t>& v) {
    std::vector<std::uint64_t> prefix(v.size());
    std::uint64_t acc = 1;
    for (std::size_t i = 0; i < v.size(); ++i) {
      prefix[i] = acc;
      acc = Gf61::mul(acc, v[i]);
    }
    std::uint64_t inv = Gf61::inv(acc);
    for (std::size_t i = v.size(); i-- > 0;) {
      const std::uint64_t vi = v[i];
      v[i] = Gf61::mul(inv, prefix[i]);
      inv = Gf61::mul(inv, vi);
    }
  };
  batch_invert(inv_d);
  std::vector<bool> out;
  out.reserve(others.size());
  std::vector<std::uint64_t> w(t);
  for (const auto& s : others) {
    std::uint64_t big_n = 1;
    for (std::size_t i = 0; i < t; ++i) {
      w[i] = Gf61::sub(s.x, basis[i].x);
      big_n = Gf61::mul(big_n, w[i]);
    }
    batch_invert(w);
    for (std::size_t i = 0; i < t; ++i) w[i] = Gf61::mul(Gf61::mul(big_n, w[i]), inv_d[i]);
    bool ok = true;
    for (std::size_t c = 0; c < chunks && ok; ++c) {
      std::uint64_t f = 0;
      for (std::size_t i = 0; i < t; ++i) f = Gf61::add(f, Gf61::mul(w[i], basis[i].y[c]));
      ok = f == s.y[c];
    }
    out.push_back(ok);
  }
  return out;
}

crypto::SecretBytes encode_share_elements(const ShamirShare& share) {
  crypto::SecretBytes out(share.y.size() * 8);
  for (std::size_t i = 0; i < share.y.size(); ++i) {
    for (int b = 0; b < 8; ++b) out[i * 8 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(share.y[i] >> (8 * b));
  }
  return out;
}

ShamirShare decode_share_elements(std::uint32_t x, crypto::ByteSpan bytes, std::size_t chunks) {
  if (bytes.size() != chunks * 8) {
    throw ProtocolError("Shamir share has " + std::to_string(bytes.size()) + " bytes, expected " +
                        std::to_string(chunks * 8));
  }
  ShamirShare s;
  s.x = x;
  s.y.resize(chunks);
  for (std::size_t i = 0; i < chunks; ++i) {
    std::uint64_t v = 0;
    for (int b = 7; b >= 0; --b) v = v << 8 | bytes[i * 8 + static_cast<std::size_t>(b)];
    if (v >= kShamirPrime) throw ProtocolError("Shamir share element out of field range");
    s.y[i] = v;
  }
  return s;
}

}  // namespace fedlora::secagg
