#include "lora/tokenizer/bpe_tokenizer.h"

#include <climits>

#include "lora/tokenizer/tokenizer_error.h"
#include "lora/tokenizer/unicode_ranges.h"

namespace fedlora::lora {
namespace {

using unicode::Char;

enum Kind { kLetter, kNumber, kSpace, kOther };

struct Text {
  std::vector<Char> c;
  std::vector<Kind> k;
  explicit Text(std::string_view s) : c(unicode::decode(s)) {
    k.reserve(c.size());
    for (const auto& ch : c)
      k.push_back(ch.cp == unicode::kInvalid       ? kOther
                  : unicode::is_letter(ch.cp)      ? kLetter
                  : unicode::is_number(ch.cp)      ? kNumber
                  : unicode::is_whitespace(ch.cp)  ? kSpace
                                                   : kOther);
  }
  size_t n() const { return c.size(); }
  char32_t cp(size_t i) const { return i < c.size() ? c[i].cp : 0; }
  bool is(size_t i, Kind kind) const { return i < c.size() && k[i] == kind; }
  size_t run(size_t i, Kind kind) const {
    while (is(i, kind)) ++i;
    return i;
  }
};

char32_t lower(char32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// Length of a contraction ('s 't 're 've 'm 'll 'd) at i, or 0.
size_t contraction(const Text& t, size_t i, bool any_case) {
  if (t.cp(i) != '\'' || i + 1 >= t.n()) return 0;
  auto f = [&](size_t j) { return any_case ? lower(t.cp(j)) : t.cp(j); };
  const char32_t a = f(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 < t.n()) {
    const char32_t b = f(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

// \s+(?!\S) | \s+ at a whitespace character i: the run, minus its last character when a
// non-space follows and the run is longer than one.
size_t whitespace_tail(const Text& t, size_t i) {
  const size_t e = t.run(i, kSpace);
  if (e == t.n() || e - i == 1) return e;
  return e - 1;
}

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t gpt2_match(const Text& t, size_t i) {
  if (size_t c = contraction(t, i, false)) return i + c;
  const size_t j = t.cp(i) == ' ' && i + 1 < t.n() && !t.is(i + 1, kSpace) ? i + 1 : i;
  if (t.is(j, kLetter)) return t.run(j, kLetter);
  if (t.is(j, kNumber)) return t.run(j, kNumber);
  if (t.is(j, kOther)) return t.run(j, kOther);
  return whitespace_tail(t, i);
}

bool is_crlf(char32_t c) { return c == '\r' || c == '\n'; }

// Llama-3 / Qwen2 (max_digits 3 / 1).
size_t llama3_match(const Text& t, size_t i, size_t max_digits) {
  if (size_t c = contraction(t, i, true)) return i + c;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (t.is(i, kLetter)) return t.run(i, kLetter);
  if (!is_crlf(t.cp(i)) && !t.is(i, kNumber) && t.is(i + 1, kLetter)) return t.run(i + 1, kLetter);
  // \p{N}{1,max}
  if (t.is(i, kNumber)) {
    size_t e = i;
    while (e - i < max_digits && t.is(e, kNumber)) ++e;
    return e;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  const size_t j = t.cp(i) == ' ' && t.is(i + 1, kOther) ? i + 1 : i;
  if (t.is(j, kOther)) {
    size_t e = t.run(j, kOther);
    while (e < t.n() && is_crlf(t.cp(e))) ++e;
    return e;
  }
  // \s*[\r\n]+ : up to and including the last \r or \n of the whitespace run.
  const size_t e = t.run(i, kSpace);
  for (size_t k = e; k > i; --k)
    if (is_crlf(t.cp(k - 1))) return k;
  return whitespace_tail(t, i);
}

void split(const Text& t, size_t begin, size_t end, size_t (*match)(const Text&, size_t, size_t), size_t arg,
           std::string_view src, std::vector<std::string>& out) {
  // Each alternative is matched on the sub-range [begin, end) only (a sub-Text view).
  std::string_view sub = src.substr(t.c[begin].begin, t.c[end - 1].end - t.c[begin].begin);
  Text s(sub);
  size_t i = 0;
  while (i < s.n()) {
    size_t e = match(s, i, arg);
    if (e <= i) e = i + 1;  // defensive: always progress
    out.emplace_back(sub.substr(s.c[i].begin, s.c[e - 1].end - s.c[i].begin));
    i = e;
  }
}

std::vector<std::string> bytes_to_unicode() {
  std::vector<std::string> m(256);
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    unicode::append_utf8(m[b], printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++));
  }
  return m;
}

}  // namespace

std::vector<std::string> BpeTokenizer::pre_tokenize(std::string_view pre, std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) {
    if (pre != "smollm" && pre != "llama-bpe" && pre != "qwen2")
      throw TokenizerError("unknown BPE pre-tokenizer '" + std::string(pre) + "'");
    return out;
  }
  const Text t(text);
  if (pre == "smollm") {
    size_t i = 0;
    while (i < t.n()) {  // \p{N} isolates each digit; the rest goes through GPT-2's regex
      if (t.is(i, kNumber)) {
        out.emplace_back(text.substr(t.c[i].begin, t.c[i].end - t.c[i].begin));
        ++i;
        continue;
      }
      size_t e = i;
      while (e < t.n() && !t.is(e, kNumber)) ++e;
      split(t, i, e, [](const Text& s, size_t k, size_t) { return gpt2_match(s, k); }, 0, text, out);
      i = e;
    }
  } else if (pre == "llama-bpe" || pre == "qwen2") {
    split(t, 0, t.n(), [](const Text& s, size_t k, size_t d) { return llama3_match(s, k, d); },
          pre == "qwen2" ? 1 : 3, text, out);
  } else {
    throw TokenizerError("unknown BPE pre-tokenizer '" + std::string(pre) +
                         "' (implemented: smollm, llama-bpe, qwen2)");
  }
  return out;
}

BpeTokenizer::BpeTokenizer(BpeVocab vocab) : vocab_(std::move(vocab)) {
  if (vocab_.pre != "smollm" && vocab_.pre != "llama-bpe" && vocab_.pre != "qwen2")
    throw TokenizerError("BPE pre-tokenizer '" + vocab_.pre + "' is not implemented (smollm, llama-bpe, qwen2)");
  if (vocab_.types.size() != vocab_.tokens.size())
    throw TokenizerError("BPE vocabulary: token_type and tokens differ in length");
  if (vocab_.tokens.size() > static_cast<size_t>(INT32_MAX)) throw TokenizerError("BPE vocabulary too large");
  ignore_merges_ = vocab_.pre == "llama-bpe";
  for (size_t i = 0; i < vocab_.tokens.size(); ++i)
    if (vocab_.types[i] == 1 || vocab_.types[i] == 4) ids_.emplace(vocab_.tokens[i], static_cast<TokenId>(i));
  for (size_t r = 0; r < vocab_.merges.size(); ++r) ranks_.emplace(vocab_.merges[r], static_cast<int>(r));
  byte_char_ = bytes_to_unicode();
  for (int b = 0; b < 256; ++b) {
    if (!ids_.count(byte_char_[b]))
      throw TokenizerError("BPE vocabulary has no token for byte " + std::to_string(b) + " ('" + byte_char_[b] +
                           "'); a byte-level vocabulary needs all 256");
    char_byte_[unicode::decode(byte_char_[b]).front().cp] = static_cast<unsigned char>(b);
  }
}

void BpeTokenizer::bpe(const std::string& mapped, std::vector<TokenId>& out) const {
  if (ignore_merges_) {
    if (auto it = ids_.find(mapped); it != ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<std::string> sym;
  for (const auto& c : unicode::decode(mapped)) sym.push_back(mapped.substr(c.begin, c.end - c.begin));
  while (sym.size() > 1) {
    int best = INT_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = ranks_.find(sym[i] + " " + sym[i + 1]);
      if (it != ranks_.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == INT_MAX) break;
    sym[at] += sym[at + 1];
    sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  for (const auto& s : sym) {
    if (auto it = ids_.find(s); it != ids_.end()) {
      out.push_back(it->second);
    } else {  // a merge result missing from the vocabulary: fall back to its byte stand-ins
      for (const auto& c : unicode::decode(s)) out.push_back(ids_.at(s.substr(c.begin, c.end - c.begin)));
    }
  }
}

std::vector<TokenId> BpeTokenizer::encode(std::string_view text, bool add_bos, bool add_eos) const {
  std::vector<TokenId> out;
  if (add_bos) {
    if (!vocab_.bos_id) throw TokenizerError("BPE vocabulary has no BOS token");
    out.push_back(static_cast<TokenId>(*vocab_.bos_id));
  }
  for (const auto& piece : pre_tokenize(vocab_.pre, text)) {
    std::string mapped;
    for (unsigned char b : piece) mapped += byte_char_[b];
    bpe(mapped, out);
  }
  if (add_eos) {
    if (!vocab_.eos_id) throw TokenizerError("BPE vocabulary has no EOS token");
    out.push_back(static_cast<TokenId>(*vocab_.eos_id));
  }
  return out;
}

std::string BpeTokenizer::decode(std::span<const TokenId> ids) const {
  std::string out;
  for (TokenId id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= vocab_.tokens.size())
      throw TokenizerError("token id " + std::to_string(id) + " is out of range");
    const auto& tok = vocab_.tokens[static_cast<size_t>(id)];
    const int32_t type = vocab_.types[static_cast<size_t>(id)];
    if (type == 4) {
      out += tok;
    } else if (type == 1) {
      for (const auto& c : unicode::decode(tok)) {
        auto it = char_byte_.find(c.cp);
        if (it != char_byte_.end()) out += static_cast<char>(it->second);
        else out.append(tok, c.begin, c.end - c.begin);  // not a stand-in: keep as is
      }
    }
  }
  return out;
}

}  // namespace fedlora::lora
