#pragma once
// Bearer-token enrolment: a text file with one "device_id token" pair per line ('#' starts a
// comment). The coordinator keeps only SHA-256 digests of the tokens.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fedlora::coordinator {

struct TokenEntry {
  std::string device;        ///< 1..128 bytes of [A-Za-z0-9._-]
  std::string token_sha256;  ///< hex SHA-256 of the token
};

/// Reads the file. Throws config::ConfigError naming the file and line for a malformed line,
/// a device or token listed twice, a token shorter than 16 characters, or an unreadable file.
std::vector<TokenEntry> read_token_file(const std::filesystem::path& path);

/// Hex SHA-256 of a token, as stored.
std::string token_sha256_hex(std::string_view token);

/// True if `id` is a valid device id (1..128 bytes of [A-Za-z0-9._-]).
bool valid_device_id(std::string_view id);

}  // namespace fedlora::coordinator
