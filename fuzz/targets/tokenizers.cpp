// Fuzz bodies of the byte-level BPE encoder (a fixed vocabulary with merges) and the
// SentencePiece .model reader.
#include <string>
#include <vector>

#include "fuzz/targets/bpe_fixture.h"
#include "fuzz/targets/fuzz_targets.h"
#include "fuzz/targets/fuzz_util.h"
#include "lora/tokenizer/bpe_tokenizer.h"
#include "lora/tokenizer/spm_model_file.h"
#include "lora/tokenizer/spm_tokenizer.h"
#include "lora/tokenizer/tokenizer_error.h"
#include "lora/tokenizer/unicode_ranges.h"

namespace fedlora::fuzz {

// GPT-2 bytes_to_unicode: printable bytes stand for themselves, the others for 256 + n.
std::string gpt2_stand_in(int b) {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int n = 0;
    for (int c = 0; c < 256; ++c) {
      const bool printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
      lora::unicode::append_utf8(t[c], printable ? static_cast<char32_t>(c) : static_cast<char32_t>(256 + n++));
    }
    return t;
  }();
  return table[static_cast<std::size_t>(b)];
}

lora::BpeVocab fuzz_bpe_vocab(const char* pre) {
  const auto stand_in = gpt2_stand_in;
  lora::BpeVocab v;
  v.pre = pre;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(stand_in(b));
  const std::string sp = stand_in(' '), nl = stand_in('\n');
  const std::vector<std::pair<std::string, std::string>> merges = {
      {sp, "t"}, {"h", "e"}, {sp + "t", "he"}, {"i", "n"}, {"e", "r"}, {sp, "a"}, {"o", "u"}, {sp, "s"},
      {"r", "e"}, {"in", "g"}, {sp, "w"}, {"o", "n"}, {sp + "t", "h"}, {nl, nl}, {sp, sp},
      {stand_in(0xC3), stand_in(0xA9)},                               // é
      {stand_in(0xE2), stand_in(0x96)}, {stand_in(0xE2) + stand_in(0x96), stand_in(0x81)},  // ▁
      {"1", "2"}, {"12", "3"}, {"'", "s"}, {sp + "the", "e"}};
  for (const auto& [l, r] : merges) {
    v.merges.push_back(l + " " + r);
    v.tokens.push_back(l + r);
  }
  v.types.assign(v.tokens.size(), 1);
  v.tokens.push_back("<|user|>");
  v.types.push_back(4);
  v.tokens.push_back("<|bos|>");
  v.types.push_back(3);
  v.tokens.push_back("<|eos|>");
  v.types.push_back(3);
  v.bos_id = static_cast<std::uint32_t>(v.tokens.size() - 2);
  v.eos_id = static_cast<std::uint32_t>(v.tokens.size() - 1);
  return v;
}

void bpe_tokenizer(const std::uint8_t* data, std::size_t size) {
  static const lora::BpeTokenizer toks[] = {lora::BpeTokenizer(fuzz_bpe_vocab("smollm")),
                                            lora::BpeTokenizer(fuzz_bpe_vocab("llama-bpe")),
                                            lora::BpeTokenizer(fuzz_bpe_vocab("qwen2"))};
  if (size < 1) return;
  const auto& tok = toks[data[0] % 3];
  const bool bos = data[0] & 4, eos = data[0] & 8;
  const auto text = as_text(data + 1, size - 1);
  // Never throws for any bytes (bpe_tokenizer.h): an exception here is a finding.
  const auto ids = tok.encode(text, bos, eos);
  const auto n = static_cast<lora::TokenId>(tok.vocab().tokens.size());
  for (auto id : ids)
    if (id < 0 || id >= n) fail("BPE encode produced an id outside the vocabulary");
  if (bos && (ids.empty() || ids.front() != static_cast<lora::TokenId>(*tok.vocab().bos_id))) fail("BPE encode lost BOS");
  if (eos && (ids.empty() || ids.back() != static_cast<lora::TokenId>(*tok.vocab().eos_id))) fail("BPE encode lost EOS");
  // Byte-level BPE is lossless: every byte has a token, control tokens decode to "".
  if (tok.decode(ids) != text) fail("BPE decode(encode(text)) != text");
  // Any ids in range decode; an id out of range is a TokenizerError.
  std::vector<lora::TokenId> any;
  for (std::size_t i = 1; i + 1 < size; i += 2) any.push_back(static_cast<lora::TokenId>((data[i] | (data[i + 1] << 8)) % n));
  (void)tok.decode(any);
  any.push_back(n);
  try {
    (void)tok.decode(any);
    fail("BPE decode accepted an id out of range");
  } catch (const lora::TokenizerError&) {
  }
}

void spm_model(const std::uint8_t* data, std::size_t size) {
  std::optional<lora::SpmTokenizer> tok;
  try {
    tok.emplace(lora::parse_spm_model(as_text(data, size), "fuzz.model"));
  } catch (const lora::TokenizerError&) {
    return;  // the documented error; anything else escapes and is a finding
  }
  // A model that parses must encode anything; with byte fallback it is lossless.
  for (const char* text : {"Hello world", "  two  spaces\tand a tab", "caf\xC3\xA9 \xF0\x9F\x98\x80 \xE6\x97\xA5",
                           "bad \xFF\xC3 bytes", ""}) {
    const auto ids = tok->encode(text);
    for (auto id : ids)
      if (id < 0 || id >= tok->vocab().size()) fail("SPM encode produced an id outside the vocabulary");
    const auto back = tok->decode(ids);
    if (tok->vocab().byte_fallback() && back != text) fail("SPM decode(encode(text)) != text with byte fallback");
  }
  expect_clean([&] { (void)tok->encode_lines("line one\nline two\n"); });
}

}  // namespace fedlora::fuzz
