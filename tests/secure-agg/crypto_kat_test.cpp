// Known-answer tests of the OpenSSL wrappers against published vectors.
#include <gtest/gtest.h>

#include <set>

#include "secure-agg/crypto/aes_ctr_prng.h"
#include "secure-agg/crypto/aes_gcm.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/gmac.h"
#include "secure-agg/crypto/hkdf.h"
#include "secure-agg/crypto/random.h"
#include "secure-agg/crypto/scrypt.h"
#include "secure-agg/crypto/sha256.h"
#include "secure-agg/crypto/x25519.h"
#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {
namespace {

Secret32 secret(const char* hex) { return Secret32(from_hex(hex)); }
X25519PublicKey pub(const char* hex) {
  const auto b = from_hex(hex);
  X25519PublicKey k{};
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

// RFC 7748 §6.1: Alice and Bob.
TEST(X25519, Rfc7748DiffieHellmanVector) {
  const auto alice = X25519PrivateKey::from_bytes(secret("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  const auto bob = X25519PrivateKey::from_bytes(secret("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  EXPECT_EQ(to_hex(alice.public_key()), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(to_hex(bob.public_key()), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const char* shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  EXPECT_EQ(to_hex(alice.agree(bob.public_key()).span()), shared);
  EXPECT_EQ(to_hex(bob.agree(alice.public_key()).span()), shared);
}

// RFC 7748 §5.2, first scalar-multiplication vector (arbitrary u-coordinate).
TEST(X25519, Rfc7748ScalarMultVector) {
  const auto k = X25519PrivateKey::from_bytes(secret("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"));
  EXPECT_EQ(to_hex(k.agree(pub("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")).span()),
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
}

TEST(X25519, RawPrivateKeyRoundTrips) {
  DeterministicRandom rng(7, "x25519");
  const auto k = X25519PrivateKey::generate(rng);
  const auto k2 = X25519PrivateKey::from_bytes(k.raw());
  EXPECT_EQ(k.public_key(), k2.public_key());
}

TEST(X25519, SmallOrderPeerKeysAreRejected) {
  DeterministicRandom rng(8, "x25519");
  const auto k = X25519PrivateKey::generate(rng);
  // u = 0 and u = 1 are points of small order (RFC 7748 §6.1: all-zero output).
  const X25519PublicKey zero{};
  X25519PublicKey one{};
  one[0] = 1;
  EXPECT_THROW(k.agree(zero), CryptoError);
  EXPECT_THROW(k.agree(one), CryptoError);
  EXPECT_FALSE(x25519_public_key_is_usable(zero));
  EXPECT_FALSE(x25519_public_key_is_usable(one));
  EXPECT_TRUE(x25519_public_key_is_usable(k.public_key()));
}

// RFC 5869 Appendix A, test cases 1-3 (SHA-256).
TEST(Hkdf, Rfc5869Case1) {
  Bytes out(42);
  hkdf_sha256(Bytes(22, 0x0b), from_hex("000102030405060708090a0b0c"), from_hex("f0f1f2f3f4f5f6f7f8f9"), out);
  EXPECT_EQ(to_hex(out), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(Hkdf, Rfc5869Case2LongInputs) {
  Bytes ikm, salt, info;
  for (int i = 0x00; i < 0x50; ++i) ikm.push_back(static_cast<std::uint8_t>(i));
  for (int i = 0x60; i < 0xb0; ++i) salt.push_back(static_cast<std::uint8_t>(i));
  for (int i = 0xb0; i < 0x100; ++i) info.push_back(static_cast<std::uint8_t>(i));
  Bytes out(82);
  hkdf_sha256(ikm, salt, info, out);
  EXPECT_EQ(to_hex(out),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f"
            "09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

TEST(Hkdf, Rfc5869Case3EmptySaltAndInfo) {
  Bytes out(42);
  hkdf_sha256(Bytes(22, 0x0b), {}, {}, out);
  EXPECT_EQ(to_hex(out), "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(Hkdf, RejectsBadOutputLength) {
  Bytes empty;
  EXPECT_THROW(hkdf_sha256(Bytes(32, 1), {}, {}, empty), CryptoError);
  Bytes huge(255 * 32 + 1);
  EXPECT_THROW(hkdf_sha256(Bytes(32, 1), {}, {}, huge), CryptoError);
}

GcmNonce nonce(const char* hex) {
  GcmNonce n{};
  const auto b = from_hex(hex);
  std::copy(b.begin(), b.end(), n.begin());
  return n;
}

// McGrew & Viega, "The Galois/Counter Mode of Operation" test cases 13, 14, 16 (AES-256),
// as used in NIST's GCM validation.
TEST(AesGcm, NistTestCase13EmptyPlaintext) {
  const Secret32 key;  // all zero
  const auto ct = aes256_gcm_seal(key, nonce("000000000000000000000000"), {}, {});
  EXPECT_EQ(to_hex(ct), "530f8afbc74536b9a963b4f1c4cb738b");
}

TEST(AesGcm, NistTestCase14) {
  const Secret32 key;
  const auto ct = aes256_gcm_seal(key, nonce("000000000000000000000000"), Bytes(16, 0), {});
  EXPECT_EQ(to_hex(ct), "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  const auto pt = aes256_gcm_open(key, nonce("000000000000000000000000"), ct, {});
  ASSERT_TRUE(pt.has_value());
  EXPECT_EQ(Bytes(pt->begin(), pt->end()), Bytes(16, 0));
}

TEST(AesGcm, NistTestCase16WithAssociatedData) {
  const auto key = secret("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto iv = nonce("cafebabefacedbaddecaf888");
  const auto pt = from_hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657"
      "ba637b39");
  const auto aad = from_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const auto ct = aes256_gcm_seal(key, iv, pt, aad);
  EXPECT_EQ(to_hex(ct),
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a"
            "0abcc9f662"
            "76fc6ece0f4e1768cddf8853bb2d551b");
  const auto back = aes256_gcm_open(key, iv, ct, aad);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(Bytes(back->begin(), back->end()), pt);
}

TEST(AesGcm, TamperingWrongAadOrKeyFailsClosed) {
  const auto key = secret("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto iv = nonce("cafebabefacedbaddecaf888");
  const Bytes pt(40, 0x42), aad = {1, 2, 3};
  const auto ct = aes256_gcm_seal(key, iv, pt, aad);
  for (std::size_t i = 0; i < ct.size(); ++i) {
    auto bad = ct;
    bad[i] ^= 0x01;
    EXPECT_FALSE(aes256_gcm_open(key, iv, bad, aad).has_value()) << "flipped byte " << i;
  }
  EXPECT_FALSE(aes256_gcm_open(key, iv, ct, Bytes{1, 2, 4}).has_value());
  EXPECT_FALSE(aes256_gcm_open(Secret32(), iv, ct, aad).has_value());
  EXPECT_FALSE(aes256_gcm_open(key, nonce("cafebabefacedbaddecaf889"), ct, aad).has_value());
  EXPECT_FALSE(aes256_gcm_open(key, iv, Bytes(15, 0), aad).has_value());  // shorter than a tag
  EXPECT_FALSE(aes256_gcm_open(key, iv, Bytes(ct.begin(), ct.end() - 1), aad).has_value());
}

// NIST SP 800-38A F.5.5 CTR-AES256.Encrypt: keystream = ciphertext XOR plaintext.
TEST(AesCtrPrng, Sp800_38aCtrAes256Keystream) {
  const auto key = secret("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  const auto iv_bytes = from_hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  std::array<std::uint8_t, 16> iv{};
  std::copy(iv_bytes.begin(), iv_bytes.end(), iv.begin());
  const auto pt = from_hex(
      "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad"
      "2b417be66c3710");
  const auto ct = from_hex(
      "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c52b0930daa23de94ce87017ba2d84988ddfc9c58db67aada6"
      "13c2dd08457941a6");
  AesCtrPrng prg(key, std::span<const std::uint8_t, 16>(iv));
  Bytes ks(64);
  // Drawn in uneven pieces: the stream must not depend on how it is consumed.
  prg.fill(std::span(ks).subspan(0, 5));
  prg.fill(std::span(ks).subspan(5, 40));
  prg.fill(std::span(ks).subspan(45, 19));
  for (std::size_t i = 0; i < 64; ++i) EXPECT_EQ(ks[i], pt[i] ^ ct[i]) << i;
}

TEST(Sha256, FipsAbcVector) {
  const auto d = sha256({as_bytes("abc")});
  EXPECT_EQ(to_hex(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const auto split = sha256({as_bytes("a"), as_bytes(""), as_bytes("bc")});
  EXPECT_EQ(d, split);
}

// RFC 4231 test cases 1 and 2 (HMAC-SHA-256).
TEST(HmacSha256, Rfc4231Vectors) {
  EXPECT_EQ(to_hex(hmac_sha256(Bytes(20, 0x0b), as_bytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(to_hex(hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Random, DeterministicStreamsAreReproducibleAndLabelled) {
  DeterministicRandom a(42, "x"), b(42, "x"), c(42, "y"), d(43, "x");
  Bytes ra(64), rb(64), rc(64), rd(64);
  a.fill(ra);
  b.fill(rb);
  c.fill(rc);
  d.fill(rd);
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
  EXPECT_NE(ra, rd);
}

TEST(Random, UniformBelowStaysInRangeAndCoversIt) {
  DeterministicRandom rng(1, "uniform");
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const auto v = rng.uniform_below(7);
    ASSERT_LT(v, 7u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_THROW(rng.uniform_below(0), ConfigError);
}

TEST(Random, SystemRandomProducesDistinctOutputs) {
  SystemRandom rng;
  Bytes a(32), b(32);
  rng.fill(a);
  rng.fill(b);
  EXPECT_NE(a, b);  // fails with probability 2^-256
}

TEST(Bytes, HexRoundTripAndErrors) {
  EXPECT_EQ(to_hex(from_hex("00ff10Ab")), "00ff10ab");
  EXPECT_THROW(from_hex("abc"), CryptoError);
  EXPECT_THROW(from_hex("zz"), CryptoError);
  EXPECT_THROW(Secret32(Bytes(31, 0)), CryptoError);
  EXPECT_TRUE(constant_time_equal(Bytes{1, 2}, Bytes{1, 2}));
  EXPECT_FALSE(constant_time_equal(Bytes{1, 2}, Bytes{1, 3}));
  EXPECT_FALSE(constant_time_equal(Bytes{1, 2}, Bytes{1}));
}

// GMAC is GCM with the data as AAD and no plaintext: GCM test case 13 (all-zero key and
// IV, nothing at all) gives its tag, and for any data the GMAC equals the tag of
// aes256_gcm_seal(key, iv, {}, data) (the KAT-checked GCM path).
TEST(Gmac, MatchesGcmTagsOfAssociatedDataOnly) {
  EXPECT_EQ(to_hex(gmac_aes256(Secret32(), nonce("000000000000000000000000"), {})), "530f8afbc74536b9a963b4f1c4cb738b");
  DeterministicRandom rng(10, "gmac");
  const auto key = rng.secret32();
  GcmNonce iv{};
  rng.fill(iv);
  for (std::size_t len : {1u, 15u, 16u, 17u, 4096u, 100003u}) {
    Bytes data(len);
    rng.fill(data);
    EXPECT_EQ(to_hex(gmac_aes256(key, iv, data)), to_hex(aes256_gcm_seal(key, iv, {}, data))) << len;
  }
}

// RFC 7748 §5: bit 255 of a u-coordinate is masked and values >= p = 2^255 - 19 are
// taken mod p, so these encodings are the same key; X25519 itself agrees (same shared
// secret), which is the truth the canonical form must match.
TEST(X25519, CanonicalFormMergesEncodingsOfOneKey) {
  DeterministicRandom rng(9, "x25519-canonical");
  const auto me = X25519PrivateKey::generate(rng);
  const auto peer = X25519PrivateKey::generate(rng).public_key();
  X25519PublicKey top = peer;
  top[31] ^= 0x80;
  EXPECT_NE(top, peer);
  EXPECT_EQ(to_hex(me.agree(top).span()), to_hex(me.agree(peer).span()));
  EXPECT_EQ(x25519_canonical(top), x25519_canonical(peer));
  EXPECT_EQ(x25519_canonical(peer), peer);  // OpenSSL's own encodings are canonical
  // u = 9 (the base point) and u = 9 + p = 2^255 - 10: f6 ff .. ff 7f.
  const auto nine = pub("0900000000000000000000000000000000000000000000000000000000000000");
  const auto nine_p = pub("f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  EXPECT_EQ(to_hex(me.agree(nine_p).span()), to_hex(me.agree(nine).span()));
  EXPECT_EQ(x25519_canonical(nine_p), nine);
  // p - 1 = ec ff .. ff 7f is canonical (below p) and stays as it is.
  const auto p_minus_1 = pub("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  EXPECT_EQ(x25519_canonical(p_minus_1), p_minus_1);
  X25519PublicKey other = peer;
  other[0] ^= 1;
  EXPECT_NE(x25519_canonical(other), x25519_canonical(peer));
}

// RFC 8032 §7.1, TEST 1, 2, 3 and SHA(abc).
struct Ed25519Vector {
  const char* seed;
  const char* pk;
  const char* msg;
  const char* sig;
};

TEST(Ed25519, Rfc8032Vectors) {
  const Ed25519Vector vectors[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe2465"
       "5141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aee"
       "b00d291612bb0c00"},
      {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
       "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28d"
       "c027beceea1ec40a"},
      {"833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
       "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
       "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a"
       "9ac94fa54ca49f",
       "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9"
       "bef1177331a704"},
  };
  for (const auto& v : vectors) {
    const auto key = Ed25519PrivateKey::from_seed(secret(v.seed));
    EXPECT_EQ(to_hex(key.public_key()), v.pk);
    const auto msg = from_hex(v.msg);
    const auto sig = key.sign(msg);
    EXPECT_EQ(to_hex(sig), v.sig);
    EXPECT_TRUE(ed25519_verify(key.public_key(), msg, sig));
  }
}

TEST(Ed25519, VerificationFailsClosed) {
  const auto key = Ed25519PrivateKey::from_seed(secret("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
  const Bytes msg = {0x72};
  const auto sig = key.sign(msg);
  for (std::size_t i = 0; i < sig.size(); i += 7) {
    auto bad = sig;
    bad[i] ^= 0x10;
    EXPECT_FALSE(ed25519_verify(key.public_key(), msg, bad)) << "flipped signature byte " << i;
  }
  EXPECT_FALSE(ed25519_verify(key.public_key(), Bytes{0x73}, sig));
  auto other = key.public_key();
  other[3] ^= 1;
  EXPECT_FALSE(ed25519_verify(other, msg, sig));
  // S >= L (group order) is rejected: add L to the S half of a valid signature.
  // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
  const auto ell = from_hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  auto malleable = sig;
  unsigned carry = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    const unsigned s = malleable[32 + i] + ell[i] + carry;
    malleable[32 + i] = static_cast<std::uint8_t>(s);
    carry = s >> 8;
  }
  EXPECT_FALSE(ed25519_verify(key.public_key(), msg, malleable));
}

// RFC 8410 §10.3: the example PKCS#8 private key; its public key is the one of §10.1.
TEST(Ed25519, Rfc8410PemKeyAndPemRoundTrip) {
  const std::string pem =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
      "-----END PRIVATE KEY-----\n";
  const auto key = Ed25519PrivateKey::from_pem(as_bytes(pem));
  EXPECT_EQ(to_hex(key.public_key()), "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1");
  const auto again = key.to_pem();
  EXPECT_EQ(std::string(again.begin(), again.end()), pem);
  EXPECT_THROW(Ed25519PrivateKey::from_pem(as_bytes("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")),
               CryptoError);
  // An X25519 key in PKCS#8 (RFC 8410 §10.3 form, OID 1.3.101.110) is not an identity key.
  EXPECT_THROW(Ed25519PrivateKey::from_pem(as_bytes("-----BEGIN PRIVATE KEY-----\n"
                                                    "MC4CAQAwBQYDK2VuBCIEIDiAPLOIoXjQKdlY7IskZiYoOizmVw5HyhnXazcNaEFn\n"
                                                    "-----END PRIVATE KEY-----\n")),
               CryptoError);
}

// RFC 7914 §12 test vectors (the fourth, N = 2^20, is left out for time).
TEST(Scrypt, Rfc7914Vectors) {
  std::array<std::uint8_t, 64> out{};
  scrypt({}, {}, 4, 1, 1, out);
  EXPECT_EQ(to_hex(out),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d36"
            "28cf35e20c38d18906");
  scrypt(as_bytes("password"), as_bytes("NaCl"), 10, 8, 16, out);
  EXPECT_EQ(to_hex(out),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee"
            "6d8360cbdfa2cc0640");
  scrypt(as_bytes("pleaseletmein"), as_bytes("SodiumChloride"), 14, 8, 1, out);
  EXPECT_EQ(to_hex(out),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e"
            "40dfcf017b45575887");
  EXPECT_THROW(scrypt({}, {}, 0, 1, 1, out), CryptoError);
  EXPECT_THROW(scrypt({}, {}, kMaxScryptLog2N + 1, 1, 1, out), CryptoError);
}

}  // namespace
}  // namespace fedlora::secagg::crypto
