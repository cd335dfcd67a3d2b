#pragma once
// What a device keeps between rounds and restarts, in its state directory (`--state`):
//   identity.json        which device this directory belongs to
//   identity_key.pem     its Ed25519 identity key (PKCS#8, mode 0600), made on first run
//   ledger.sqlite        its example-level privacy ledger (privacy/ledger), durable before training
//   global_adapter.f32   the last global adapter it downloaded (+ global_adapter.json: round, SHA-256)
// Every file is replaced atomically (temporary file, fsync, rename).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "privacy/ledger/privacy_ledger.h"
#include "secure-agg/crypto/ed25519.h"

namespace fedlora::client {

class DeviceState {
 public:
  /// Opens or creates `dir` for `device_id`. Throws std::runtime_error naming the directory
  /// if it belongs to another device or cannot be written.
  static DeviceState open(const std::filesystem::path& dir, const std::string& device_id);

  privacy::PrivacyLedger& ledger() { return *ledger_; }
  /// The device's long-term Ed25519 identity (signs its SecAgg round keys).
  const secagg::crypto::Ed25519PrivateKey& identity() const { return *identity_; }
  /// Stores θ (little-endian float32 bytes) of `round`, atomically.
  void save_global_adapter(std::uint64_t round, std::string_view bytes);
  /// The last stored adapter: (round, bytes), if any.
  std::optional<std::pair<std::uint64_t, std::string>> global_adapter() const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  DeviceState(std::filesystem::path dir, privacy::PrivacyLedger ledger, secagg::crypto::Ed25519PrivateKey identity);
  std::filesystem::path dir_;
  std::unique_ptr<privacy::PrivacyLedger> ledger_;
  std::unique_ptr<secagg::crypto::Ed25519PrivateKey> identity_;
};

}  // namespace fedlora::client
