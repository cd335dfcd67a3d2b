#include "client/runtime/device_state.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "coordinator/protocol/payload.h"
#include "lora/format/atomic_file.h"
#include "secure-agg/identity.h"

namespace fedlora::client {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void write_atomically(const fs::path& p, std::string_view bytes) {
  lora::AtomicFileWriter w(p);
  w.append(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
  w.commit();
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

DeviceState::DeviceState(fs::path dir, privacy::PrivacyLedger ledger, secagg::crypto::Ed25519PrivateKey identity)
    : dir_(std::move(dir)),
      ledger_(std::make_unique<privacy::PrivacyLedger>(std::move(ledger))),
      identity_(std::make_unique<secagg::crypto::Ed25519PrivateKey>(std::move(identity))) {}

DeviceState DeviceState::open(const fs::path& dir, const std::string& device_id) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create the device state directory " + dir.string() + ": " + ec.message());
  const fs::path id_file = dir / "identity.json";
  if (fs::exists(id_file)) {
    json j;
    try {
      j = json::parse(read_all(id_file));
    } catch (const json::exception&) {
      throw std::runtime_error(id_file.string() + " is not valid JSON; the state directory is damaged");
    }
    if (j.value("device_id", "") != device_id)
      throw std::runtime_error(dir.string() + " holds the state of device " + j.value("device_id", "?") +
                               ", not " + device_id + "; give each device its own --state");
  } else {
    write_atomically(id_file, json{{"device_id", device_id}}.dump() + "\n");
  }
  const fs::path key_file = dir / "identity_key.pem";
  if (!fs::exists(key_file)) {
    secagg::crypto::SystemRandom os;
    secagg::save_identity_key(secagg::crypto::Ed25519PrivateKey::generate(os), key_file);
  }
  return DeviceState(dir, privacy::PrivacyLedger::open(dir / "ledger.sqlite"), secagg::load_identity_key(key_file));
}

void DeviceState::save_global_adapter(std::uint64_t round, std::string_view bytes) {
  write_atomically(dir_ / "global_adapter.f32", bytes);
  const auto digest = protocol::sha256_of(bytes);
  write_atomically(dir_ / "global_adapter.json", json{{"round", round}, {"sha256", protocol::to_hex(digest)}}.dump() + "\n");
}

std::optional<std::pair<std::uint64_t, std::string>> DeviceState::global_adapter() const {
  const fs::path meta = dir_ / "global_adapter.json", data = dir_ / "global_adapter.f32";
  if (!fs::exists(meta) || !fs::exists(data)) return std::nullopt;
  const auto j = json::parse(read_all(meta), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  std::string bytes = read_all(data);
  if (protocol::to_hex(protocol::sha256_of(bytes)) != j.value("sha256", "")) return std::nullopt;  // written by two crashes apart
  return std::make_pair(j.value("round", std::uint64_t{0}), std::move(bytes));
}

}  // namespace fedlora::client
