#include "lora/tokenizer/gguf_vocab.h"

#include <cstdint>
#include <string>
#include <vector>

#include "lora/tokenizer/tokenizer_error.h"

namespace fedlora::lora {

namespace k = gguf_keys;

void write_gguf_vocab(const SpmVocab& vocab, gguf::GgufWriter& writer) {
  if (vocab.bos_id() == kNoToken || vocab.eos_id() == kNoToken) {
    throw TokenizerError(
        "write_gguf_vocab: the vocabulary has no BOS or no EOS token, which a GGUF 'llama' "
        "tokenizer cannot express (llama.cpp would use ids 1 and 2); add <s> and </s>");
  }
  std::vector<std::int32_t> types;
  types.reserve(vocab.types().size());
  for (const TokenType t : vocab.types()) types.push_back(static_cast<std::int32_t>(t));

  writer.set(std::string(k::kModel), std::string(k::kSpmModelName));
  writer.set(std::string(k::kPre), std::string("default"));
  writer.set(std::string(k::kTokens), gguf::Array(vocab.pieces()));
  writer.set(std::string(k::kScores), gguf::Array(vocab.scores()));
  writer.set(std::string(k::kTokenType), gguf::Array(std::move(types)));
  writer.set(std::string(k::kUnkId), static_cast<std::uint32_t>(vocab.unk_id()));
  writer.set(std::string(k::kBosId), static_cast<std::uint32_t>(vocab.bos_id()));
  writer.set(std::string(k::kEosId), static_cast<std::uint32_t>(vocab.eos_id()));
  if (vocab.pad_id() != kNoToken) writer.set(std::string(k::kPadId), static_cast<std::uint32_t>(vocab.pad_id()));
  writer.set(std::string(k::kAddBos), vocab.add_bos());
  writer.set(std::string(k::kAddEos), vocab.add_eos());
  writer.set(std::string(k::kAddSpacePrefix), vocab.add_dummy_prefix());
}

SpmVocab read_gguf_vocab(const gguf::GgufFile& file) {
  const std::string where = "GGUF vocabulary in " + file.source() + ": ";
  const auto model = file.find_string(k::kModel);
  if (!model) {
    throw TokenizerError(where + "key " + std::string(k::kModel) +
                         " is missing; the file has no tokenizer");
  }
  if (*model != k::kSpmModelName) {
    throw TokenizerError(where + std::string(k::kModel) + " is '" + *model +
                         "', but only SentencePiece vocabularies ('llama') are implemented");
  }
  const auto require = [&](std::string_view key) {
    if (file.find(key) == nullptr) {
      throw TokenizerError(where + "key " + std::string(key) + " is missing");
    }
  };
  require(k::kTokens);
  require(k::kScores);
  require(k::kTokenType);
  if (file.find_bool(k::kRemoveExtraWhitespaces).value_or(false)) {
    throw TokenizerError(where + std::string(k::kRemoveExtraWhitespaces) +
                         " is true, which is not implemented");
  }

  SpmVocabSpec spec;
  spec.pieces = file.get_string_array(k::kTokens);
  spec.scores = file.get_f32_array(k::kScores);
  const auto& raw_types = file.get_i32_array(k::kTokenType);
  spec.types.reserve(raw_types.size());
  bool has_bytes = false;
  for (std::size_t i = 0; i < raw_types.size(); ++i) {
    spec.types.push_back(token_type_from_id(
        raw_types[i], where + std::string(k::kTokenType) + "[" + std::to_string(i) + "]"));
    has_bytes = has_bytes || spec.types.back() == TokenType::byte;
  }
  const auto id = [&](std::string_view key, TokenId fallback) -> TokenId {
    const auto v = file.find_u32(key);
    if (!v) return fallback;
    if (*v >= spec.pieces.size()) {
      throw TokenizerError(where + std::string(key) + " = " + std::to_string(*v) +
                           " is not a token id (the vocabulary has " +
                           std::to_string(spec.pieces.size()) + " tokens)");
    }
    return static_cast<TokenId>(*v);
  };
  spec.unk_id = id(k::kUnkId, 0);
  spec.bos_id = id(k::kBosId, 1);
  spec.eos_id = id(k::kEosId, 2);
  spec.pad_id = id(k::kPadId, kNoToken);
  spec.byte_fallback = has_bytes;
  spec.add_bos = file.find_bool(k::kAddBos).value_or(true);
  spec.add_eos = file.find_bool(k::kAddEos).value_or(false);
  spec.add_dummy_prefix = file.find_bool(k::kAddSpacePrefix).value_or(true);
  try {
    return SpmVocab(std::move(spec));
  } catch (const TokenizerError& e) {
    throw TokenizerError(where + e.what());
  }
}

}  // namespace fedlora::lora
