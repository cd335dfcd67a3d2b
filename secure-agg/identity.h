#pragma once
// Long-term device identity for SecAgg in the malicious-server setting.
//
// Each device holds an Ed25519 identity key, registered at enrolment, and signs its
// round keys (c_pk, s_pk) with it; the coordinator relays the signatures and clients
// verify them (Bonawitz et al. CCS'17, §"Active adversary": signatures under keys from
// a PKI). Because the coordinator also distributes the identity keys (the round's
// roster), signatures alone stop replayed or altered round keys but not sybils the
// server invents. An independent enrolment authority closes that gap: it signs each
// enrolled device key, and a client configured with the authority's public key accepts
// only neighbours with a valid enrolment signature.
#include <filesystem>

#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/x25519.h"
#include "secure-agg/round_config.h"

namespace fedlora::secagg {

/// Message a device signs for one round: domain || config_digest || id || c_pk || s_pk,
/// with config_digest = RoundConfig::digest(). The digest binds session id, round,
/// parameters and cohort, so a signature cannot be replayed into another session,
/// round, id or parameter set.
crypto::Bytes round_keys_message(const crypto::Digest32& config_digest, ClientId id,
                                 const crypto::X25519PublicKey& c_pk, const crypto::X25519PublicKey& s_pk);
crypto::Ed25519Signature sign_round_keys(const crypto::Ed25519PrivateKey& identity, const crypto::Digest32& config_digest,
                                         ClientId id, const crypto::X25519PublicKey& c_pk,
                                         const crypto::X25519PublicKey& s_pk);
/// True iff sig is identity's signature over round_keys_message (the caller takes
/// identity from roster[id]). Never throws for bad input.
bool verify_round_keys(const crypto::Ed25519PublicKey& identity, const crypto::Digest32& config_digest, ClientId id,
                       const crypto::X25519PublicKey& c_pk, const crypto::X25519PublicKey& s_pk,
                       const crypto::Ed25519Signature& sig);

/// Enrolment certificate: the authority's signature over domain || device identity key.
crypto::Ed25519Signature sign_enrolment(const crypto::Ed25519PrivateKey& authority,
                                        const crypto::Ed25519PublicKey& device);
bool verify_enrolment(const crypto::Ed25519PublicKey& authority, const crypto::Ed25519PublicKey& device,
                      const crypto::Ed25519Signature& signature);

/// Writes key as PKCS#8 PEM to path, created with mode 0600 (readable by the owner
/// only) through a temporary file and rename. Refuses to overwrite an existing file.
/// Throws ConfigError naming the path on any file-system failure.
void save_identity_key(const crypto::Ed25519PrivateKey& key, const std::filesystem::path& path);
/// Reads a PKCS#8 PEM Ed25519 key. Throws ConfigError if the file is missing, not a
/// regular file, larger than 4 KiB, or readable/writable by group or others (fix with
/// chmod 600, as for ssh keys); CryptoError if it is not an Ed25519 private key.
crypto::Ed25519PrivateKey load_identity_key(const std::filesystem::path& path);

}  // namespace fedlora::secagg
