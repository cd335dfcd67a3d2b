#include "lora/tokenizer/spm_tokenizer.h"

#include <cstddef>
#include <queue>
#include <unordered_map>
#include <utility>

#include "lora/tokenizer/tokenizer_error.h"
#include "lora/tokenizer/utf8.h"

namespace fedlora::lora {

namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";     // U+2581 LOWER ONE EIGHTH BLOCK
constexpr std::string_view kUnkSurface = " \xE2\x81\x87 ";   // " ⁇ ", SentencePiece's default

// One symbol of the working segmentation: a slice [begin, begin+len) of the normalised text
// in a doubly linked list. A symbol merged into its left neighbour gets len 0.
struct Symbol {
  std::ptrdiff_t prev;
  std::ptrdiff_t next;
  std::size_t begin;
  std::size_t len;
  bool frozen;  // user-defined piece: never merged
};

// A candidate merge of two adjacent symbols. `size` detects stale entries: if either side
// changed since the push, their lengths no longer add up to it.
struct Bigram {
  std::ptrdiff_t left;
  std::ptrdiff_t right;
  float score;
  std::size_t size;
};

// Max-heap order: higher score first, on ties the leftmost pair (SentencePiece's
// SymbolPairComparator and llama.cpp's llm_bigram_spm::comparator).
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const noexcept {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

struct ViewHash {
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

}  // namespace

SpmTokenizer::SpmTokenizer(SpmVocab vocab) : vocab_(std::move(vocab)) {
  if (const auto b = vocab_.byte_token('\n')) {
    newline_id_ = *b;
  } else if (const auto p = vocab_.find_mergeable("\n")) {
    newline_id_ = *p;
  }
  for (const TokenId id : vocab_.user_defined_longest_first()) {
    const auto first = static_cast<std::uint8_t>(vocab_.pieces()[static_cast<std::size_t>(id)][0]);
    user_defined_by_first_byte_[first].push_back(id);
  }
}

void SpmTokenizer::encode_sentence(std::string_view text, std::vector<TokenId>& out) const {
  if (text.empty()) return;  // SentencePiece's normaliser adds no dummy prefix to ""

  // 1. Normalise (identity rule): dummy prefix, spaces escaped as U+2581.
  std::string norm;
  norm.reserve(text.size() + kSpaceSymbol.size() + 16);
  if (vocab_.add_dummy_prefix()) norm += kSpaceSymbol;
  for (const char c : text) {
    if (c == ' ') {
      norm += kSpaceSymbol;
    } else {
      norm += c;
    }
  }

  // 2. Split into symbols: user-defined pieces (longest first), else one UTF-8 character,
  //    else one invalid byte.
  const auto& pieces = vocab_.pieces();
  std::vector<Symbol> sym;
  sym.reserve(norm.size());
  for (std::size_t pos = 0; pos < norm.size();) {
    std::size_t len = 0;
    bool frozen = false;
    for (const TokenId id : user_defined_by_first_byte_[static_cast<std::uint8_t>(norm[pos])]) {
      const std::string& p = pieces[static_cast<std::size_t>(id)];
      if (norm.compare(pos, p.size(), p) == 0) {
        len = p.size();
        frozen = true;
        break;
      }
    }
    if (len == 0) len = utf8::valid_sequence_length(norm, pos);
    if (len == 0) len = 1;
    const auto index = static_cast<std::ptrdiff_t>(sym.size());
    sym.push_back({index - 1, pos + len < norm.size() ? index + 1 : -1, pos, len, frozen});
    pos += len;
  }

  const auto text_of = [&](std::ptrdiff_t i) {
    return std::string_view(norm).substr(sym[static_cast<std::size_t>(i)].begin,
                                         sym[static_cast<std::size_t>(i)].len);
  };

  // 3. Greedy merges by score through a priority queue.
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> agenda;
  // For unused pieces only: merged text -> the two texts it was merged from.
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>, ViewHash>
      rev_merge;
  const auto try_add = [&](std::ptrdiff_t left, std::ptrdiff_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = sym[static_cast<std::size_t>(left)];
    const Symbol& r = sym[static_cast<std::size_t>(right)];
    if (l.frozen || r.frozen) return;
    const std::string_view merged = std::string_view(norm).substr(l.begin, l.len + r.len);
    const auto id = vocab_.find_mergeable(merged);
    if (!id) return;
    agenda.push({left, right, vocab_.scores()[static_cast<std::size_t>(*id)], merged.size()});
    if (vocab_.types()[static_cast<std::size_t>(*id)] == TokenType::unused) {
      rev_merge[merged] = {text_of(left), text_of(right)};
    }
  };
  for (std::size_t i = 1; i < sym.size(); ++i) {
    try_add(static_cast<std::ptrdiff_t>(i - 1), static_cast<std::ptrdiff_t>(i));
  }
  while (!agenda.empty()) {
    const Bigram top = agenda.top();
    agenda.pop();
    Symbol& l = sym[static_cast<std::size_t>(top.left)];
    Symbol& r = sym[static_cast<std::size_t>(top.right)];
    if (l.len == 0 || r.len == 0 || l.len + r.len != top.size) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<std::size_t>(r.next)].prev = top.left;
    try_add(l.prev, top.left);
    try_add(top.left, l.next);
  }

  // 4./5. Emit: split unused pieces back, byte-fallback (or unk) for non-pieces.
  bool previous_was_unk = false;
  std::vector<std::string_view> stack;
  for (std::ptrdiff_t i = 0; i != -1; i = sym[static_cast<std::size_t>(i)].next) {
    stack.push_back(text_of(i));
    while (!stack.empty()) {
      const std::string_view w = stack.back();
      stack.pop_back();
      const auto id = vocab_.find_mergeable(w);
      if (id && vocab_.types()[static_cast<std::size_t>(*id)] == TokenType::unused) {
        const auto it = rev_merge.find(w);
        if (it != rev_merge.end()) {
          stack.push_back(it->second.second);
          stack.push_back(it->second.first);
          continue;
        }
      }
      if (id) {
        out.push_back(*id);
        previous_was_unk = false;
      } else if (vocab_.byte_fallback()) {
        for (const char c : w) out.push_back(*vocab_.byte_token(static_cast<std::uint8_t>(c)));
        previous_was_unk = false;
      } else if (!previous_was_unk) {
        out.push_back(vocab_.unk_id());
        previous_was_unk = true;
      }
    }
  }
}

std::vector<TokenId> SpmTokenizer::encode(std::string_view text, EncodeOptions options) const {
  std::vector<TokenId> out;
  if (options.add_bos) {
    if (vocab_.bos_id() == kNoToken) {
      throw TokenizerError("SpmTokenizer::encode: add_bos requested but the vocabulary has no BOS token");
    }
    out.push_back(vocab_.bos_id());
  }
  encode_sentence(text, out);
  if (options.add_eos) {
    if (vocab_.eos_id() == kNoToken) {
      throw TokenizerError("SpmTokenizer::encode: add_eos requested but the vocabulary has no EOS token");
    }
    out.push_back(vocab_.eos_id());
  }
  return out;
}

TokenId SpmTokenizer::require_newline(const char* where) const {
  if (!newline_id_) {
    throw TokenizerError(std::string(where) +
                         ": the vocabulary has no newline token (neither the byte piece "
                         "<0x0A> nor a piece \"\\n\"); train it with byte_fallback");
  }
  return *newline_id_;
}

std::vector<TokenId> SpmTokenizer::encode_lines(std::string_view text, EncodeOptions options) const {
  const TokenId newline = require_newline("SpmTokenizer::encode_lines");
  std::vector<TokenId> out = encode({}, {options.add_bos, false});
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find('\n', start);
    encode_sentence(text.substr(start, end == std::string_view::npos ? end : end - start), out);
    if (end == std::string_view::npos) break;
    out.push_back(newline);
    start = end + 1;
  }
  if (options.add_eos) {
    const auto eos = encode({}, {false, true});
    out.insert(out.end(), eos.begin(), eos.end());
  }
  return out;
}

