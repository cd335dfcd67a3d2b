// Device identity keys on disk, enrolment certificates, and round-key signatures.
// Truth: file modes from stat(2), the RFC 8410 example key, and signatures checked by an
// independent verify call over hand-built messages.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "secure-agg/errors.h"
#include "secure-agg/identity.h"
#include "tests/secure-agg/test_identities.h"
#include "tests/support/temp_dir.h"

namespace fedlora::secagg {
namespace {

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return static_cast<unsigned>(st.st_mode & 07777);
}

TEST(IdentityKeyFile, SavedOwnerOnlyAndLoadsBack) {
  test::TempDir dir("secagg_identity");
  crypto::DeterministicRandom rng(1, "identity file");
  const auto key = crypto::Ed25519PrivateKey::generate(rng);
  const auto path = dir / "identity.pem";
  save_identity_key(key, path);
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_FALSE(std::filesystem::exists(dir / "identity.pem.tmp"));
  const auto back = load_identity_key(path);
  EXPECT_EQ(back.public_key(), key.public_key());
  const crypto::Bytes msg = {1, 2, 3};
  EXPECT_TRUE(crypto::ed25519_verify(key.public_key(), msg, back.sign(msg)));
  // An existing identity is never overwritten.
  crypto::DeterministicRandom rng2(2, "identity file");
  EXPECT_THROW(save_identity_key(crypto::Ed25519PrivateKey::generate(rng2), path), ConfigError);
  EXPECT_EQ(load_identity_key(path).public_key(), key.public_key());
}

TEST(IdentityKeyFile, RefusesOpenPermissionsAndBadFiles) {
  test::TempDir dir("secagg_identity");
  // RFC 8410 §10.3 example key, written by someone else with mode 0644.
  const auto path = dir.write("shared.pem",
                              "-----BEGIN PRIVATE KEY-----\n"
                              "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
                              "-----END PRIVATE KEY-----\n");
  ::chmod(path.c_str(), 0644);
  try {
    (void)load_identity_key(path);
    ADD_FAILURE() << "a 0644 key file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
  }
  ::chmod(path.c_str(), 0600);
  EXPECT_EQ(crypto::to_hex(load_identity_key(path).public_key()),
            "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1");
  EXPECT_THROW(load_identity_key(dir / "missing.pem"), ConfigError);
  EXPECT_THROW(load_identity_key(dir.path()), ConfigError);  // a directory
  const auto junk = dir.write("junk.pem", "not a key\n");
  ::chmod(junk.c_str(), 0600);
  EXPECT_THROW(load_identity_key(junk), CryptoError);
  const auto big = dir.write("big.pem", std::string(5000, 'A'));
  ::chmod(big.c_str(), 0600);
  EXPECT_THROW(load_identity_key(big), ConfigError);
  std::filesystem::create_symlink(path, dir / "link.pem");
  EXPECT_THROW(load_identity_key(dir / "link.pem"), ConfigError);  // O_NOFOLLOW
}

TEST(Enrolment, AuthoritySignatureBindsTheDeviceKey) {
  crypto::DeterministicRandom rng(3, "enrolment");
  const auto authority = crypto::Ed25519PrivateKey::generate(rng);
  const auto device = crypto::Ed25519PrivateKey::generate(rng).public_key();
  const auto other = crypto::Ed25519PrivateKey::generate(rng).public_key();
  const auto cert = sign_enrolment(authority, device);
  EXPECT_TRUE(verify_enrolment(authority.public_key(), device, cert));
  EXPECT_FALSE(verify_enrolment(authority.public_key(), other, cert));
  EXPECT_FALSE(verify_enrolment(device, device, cert));
  // The signed message is the domain label, a zero byte and the device key.
  const std::string label = "fedlora-secagg/v1 device-enrolment";
  crypto::Bytes msg(label.begin(), label.end());
  msg.push_back(0);
  msg.insert(msg.end(), device.begin(), device.end());
  EXPECT_TRUE(crypto::ed25519_verify(authority.public_key(), msg, cert));
}

TEST(RoundKeys, SignatureCoversConfigIdAndBothKeys) {
  const auto keys = testing::sorted_identities(4, 9);
  RoundConfig c;
  c.session_id.fill(2);
  c.num_clients = 4;
  c.vector_length = 3;
  c.params = {GraphKind::kComplete, 3, 2};
  c.roster = testing::roster_of(keys);
  crypto::X25519PublicKey cp{}, sp{};
  cp.fill(5);
  sp.fill(6);
  const auto d = c.digest();
  const auto sig = sign_round_keys(keys[1], d, 1, cp, sp);
  EXPECT_TRUE(verify_round_keys(c.roster[1].identity, d, 1, cp, sp, sig));
  EXPECT_FALSE(verify_round_keys(c.roster[2].identity, d, 1, cp, sp, sig));  // another device
  EXPECT_FALSE(verify_round_keys(c.roster[1].identity, d, 2, cp, sp, sig));  // another id
  EXPECT_FALSE(verify_round_keys(c.roster[1].identity, d, 1, sp, cp, sig));  // keys swapped
  auto next = c;
  next.round = 1;
  EXPECT_FALSE(verify_round_keys(c.roster[1].identity, next.digest(), 1, cp, sp, sig));  // another round
  // Message layout: label, 0, config digest, id (LE32), c_pk, s_pk.
  const std::string label = "fedlora-secagg/v1 round-keys";
  crypto::Bytes msg(label.begin(), label.end());
  msg.push_back(0);
  msg.insert(msg.end(), d.begin(), d.end());
  msg.insert(msg.end(), {1, 0, 0, 0});
  msg.insert(msg.end(), cp.begin(), cp.end());
  msg.insert(msg.end(), sp.begin(), sp.end());
  EXPECT_TRUE(crypto::ed25519_verify(c.roster[1].identity, msg, sig));
}

}  // namespace
}  // namespace fedlora::secagg
