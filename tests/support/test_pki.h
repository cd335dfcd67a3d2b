#pragma once
// Certificates made at test time (never committed): a CA, a server certificate for
// "localhost" / 127.0.0.1, and one client certificate per device id (CN = device id), all
// ECDSA P-256 signed with SHA-256 through OpenSSL 3.
#include <filesystem>
#include <string>
#include <vector>

namespace fedlora::test {

struct TestPki {
  std::filesystem::path ca_cert;
  std::filesystem::path server_cert, server_key;
  std::filesystem::path client_cert(const std::string& device) const { return dir / (device + ".crt"); }
  std::filesystem::path client_key(const std::string& device) const { return dir / (device + ".key"); }
  std::filesystem::path dir;
};

/// Writes the CA, the server pair and a pair per device into `dir`. Throws std::runtime_error.
TestPki make_test_pki(const std::filesystem::path& dir, const std::vector<std::string>& devices);

}  // namespace fedlora::test
