#include "secure-agg/identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "secure-agg/errors.h"

namespace fedlora::secagg {
namespace {

constexpr std::string_view kRoundKeysDomain = "fedlora-secagg/v1 round-keys";
constexpr std::string_view kEnrolmentDomain = "fedlora-secagg/v1 device-enrolment";
constexpr std::size_t kMaxKeyFileBytes = 4096;

crypto::Bytes domain(std::string_view d) {
  crypto::Bytes b(d.begin(), d.end());
  b.push_back(0);
  return b;
}

std::string sys_error(const std::string& what, const std::filesystem::path& path) {
  return what + " " + path.string() + ": " + std::strerror(errno);
}

// Closes a file descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

crypto::Bytes round_keys_message(const crypto::Digest32& config_digest, ClientId id,
                                 const crypto::X25519PublicKey& c_pk, const crypto::X25519PublicKey& s_pk) {
  crypto::Bytes b = domain(kRoundKeysDomain);
  b.insert(b.end(), config_digest.begin(), config_digest.end());
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(id >> (8 * i)));
  b.insert(b.end(), c_pk.begin(), c_pk.end());
  b.insert(b.end(), s_pk.begin(), s_pk.end());
  return b;
}

crypto::Ed25519Signature sign_round_keys(const crypto::Ed25519PrivateKey& identity, const crypto::Digest32& config_digest,
                                         ClientId id, const crypto::X25519PublicKey& c_pk,
                                         const crypto::X25519PublicKey& s_pk) {
  return identity.sign(round_keys_message(config_digest, id, c_pk, s_pk));
}

bool verify_round_keys(const crypto::Ed25519PublicKey& identity, const crypto::Digest32& config_digest, ClientId id,
                       const crypto::X25519PublicKey& c_pk, const crypto::X25519PublicKey& s_pk,
                       const crypto::Ed25519Signature& sig) {
  return crypto::ed25519_verify(identity, round_keys_message(config_digest, id, c_pk, s_pk), sig);
}

crypto::Ed25519Signature sign_enrolment(const crypto::Ed25519PrivateKey& authority,
                                        const crypto::Ed25519PublicKey& device) {
  crypto::Bytes b = domain(kEnrolmentDomain);
  b.insert(b.end(), device.begin(), device.end());
  return authority.sign(b);
}

bool verify_enrolment(const crypto::Ed25519PublicKey& authority, const crypto::Ed25519PublicKey& device,
                      const crypto::Ed25519Signature& signature) {
  crypto::Bytes b = domain(kEnrolmentDomain);
  b.insert(b.end(), device.begin(), device.end());
  return crypto::ed25519_verify(authority, b, signature);
}

void save_identity_key(const crypto::Ed25519PrivateKey& key, const std::filesystem::path& path) {
  if (std::filesystem::exists(path)) {
    throw ConfigError("identity key file " + path.string() +
                      " already exists; refusing to overwrite a device identity (remove it first to re-enrol)");
  }
  const crypto::SecretBytes pem = key.to_pem();
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
    if (f.fd < 0) throw ConfigError(sys_error("cannot create identity key file", tmp));
    std::size_t done = 0;
    while (done < pem.size()) {
      const ssize_t w = ::write(f.fd, pem.data() + done, pem.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        ::unlink(tmp.c_str());
        throw ConfigError(sys_error("cannot write identity key file", tmp));
      }
      done += static_cast<std::size_t>(w);
    }
    if (::fsync(f.fd) != 0) {
      ::unlink(tmp.c_str());
      throw ConfigError(sys_error("cannot sync identity key file", tmp));
    }
  }
  // link + unlink instead of rename: never replaces a file that appeared meanwhile.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = sys_error("cannot install identity key file", path);
    ::unlink(tmp.c_str());
    throw ConfigError(why);
  }
  ::unlink(tmp.c_str());
}

crypto::Ed25519PrivateKey load_identity_key(const std::filesystem::path& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (f.fd < 0) throw ConfigError(sys_error("cannot open identity key file", path));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw ConfigError(sys_error("cannot stat identity key file", path));
  if (!S_ISREG(st.st_mode)) throw ConfigError("identity key file " + path.string() + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw ConfigError("identity key file " + path.string() + " has permissions " + mode +
                      ": it must be readable by its owner only (chmod 600)");
  }
  if (st.st_size <= 0 || static_cast<std::size_t>(st.st_size) > kMaxKeyFileBytes) {
    throw ConfigError("identity key file " + path.string() + " has " + std::to_string(st.st_size) +
                      " bytes; a PEM Ed25519 key has about 120");
  }
  crypto::SecretBytes pem(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < pem.size()) {
    const ssize_t r = ::read(f.fd, pem.data() + done, pem.size() - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw ConfigError(sys_error("cannot read identity key file", path));
    done += static_cast<std::size_t>(r);
  }
  return crypto::Ed25519PrivateKey::from_pem(pem);
}

}  // namespace fedlora::secagg
