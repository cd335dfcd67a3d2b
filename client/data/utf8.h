#pragma once
// Strict UTF-8 validation (RFC 3629 §3/§4, Unicode 15 Table 3-7 "well-formed byte sequences").

#include <cstddef>
#include <string_view>

namespace fedlora::client::data {

/// Checks that `bytes` is well-formed UTF-8 per RFC 3629 §4 / Unicode Table 3-7: rejects
/// stray continuation bytes, truncated sequences, overlong forms (C0, C1, E0 80..9F,
/// F0 80..8F), UTF-16 surrogates (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF).
/// @param source  file path or label, used only in the error message.
/// @throws DataError naming `source`, the 1-based line and byte column ("file:3:17: ..."),
///         the byte offset (0-based) of the first byte of the bad
///         sequence, the offending byte in hex and the reason.
void validate_utf8(std::string_view bytes, std::string_view source);

/// Number of Unicode code points in `bytes`, which must already be valid UTF-8
/// (counts the bytes that are not continuation bytes 10xxxxxx).
std::size_t count_code_points(std::string_view bytes) noexcept;

}  // namespace fedlora::client::data
