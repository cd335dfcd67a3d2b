#pragma once
// SentencePiece vocabulary: pieces, scores and token types, validated once on construction.
//
// The token types are llama.cpp's GGUF token type ids (`tokenizer.ggml.token_type`), which
// are SentencePiece's ModelProto.SentencePiece.Type values (sentencepiece_model.proto).
// Reference: T. Kudo and J. Richardson, "SentencePiece: A simple and language independent
// subword tokenizer and detokenizer for Neural Text Processing", EMNLP 2018 (demo track).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fedlora::lora {

/// Token id, the type llama.cpp uses (`llama_token` is int32_t).
using TokenId = std::int32_t;
/// "No such token" for optional special ids (bos/eos/pad), as in llama.cpp (LLAMA_TOKEN_NULL).
inline constexpr TokenId kNoToken = -1;

/// Token type ids, identical in llama.cpp (`llama_token_type`) and SentencePiece.
enum class TokenType : std::int32_t {
  normal = 1,        ///< ordinary piece; can be produced by BPE merges
  unknown = 2,       ///< the <unk> piece
  control = 3,       ///< <s>, </s>, <pad>, ...; never produced from text, decodes to ""
  user_defined = 4,  ///< always segmented as one piece wherever its text occurs
  unused = 5,        ///< may be merged into, but is then split back into its parts
  byte = 6,          ///< <0xXX> byte-fallback piece
};

/// Name of a token type ("normal", "byte", ...), for messages.
std::string_view token_type_name(TokenType type) noexcept;
/// Converts a raw type id (e.g. from GGUF, where it is an int32) to TokenType.
/// Throws TokenizerError naming `where` for ids outside 1..6 (llama.cpp's 0 "undefined" is
/// not a valid SentencePiece type).
TokenType token_type_from_id(std::int32_t id, std::string_view where);

/// Unvalidated description of a vocabulary; pass it to SpmVocab to validate it.
/// `pieces[i]`, `scores[i]`, `types[i]` describe token id i.
struct SpmVocabSpec {
  std::vector<std::string> pieces;  ///< UTF-8 piece text, U+2581 "▁" standing for a space
  std::vector<float> scores;        ///< BPE merge priority: higher merges first
  std::vector<TokenType> types;
  TokenId unk_id = 0;           ///< required; must be the one token of type unknown
  TokenId bos_id = 1;           ///< kNoToken if absent
  TokenId eos_id = 2;           ///< kNoToken if absent
  TokenId pad_id = kNoToken;    ///< kNoToken if absent
  /// True if the model decomposes unknown characters into <0xXX> pieces; then all 256 byte
  /// pieces must be present, otherwise none may be (SentencePiece enforces the same).
  bool byte_fallback = true;
  /// Normaliser: prepend "▁" to every non-empty input (SentencePiece `add_dummy_prefix`,
  /// GGUF `tokenizer.ggml.add_space_prefix`).
  bool add_dummy_prefix = true;
  bool add_bos = true;   ///< GGUF `tokenizer.ggml.add_bos_token`: callers should prepend BOS
  bool add_eos = false;  ///< GGUF `tokenizer.ggml.add_eos_token`: callers should append EOS
};

/// An immutable, validated SentencePiece vocabulary.
///
/// Validation (each failure throws TokenizerError with the offending id and piece):
/// - pieces, scores and types have the same length, 1 ≤ size ≤ INT32_MAX;
/// - no piece is empty, no two pieces are equal, no score is NaN;
/// - types are 1..6; exactly one token has type unknown and unk_id is that token;
/// - bos/eos/pad ids are kNoToken or in range (they may coincide: GGUF files often set
///   pad = unk or pad = eos);
/// - byte pieces are spelled "<0xXX>" (hex, either case), each byte value at most once;
///   byte_fallback ⇒ all 256 present, !byte_fallback ⇒ none present.
class SpmVocab {
 public:
  /// Validates `spec`; throws TokenizerError on the first violation found.
  explicit SpmVocab(SpmVocabSpec spec);

  /// Number of tokens.
  TokenId size() const noexcept { return static_cast<TokenId>(spec_.pieces.size()); }
  /// Piece text of token `id`; throws TokenizerError if id is out of range.
  const std::string& piece(TokenId id) const;
  float score(TokenId id) const;
  TokenType type(TokenId id) const;

  const std::vector<std::string>& pieces() const noexcept { return spec_.pieces; }
  const std::vector<float>& scores() const noexcept { return spec_.scores; }
  const std::vector<TokenType>& types() const noexcept { return spec_.types; }

  TokenId unk_id() const noexcept { return spec_.unk_id; }
  TokenId bos_id() const noexcept { return spec_.bos_id; }
  TokenId eos_id() const noexcept { return spec_.eos_id; }
  TokenId pad_id() const noexcept { return spec_.pad_id; }
  bool byte_fallback() const noexcept { return spec_.byte_fallback; }
  bool add_dummy_prefix() const noexcept { return spec_.add_dummy_prefix; }
  bool add_bos() const noexcept { return spec_.add_bos; }
  bool add_eos() const noexcept { return spec_.add_eos; }
  const SpmVocabSpec& spec() const noexcept { return spec_; }

  /// Id of the piece with exactly this text (any type), or nullopt.
  std::optional<TokenId> find(std::string_view piece) const;
  /// Id of a piece that BPE may produce from text, i.e. of type normal, user_defined or
  /// unused (SentencePiece's `pieces_` map; control, unknown and byte pieces are reserved and
  /// never matched against text). nullopt if there is none.
  std::optional<TokenId> find_mergeable(std::string_view piece) const;
  /// Id of the <0xXX> piece for byte `b`, or nullopt without byte fallback.
  std::optional<TokenId> byte_token(std::uint8_t b) const noexcept;
  /// The byte that byte piece `id` stands for; throws TokenizerError if `id` is not a byte piece.
  std::uint8_t byte_value(TokenId id) const;
  /// User-defined pieces, longest first (the encoder matches them before BPE).
  const std::vector<TokenId>& user_defined_longest_first() const noexcept { return user_defined_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using PieceMap = std::unordered_map<std::string, TokenId, Hash, std::equal_to<>>;

  void check_id(TokenId id) const;

  SpmVocabSpec spec_;
  PieceMap all_;
  PieceMap mergeable_;
  std::array<TokenId, 256> byte_ids_{};
  std::vector<TokenId> user_defined_;
};

/// Parses a byte-fallback piece "<0xXX>" (two hex digits, either case); nullopt otherwise.
std::optional<std::uint8_t> parse_byte_piece(std::string_view piece) noexcept;
/// The canonical byte piece for `b`: "<0x%02X>", as SentencePiece's ByteToPiece writes it.
std::string byte_piece(std::uint8_t b);

}  // namespace fedlora::lora
