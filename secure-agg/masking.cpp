#include "secure-agg/masking.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "secure-agg/crypto/aes_ctr_prng.h"
#include "secure-agg/errors.h"

namespace fedlora::secagg {
namespace {

static_assert(std::endian::native == std::endian::little,
              "mask words are read as little-endian lanes; add a byte swap for big-endian hosts");

// Words per chunk: 2048 x 8 B of vector + up to 16 KiB keystream stay in L1/L2.
constexpr std::size_t kChunkWords = 2048;
// Contexts alive at once; bounds memory when the server applies thousands of masks.
constexpr std::size_t kMaskGroup = 256;

void check_word_bytes(unsigned wb) {
  if (wb != 4 && wb != 8) throw ConfigError("word size must be 4 or 8 bytes, got " + std::to_string(wb));
}

// The add loops are compiled for AVX-512/AVX2/baseline and picked at load time (GCC
// function multiversioning), so the binary stays portable without -march=native. Not under
// ThreadSanitizer: the ifunc resolvers run during relocation, before the TSan runtime is
// up, and crash the process there.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define FEDLORA_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FEDLORA_MULTIVERSION
#endif

FEDLORA_MULTIVERSION void add_lanes64(std::uint64_t* __restrict v, const std::uint64_t* __restrict ks, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] += ks[i];
}
FEDLORA_MULTIVERSION void sub_lanes64(std::uint64_t* __restrict v, const std::uint64_t* __restrict ks, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] -= ks[i];
}
FEDLORA_MULTIVERSION void add_lanes32(std::uint64_t* __restrict v, const std::uint32_t* __restrict ks, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] += ks[i];
}
FEDLORA_MULTIVERSION void sub_lanes32(std::uint64_t* __restrict v, const std::uint32_t* __restrict ks, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] -= ks[i];
}

void accumulate(std::uint64_t* v, const std::uint64_t* ks, std::size_t n, bool subtract) {
  subtract ? sub_lanes64(v, ks, n) : add_lanes64(v, ks, n);
}
void accumulate(std::uint64_t* v, const std::uint32_t* ks, std::size_t n, bool subtract) {
  subtract ? sub_lanes32(v, ks, n) : add_lanes32(v, ks, n);
}

}  // namespace

void apply_masks(std::span<std::uint64_t> v, std::span<const MaskSpec> masks, unsigned word_bytes) {
  check_word_bytes(word_bytes);
  if (v.empty() || masks.empty()) return;
  alignas(64) std::uint64_t buf[kChunkWords];  // keystream of one chunk
  auto* bytes = reinterpret_cast<std::uint8_t*>(buf);
  for (std::size_t g = 0; g < masks.size(); g += kMaskGroup) {
    const std::size_t group = std::min(kMaskGroup, masks.size() - g);
    std::vector<crypto::AesCtrPrng> prgs;
    prgs.reserve(group);
    for (std::size_t j = 0; j < group; ++j) prgs.emplace_back(masks[g + j].key);
    for (std::size_t base = 0; base < v.size(); base += kChunkWords) {
      const std::size_t n = std::min(kChunkWords, v.size() - base);
      for (std::size_t j = 0; j < group; ++j) {
        prgs[j].fill({bytes, n * word_bytes});
        if (word_bytes == 8) {
          accumulate(v.data() + base, buf, n, masks[g + j].subtract);
        } else {
          accumulate(v.data() + base, reinterpret_cast<const std::uint32_t*>(buf), n, masks[g + j].subtract);
        }
      }
    }
  }
  crypto::cleanse(buf, sizeof buf);  // the last chunk of keystream (e.g. of PRG(b_u))
}

void reduce(std::span<std::uint64_t> v, unsigned word_bits) {
  if (word_bits == 64) return;
  const std::uint64_t mask = (std::uint64_t{1} << word_bits) - 1;
  for (auto& x : v) x &= mask;
}

void add_into(std::span<std::uint64_t> acc, std::span<const std::uint64_t> x) {
  if (acc.size() != x.size()) {
    throw ConfigError("add_into: length mismatch " + std::to_string(acc.size()) + " vs " + std::to_string(x.size()));
  }
  for (std::size_t i = 0; i < acc.size(); ++i) acc[i] += x[i];
}

std::string pack_words(std::span<const std::uint64_t> v, unsigned word_bytes) {
  check_word_bytes(word_bytes);
  std::string out(v.size() * word_bytes, '\0');
  if (word_bytes == 8) {
    std::memcpy(out.data(), v.data(), out.size());
  } else {
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto w = static_cast<std::uint32_t>(v[i]);
      std::memcpy(out.data() + 4 * i, &w, 4);
    }
  }
  return out;
}

std::vector<std::uint64_t> unpack_words(const std::string& bytes, std::uint64_t m, unsigned word_bytes) {
  std::vector<std::uint64_t> v(m, 0);
  add_packed_into(v, bytes, word_bytes);
  return v;
}

void add_packed_into(std::span<std::uint64_t> acc, const std::string& bytes, unsigned word_bytes) {
  check_word_bytes(word_bytes);
  if (bytes.size() != acc.size() * word_bytes) {
    throw ProtocolError("masked vector has " + std::to_string(bytes.size()) + " bytes, expected " +
                        std::to_string(acc.size() * word_bytes) + " (" + std::to_string(acc.size()) +
                        " words of " + std::to_string(word_bytes) + " bytes)");
  }
  constexpr std::size_t kBlock = 1024;
  std::uint64_t tmp64[kBlock];
  std::uint32_t tmp32[kBlock];
  for (std::size_t base = 0; base < acc.size(); base += kBlock) {
    const std::size_t n = std::min(kBlock, acc.size() - base);
    if (word_bytes == 8) {
      std::memcpy(tmp64, bytes.data() + 8 * base, 8 * n);
      for (std::size_t i = 0; i < n; ++i) acc[base + i] += tmp64[i];
    } else {
      std::memcpy(tmp32, bytes.data() + 4 * base, 4 * n);
      for (std::size_t i = 0; i < n; ++i) acc[base + i] += tmp32[i];
    }
  }
}

}  // namespace fedlora::secagg
