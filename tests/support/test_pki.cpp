#include "tests/support/test_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace fedlora::test {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

void check(int ok, const char* what) {
  if (ok != 1) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

Key new_key() {
  Key k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  if (!k) throw std::runtime_error("test PKI: key generation failed");
  return k;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error(std::string("test PKI: extension ") + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

Cert make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, long serial, bool ca,
               const char* san) {
  Cert c(X509_new(), X509_free);
  check(X509_set_version(c.get(), 2), "version");
  ASN1_INTEGER_set(X509_get_serialNumber(c.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), 24 * 3600);
  check(X509_set_pubkey(c.get(), key), "pubkey");
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  check(X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name), "issuer");
  X509* iss = issuer ? issuer : c.get();
  add_ext(c.get(), iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(c.get(), iss, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  if (san) add_ext(c.get(), iss, NID_subject_alt_name, san);
  if (!ca) add_ext(c.get(), iss, NID_ext_key_usage, "serverAuth,clientAuth");
  if (X509_sign(c.get(), issuer_key, EVP_sha256()) == 0) throw std::runtime_error("test PKI: signing failed");
  return c;
}

void write_pem(const std::filesystem::path& p, X509* cert) {
  FILE* f = std::fopen(p.c_str(), "w");
  if (!f) throw std::runtime_error("test PKI: cannot write " + p.string());
  PEM_write_X509(f, cert);
  std::fclose(f);
}

void write_pem(const std::filesystem::path& p, EVP_PKEY* key) {
  FILE* f = std::fopen(p.c_str(), "w");
  if (!f) throw std::runtime_error("test PKI: cannot write " + p.string());
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

}  // namespace

TestPki make_test_pki(const std::filesystem::path& dir, const std::vector<std::string>& devices) {
  std::filesystem::create_directories(dir);
  TestPki pki;
  pki.dir = dir;
  Key ca_key = new_key();
  Cert ca = make_cert(ca_key.get(), "fedlora test CA", nullptr, ca_key.get(), 1, true, nullptr);
  pki.ca_cert = dir / "ca.crt";
  write_pem(pki.ca_cert, ca.get());
  Key server_key = new_key();
  Cert server = make_cert(server_key.get(), "localhost", ca.get(), ca_key.get(), 2, false, "DNS:localhost,IP:127.0.0.1");
  pki.server_cert = dir / "server.crt";
  pki.server_key = dir / "server.key";
  write_pem(pki.server_cert, server.get());
  write_pem(pki.server_key, server_key.get());
  long serial = 3;
  for (const auto& d : devices) {
    Key k = new_key();
    Cert c = make_cert(k.get(), d, ca.get(), ca_key.get(), serial++, false, nullptr);
    write_pem(pki.client_cert(d), c.get());
    write_pem(pki.client_key(d), k.get());
  }
  return pki;
}

}  // namespace fedlora::test
