#include "lora/tokenizer/spm_vocab.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lora/tokenizer/tokenizer_error.h"

namespace fedlora::lora {

namespace {

std::string describe(TokenId id, const std::string& piece) {
  // Pieces may hold control characters or invalid UTF-8: show them escaped.
  std::string shown;
  for (unsigned char c : piece) {
    if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\') {
      static const char* hex = "0123456789ABCDEF";
      shown += "\\x";
      shown += hex[c >> 4];
      shown += hex[c & 15];
    } else {
      shown += static_cast<char>(c);
    }
  }
  return "token " + std::to_string(id) + " '" + shown + "'";
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string_view token_type_name(TokenType type) noexcept {
  switch (type) {
    case TokenType::normal: return "normal";
    case TokenType::unknown: return "unknown";
    case TokenType::control: return "control";
    case TokenType::user_defined: return "user_defined";
    case TokenType::unused: return "unused";
    case TokenType::byte: return "byte";
  }
  return "invalid";
}

TokenType token_type_from_id(std::int32_t id, std::string_view where) {
  if (id < 1 || id > 6) {
    throw TokenizerError(std::string(where) + ": token type " + std::to_string(id) +
                         " is not a SentencePiece/llama.cpp token type (expected 1 normal, "
                         "2 unknown, 3 control, 4 user_defined, 5 unused or 6 byte)");
  }
  return static_cast<TokenType>(id);
}

std::optional<std::uint8_t> parse_byte_piece(std::string_view piece) noexcept {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return std::nullopt;
  const int hi = hex_digit(piece[3]);
  const int lo = hex_digit(piece[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<std::uint8_t>(hi * 16 + lo);
}

std::string byte_piece(std::uint8_t b) {
  static const char* hex = "0123456789ABCDEF";
  return std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
}

SpmVocab::SpmVocab(SpmVocabSpec spec) : spec_(std::move(spec)) {
  const std::size_t n = spec_.pieces.size();
  const std::string where = "SpmVocab: ";
  if (n == 0) throw TokenizerError(where + "vocabulary is empty; it needs at least an <unk> piece");
  if (spec_.scores.size() != n || spec_.types.size() != n) {
    throw TokenizerError(where + "sizes differ: " + std::to_string(n) + " pieces, " +
                         std::to_string(spec_.scores.size()) + " scores, " +
                         std::to_string(spec_.types.size()) +
                         " types; every token needs exactly one of each");
  }
  if (n > static_cast<std::size_t>(std::numeric_limits<TokenId>::max())) {
    throw TokenizerError(where + "vocabulary of " + std::to_string(n) +
                         " pieces does not fit int32 token ids");
  }
  byte_ids_.fill(kNoToken);
  std::size_t n_unknown = 0;
  all_.reserve(n);
  mergeable_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto id = static_cast<TokenId>(i);
    const std::string& p = spec_.pieces[i];
    const TokenType t = token_type_from_id(static_cast<std::int32_t>(spec_.types[i]),
                                           where + describe(id, p));
    if (p.empty()) throw TokenizerError(where + "token " + std::to_string(id) + " has an empty piece");
    if (std::isnan(spec_.scores[i])) {
      throw TokenizerError(where + describe(id, p) + " has a NaN score; scores must be numbers");
    }
    const auto [it, inserted] = all_.emplace(p, id);
    if (!inserted) {
      throw TokenizerError(where + describe(id, p) + " duplicates " + describe(it->second, p) +
                           "; pieces must be unique");
    }
    switch (t) {
      case TokenType::normal:
      case TokenType::user_defined:
      case TokenType::unused:
        mergeable_.emplace(p, id);
        if (t == TokenType::user_defined) user_defined_.push_back(id);
        break;
      case TokenType::unknown:
        ++n_unknown;
        break;
      case TokenType::control:
        break;
      case TokenType::byte: {
        const auto b = parse_byte_piece(p);
        if (!b) {
          throw TokenizerError(where + describe(id, p) +
                               " has type byte but is not spelled <0xXX> with two hex digits");
        }
        if (byte_ids_[*b] != kNoToken) {
          throw TokenizerError(where + describe(id, p) + " is a second piece for byte " +
                               byte_piece(*b) + " (first: " +
                               describe(byte_ids_[*b], spec_.pieces[byte_ids_[*b]]) + ")");
        }
        byte_ids_[*b] = id;
        break;
      }
    }
  }
  if (n_unknown != 1) {
    throw TokenizerError(where + "found " + std::to_string(n_unknown) +
                         " tokens of type unknown; exactly one (<unk>) is required");
  }
  const auto check_special = [&](TokenId sid, const char* name, bool optional) {
    if (optional && sid == kNoToken) return;
    if (sid < 0 || sid >= size()) {
      throw TokenizerError(where + name + " " + std::to_string(sid) + " is out of range [0, " +
                           std::to_string(n) + ")" + (optional ? " (use -1 for none)" : ""));
    }
  };
  check_special(spec_.unk_id, "unk_id", false);
  check_special(spec_.bos_id, "bos_id", true);
  check_special(spec_.eos_id, "eos_id", true);
  check_special(spec_.pad_id, "pad_id", true);
  if (spec_.types[static_cast<std::size_t>(spec_.unk_id)] != TokenType::unknown) {
    throw TokenizerError(where + "unk_id " + std::to_string(spec_.unk_id) + " is " +
                         describe(spec_.unk_id, spec_.pieces[spec_.unk_id]) + " of type " +
                         std::string(token_type_name(spec_.types[spec_.unk_id])) +
                         ", not the token of type unknown");
  }
  const auto n_bytes = static_cast<std::size_t>(
      std::count_if(byte_ids_.begin(), byte_ids_.end(), [](TokenId t) { return t != kNoToken; }));
  if (spec_.byte_fallback && n_bytes != 256) {
    std::size_t missing = 0;
    while (byte_ids_[missing] != kNoToken) ++missing;
    throw TokenizerError(where + "byte fallback is claimed but only " + std::to_string(n_bytes) +
                         " of the 256 byte pieces exist (first missing: " +
                         byte_piece(static_cast<std::uint8_t>(missing)) +
                         "); add them or set byte_fallback = false");
  }
  if (!spec_.byte_fallback && n_bytes != 0) {
    throw TokenizerError(where + std::to_string(n_bytes) +
                         " byte pieces exist but byte_fallback is false; set it to true "
                         "(with all 256 byte pieces) or drop them");
  }
  std::stable_sort(user_defined_.begin(), user_defined_.end(), [&](TokenId a, TokenId b) {
    return spec_.pieces[a].size() > spec_.pieces[b].size();
  });
}

void SpmVocab::check_id(TokenId id) const {
  if (id < 0 || id >= size()) {
    throw TokenizerError("SpmVocab: token id " + std::to_string(id) + " is out of range [0, " +
                         std::to_string(size()) + ")");
  }
}

const std::string& SpmVocab::piece(TokenId id) const {
  check_id(id);
  return spec_.pieces[static_cast<std::size_t>(id)];
}

float SpmVocab::score(TokenId id) const {
  check_id(id);
  return spec_.scores[static_cast<std::size_t>(id)];
}

TokenType SpmVocab::type(TokenId id) const {
  check_id(id);
  return spec_.types[static_cast<std::size_t>(id)];
}

std::optional<TokenId> SpmVocab::find(std::string_view piece) const {
  const auto it = all_.find(piece);
  if (it == all_.end()) return std::nullopt;
  return it->second;
}

std::optional<TokenId> SpmVocab::find_mergeable(std::string_view piece) const {
  const auto it = mergeable_.find(piece);
  if (it == mergeable_.end()) return std::nullopt;
  return it->second;
}

std::optional<TokenId> SpmVocab::byte_token(std::uint8_t b) const noexcept {
  if (byte_ids_[b] == kNoToken) return std::nullopt;
  return byte_ids_[b];
}

std::uint8_t SpmVocab::byte_value(TokenId id) const {
  check_id(id);
  if (spec_.types[static_cast<std::size_t>(id)] != TokenType::byte) {
    throw TokenizerError("SpmVocab: " + describe(id, spec_.pieces[id]) + " is not a byte piece");
  }
  return *parse_byte_piece(spec_.pieces[static_cast<std::size_t>(id)]);
}

}  // namespace fedlora::lora
