// Fuzz bodies of the file parsers and the tokenizer.
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz/targets/fuzz_targets.h"
#include "fuzz/targets/fuzz_util.h"
#include "lora/format/gguf_reader.h"
#include "lora/format/peft_config.h"
#include "lora/format/safetensors.h"
#include "lora/model/llama_config.h"
#include "lora/tokenizer/bpe_tokenizer.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "lora/tokenizer/hf_bpe_vocab.h"
#include "lora/tokenizer/spm_tokenizer.h"

namespace fedlora::fuzz {
namespace {

std::vector<std::byte> bytes_of(const std::uint8_t* d, std::size_t n) {
  std::vector<std::byte> b(n);
  if (n) std::memcpy(b.data(), d, n);
  return b;
}

}  // namespace

void gguf_file(const std::uint8_t* data, std::size_t size) {
  std::optional<lora::gguf::GgufFile> f;
  expect_clean([&] { f.emplace(lora::gguf::GgufFile::from_bytes(bytes_of(data, size))); });
  if (!f) return;
  for (const auto& t : f->tensors()) expect_clean([&] { (void)f->tensor_bytes(t); });
  expect_clean([&] { (void)lora::read_llama_config(*f); });
  expect_clean([&] { (void)lora::read_gguf_vocab(*f); });
  expect_clean([&] { (void)lora::read_gguf_bpe_vocab(*f); });
}

void safetensors_file(const std::uint8_t* data, std::size_t size) {
  std::optional<lora::safetensors::SafetensorsFile> f;
  expect_clean([&] { f.emplace(lora::safetensors::SafetensorsFile::from_bytes(bytes_of(data, size))); });
  if (!f) return;
  for (const auto& t : f->tensors()) expect_clean([&] { (void)f->tensor_bytes(t); });
}

void peft_config(const std::uint8_t* data, std::size_t size) {
  expect_clean([&] {
    auto c = lora::parse_peft_config(std::string_view(reinterpret_cast<const char*>(data), size));
    if (c.r <= 0 || !(c.lora_alpha > 0)) fail("parse_peft_config accepted a non-positive r or alpha");
  });
}

void spm_tokenizer(const std::uint8_t* data, std::size_t size) {
  // The committed base's vocabulary: 4,096 SentencePiece-BPE pieces with byte fallback.
  static const lora::SpmTokenizer tok = [] {
    return lora::SpmTokenizer(lora::read_gguf_vocab(lora::gguf::GgufFile::open("models/base.gguf")));
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<lora::TokenId> ids;
  expect_clean([&] { ids = tok.encode(text); });
  expect_clean([&] { (void)tok.encode_lines(text, lora::EncodeOptions{.add_bos = true, .add_eos = true}); });
  for (auto id : ids)
    if (id < 0 || id >= tok.vocab().size()) fail("encode produced an id outside the vocabulary");
  // Identity normalisation and byte fallback make encoding lossless for any bytes
  // (spm_tokenizer.h), except that a literal U+2581 in the text is SentencePiece's space
  // symbol and decodes as a space, as in SentencePiece itself.
  std::string expected;
  for (std::size_t p = 0; p < text.size();) {
    if (text.substr(p, 3) == "\xE2\x96\x81") {
      expected += ' ';
      p += 3;
    } else {
      expected += text[p++];
    }
  }
  if (tok.decode(ids) != expected) fail("decode(encode(text)) != text (with U+2581 read as a space)");
  // Any ids (in range) decode without crashing.
  std::vector<lora::TokenId> any;
  for (std::size_t i = 0; i + 1 < size; i += 2)
    any.push_back(static_cast<lora::TokenId>((data[i] | (data[i + 1] << 8)) % tok.vocab().size()));
  expect_clean([&] { (void)tok.decode(any); });
}

void bpe_pretokenizer(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const char* pre : {"smollm", "llama-bpe", "qwen2"}) {
    std::string joined;
    for (const auto& p : lora::BpeTokenizer::pre_tokenize(pre, text)) {
      if (p.empty()) fail("pre_tokenize produced an empty piece");
      joined += p;
    }
    if (joined != text) fail("pre_tokenize pieces do not concatenate to the input");
  }
}

}  // namespace fedlora::fuzz
