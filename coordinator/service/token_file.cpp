#include "coordinator/service/token_file.h"

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "coordinator/config/toml_reader.h"
#include "coordinator/protocol/payload.h"

namespace fedlora::coordinator {

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

std::string token_sha256_hex(std::string_view token) { return protocol::to_hex(protocol::sha256_of(token)); }

std::vector<TokenEntry> read_token_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw config::ConfigError("cannot read the tokens file " + path.string());
  std::vector<TokenEntry> out;
  std::set<std::string> devices, tokens;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream ss(line);
    std::string device, token, extra;
    if (!(ss >> device)) continue;
    const std::string where = path.string() + ":" + std::to_string(n) + ": ";
    if (!(ss >> token) || (ss >> extra)) throw config::ConfigError(where + "expected \"device_id token\"");
    if (!valid_device_id(device)) throw config::ConfigError(where + "device id must be 1..128 characters of [A-Za-z0-9._-]");
    if (token.size() < 16) throw config::ConfigError(where + "token is shorter than 16 characters");
    const auto digest = token_sha256_hex(token);
    if (!devices.insert(device).second) throw config::ConfigError(where + "device " + device + " is listed twice");
    if (!tokens.insert(digest).second) throw config::ConfigError(where + "a token is listed twice");
    out.push_back({device, digest});
  }
  return out;
}

}  // namespace fedlora::coordinator