std::string SpmTokenizer::decode(const std::vector<TokenId>& ids, DecodeOptions options) const {
  std::string raw;
  for (const TokenId id : ids) {
    switch (vocab_.type(id)) {  // throws for an out-of-range id
      case TokenType::control:
        break;
      case TokenType::unknown:
        raw += kUnkSurface;
        break;
      case TokenType::byte:
        raw += static_cast<char>(vocab_.byte_value(id));
        break;
      case TokenType::normal:
      case TokenType::user_defined:
      case TokenType::unused:
        raw += vocab_.pieces()[static_cast<std::size_t>(id)];
        break;
    }
  }
  std::size_t pos = 0;
  if (options.strip_dummy_prefix && vocab_.add_dummy_prefix() && raw.starts_with(kSpaceSymbol)) {
    pos = kSpaceSymbol.size();
  }
  std::string text;
  text.reserve(raw.size());
  while (pos < raw.size()) {
    if (raw.compare(pos, kSpaceSymbol.size(), kSpaceSymbol) == 0) {
      text += ' ';
      pos += kSpaceSymbol.size();
    } else {
      text += raw[pos++];
    }
  }
  return text;
}

std::string SpmTokenizer::decode_lines(const std::vector<TokenId>& ids) const {
  const TokenId newline = require_newline("SpmTokenizer::decode_lines");
  std::string text;
  std::vector<TokenId> line;
  for (const TokenId id : ids) {
    if (id == newline) {
      text += decode(line);
      text += '\n';
      line.clear();
    } else {
      line.push_back(id);
    }
  }
  text += decode(line);
  return text;
}

}  // namespace fedlora::lora
