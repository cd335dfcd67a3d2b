// Mask expansion: chunked multi-mask application equals a naive word-by-word reference,
// and a mask added then subtracted cancels, for both word sizes.
#include <gtest/gtest.h>

#include "secure-agg/crypto/aes_ctr_prng.h"
#include "secure-agg/crypto/random.h"
#include "secure-agg/errors.h"
#include "secure-agg/masking.h"

namespace fedlora::secagg {
namespace {

// Reference: read the keystream byte by byte, assemble little-endian words.
std::vector<std::uint64_t> naive_mask(const crypto::Secret32& key, std::size_t m, unsigned wb) {
  crypto::AesCtrPrng prg(key);
  crypto::Bytes ks(m * wb);
  prg.fill(ks);
  std::vector<std::uint64_t> out(m);
  for (std::size_t i = 0; i < m; ++i) {
    std::uint64_t w = 0;
    for (unsigned b = wb; b-- > 0;) w = w << 8 | ks[i * wb + b];
    out[i] = w;
  }
  return out;
}

TEST(Masking, MatchesNaiveReference) {
  crypto::DeterministicRandom rng(21, "mask");
  for (unsigned wb : {4u, 8u}) {
    for (std::size_t m : {1ul, 7ul, 2048ul, 2049ul, 5000ul}) {
      std::vector<MaskSpec> masks;
      for (int j = 0; j < 5; ++j) masks.push_back({rng.secret32(), j % 2 == 1});
      std::vector<std::uint64_t> v(m), ref(m);
      for (std::size_t i = 0; i < m; ++i) v[i] = ref[i] = rng.next_u64() & (wb == 4 ? 0xffffffffu : ~0ull);
      for (const auto& mk : masks) {
        const auto mask = naive_mask(mk.key, m, wb);
        for (std::size_t i = 0; i < m; ++i) ref[i] = mk.subtract ? ref[i] - mask[i] : ref[i] + mask[i];
      }
      apply_masks(v, masks, wb);
      reduce(v, wb * 8);
      reduce(ref, wb * 8);
      EXPECT_EQ(v, ref) << "wb=" << wb << " m=" << m;
    }
  }
}

TEST(Masking, MoreMasksThanOneGroupAndCancellation) {
  crypto::DeterministicRandom rng(22, "mask2");
  const std::size_t m = 300;
  std::vector<MaskSpec> masks;
  for (int j = 0; j < 600; ++j) masks.push_back({rng.secret32(), false});
  std::vector<std::uint64_t> v(m, 5);
  apply_masks(v, masks, 4);
  for (auto& mk : masks) mk.subtract = true;
  apply_masks(v, masks, 4);
  reduce(v, 32);
  EXPECT_EQ(v, std::vector<std::uint64_t>(m, 5));
  EXPECT_THROW(apply_masks(v, masks, 2), ConfigError);
}

TEST(Masking, PackUnpack) {
  const std::vector<std::uint64_t> v = {0, 1, 0xdeadbeef, 0xffffffff};
  const auto p32 = pack_words(v, 4);
  ASSERT_EQ(p32.size(), 16u);
  EXPECT_EQ(static_cast<unsigned char>(p32[8]), 0xef);  // little-endian
  EXPECT_EQ(unpack_words(p32, 4, 4), v);
  const std::vector<std::uint64_t> w = {0x0123456789abcdefull, ~0ull};
  EXPECT_EQ(unpack_words(pack_words(w, 8), 2, 8), w);
  EXPECT_THROW(unpack_words(p32, 5, 4), ProtocolError);
  std::vector<std::uint64_t> acc = {1, 1, 1, 1};
  add_packed_into(acc, p32, 4);
  EXPECT_EQ(acc, (std::vector<std::uint64_t>{1, 2, 0xdeadbef0, 0x100000000ull}));
}

}  // namespace
}  // namespace fedlora::secagg
