#include "lora/tokenizer/text_codec.h"

#include "lora/format/gguf_reader.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "lora/tokenizer/hf_bpe_vocab.h"
#include "lora/tokenizer/tokenizer_error.h"

namespace fedlora::lora {

TextCodec::TextCodec(std::variant<SpmTokenizer, BpeTokenizer> tok) : tok_(std::move(tok)) {
  if (auto* spm = std::get_if<SpmTokenizer>(&tok_))
    words_ = std::make_shared<WordVocab>(WordVocab::from_spm(spm->vocab()));
  else
    words_ = std::make_shared<WordVocab>(WordVocab::from_bpe(std::get<BpeTokenizer>(tok_)));
}

TextCodec TextCodec::from_gguf(const gguf::GgufFile& file) {
  const auto model = file.find_string("tokenizer.ggml.model").value_or("(missing)");
  if (model == "llama") return TextCodec(SpmTokenizer(read_gguf_vocab(file)));
  if (model == "gpt2") return TextCodec(BpeTokenizer(read_gguf_bpe_vocab(file)));
  throw TokenizerError("tokenizer.ggml.model is '" + model + "': only 'llama' (SentencePiece) and 'gpt2' (byte-level BPE) are supported");
}

std::vector<TokenId> TextCodec::encode_example(std::string_view text, bool add_bos, bool add_eos) const {
  if (auto* spm = std::get_if<SpmTokenizer>(&tok_))
    return spm->encode_lines(text, EncodeOptions{.add_bos = add_bos, .add_eos = add_eos});
  // Byte-level BPE spells '\n' itself ("Ċ"): the whole text is one sequence.
  return std::get<BpeTokenizer>(tok_).encode(text, add_bos, add_eos);
}

std::vector<TokenId> TextCodec::encode_prompt(std::string_view text) const {
  if (auto* spm = std::get_if<SpmTokenizer>(&tok_))
    return spm->encode(text, EncodeOptions{.add_bos = spm->vocab().bos_id() != kNoToken, .add_eos = false});
  const auto& bpe = std::get<BpeTokenizer>(tok_);
  return bpe.encode(text, bpe.vocab().bos_id.has_value(), false);
}

std::string TextCodec::decode_continuation(const std::vector<TokenId>& ids) const {
  if (auto* spm = std::get_if<SpmTokenizer>(&tok_)) return spm->decode(ids, DecodeOptions{.strip_dummy_prefix = false});
  return std::get<BpeTokenizer>(tok_).decode(ids);
}

TokenId TextCodec::eos_id() const {
  if (auto* spm = std::get_if<SpmTokenizer>(&tok_)) return spm->vocab().eos_id();
  const auto& e = std::get<BpeTokenizer>(tok_).vocab().eos_id;
  return e ? static_cast<TokenId>(*e) : kNoToken;
}

}  // namespace fedlora::lora
