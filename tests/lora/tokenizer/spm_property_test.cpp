// Randomised checks of SpmTokenizer against (a) a slow O(n²) reference BPE written from the
// definition (rescan all adjacent pairs, merge the highest score, ties to the leftmost) and
// (b) the lossless property decode(encode(x)) == x (Kudo & Richardson 2018, §3.1).

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "lora/tokenizer/spm_tokenizer.h"
#include "tests/lora/tokenizer/test_vocabs.h"

namespace fedlora::lora {
namespace {

using testing::Piece;

// Text units: each is exactly one symbol of the initial segmentation. The invalid bytes are
// chosen so that no two adjacent units can form a valid UTF-8 sequence together.
const std::vector<std::string> kUnits = {
    "a", "b", "c", " ", "é", "€", "😀", "\n", "\t", "\xFF", "\xC0", "\x80", "z",
};

std::string normalised_unit(const std::string& u) { return u == " " ? "▁" : u; }

struct RandomCase {
  SpmVocabSpec spec;
  std::map<std::string, std::pair<TokenId, float>> mergeable;  // the reference's own table
};

// A vocabulary of random concatenations of 1..4 units; scores drawn from a small set so
// that ties are frequent.
RandomCase random_vocab(std::mt19937& rng, bool byte_fallback) {
  std::vector<Piece> extra;
  std::map<std::string, int> seen;
  std::uniform_int_distribution<int> unit(0, 8);  // a b c ▁ é € 😀 \n \t
  std::uniform_int_distribution<int> len(1, 4);
  std::uniform_int_distribution<int> score(-6, 0);
  // All single characters except 'z' and the invalid bytes, so those take the fallback path.
  for (int u = 0; u <= 8; ++u) {
    extra.push_back({normalised_unit(kUnits[u]), -10.0f});
    seen[extra.back().text] = 1;
  }
  for (int i = 0; i < 40; ++i) {
    std::string p;
    const int n = len(rng) + 1;
    for (int k = 0; k < n; ++k) p += normalised_unit(kUnits[unit(rng)]);
    if (seen.count(p)) continue;
    seen[p] = 1;
    extra.push_back({p, static_cast<float>(score(rng))});
  }
  RandomCase c{testing::make_spec(extra, byte_fallback), {}};
  for (std::size_t id = 0; id < c.spec.pieces.size(); ++id) {
    if (c.spec.types[id] == TokenType::normal) {
      c.mergeable[c.spec.pieces[id]] = {static_cast<TokenId>(id), c.spec.scores[id]};
    }
  }
  return c;
}

std::vector<std::string> random_units(std::mt19937& rng, std::size_t max_len) {
  std::uniform_int_distribution<std::size_t> len(0, max_len);
  std::uniform_int_distribution<std::size_t> unit(0, kUnits.size() - 1);
  std::vector<std::string> out(len(rng));
  for (auto& u : out) u = kUnits[unit(rng)];
  return out;
}

// Slow reference BPE with byte fallback, from the definition.
std::vector<TokenId> reference_encode(const RandomCase& c, const std::vector<std::string>& units) {
  if (units.empty()) return {};
  std::vector<std::string> sym = {"▁"};
  for (const auto& u : units) sym.push_back(normalised_unit(u));
  while (true) {
    std::ptrdiff_t best = -1;
    float best_score = 0;
    for (std::size_t i = 0; i + 1 < sym.size(); ++i) {
      const auto it = c.mergeable.find(sym[i] + sym[i + 1]);
      if (it != c.mergeable.end() && (best < 0 || it->second.second > best_score)) {
        best = static_cast<std::ptrdiff_t>(i);
        best_score = it->second.second;
      }
    }
    if (best < 0) break;
    sym[best] += sym[best + 1];
    sym.erase(sym.begin() + best + 1);
  }
  std::vector<TokenId> ids;
  for (const auto& s : sym) {
    const auto it = c.mergeable.find(s);
    if (it != c.mergeable.end()) {
      ids.push_back(it->second.first);
    } else {
      for (const unsigned char b : s) ids.push_back(3 + b);  // <0xXX> ids in make_spec
    }
  }
  return ids;
}

std::string join(const std::vector<std::string>& units) {
  std::string s;
  for (const auto& u : units) s += u;
  return s;
}

TEST(SpmProperty, MatchesSlowReferenceBpe) {
  std::mt19937 rng(20240601);
  std::size_t compared = 0;
  for (int v = 0; v < 30; ++v) {
    const RandomCase c = random_vocab(rng, true);
    const SpmTokenizer tok{SpmVocab(c.spec)};
    for (int t = 0; t < 100; ++t) {
      const auto units = random_units(rng, 40);
      const std::string text = join(units);
      ASSERT_EQ(tok.encode(text), reference_encode(c, units)) << "vocab " << v << " text '" << text << "'";
      ++compared;
    }
  }
  EXPECT_EQ(compared, 3000u);
}

TEST(SpmProperty, DecodeInvertsEncodeOnRandomText) {
  std::mt19937 rng(7);
  for (int v = 0; v < 10; ++v) {
    const RandomCase c = random_vocab(rng, true);
    const SpmTokenizer tok{SpmVocab(c.spec)};
    for (int t = 0; t < 200; ++t) {
      const std::string text = join(random_units(rng, 60));
      ASSERT_EQ(tok.decode(tok.encode(text)), text);
      ASSERT_EQ(tok.decode_lines(tok.encode_lines(text)), text);
    }
  }
}

TEST(SpmProperty, DecodeInvertsEncodeOnRandomCodePoints) {
  // Any Unicode scalar value except U+2581 (which SentencePiece reserves for the space), in
  // a vocabulary that has only a few pieces: almost everything takes the byte-fallback path.
  const SpmTokenizer tok = testing::make_tokenizer({{"▁", 0}, {"e", 0}, {"▁e", 1}});
  std::mt19937 rng(99);
  std::uniform_int_distribution<std::uint32_t> cp(0, 0x10FFFF);
  std::uniform_int_distribution<int> kind(0, 3);
  for (int t = 0; t < 500; ++t) {
    std::string text;
    for (int i = 0; i < 30; ++i) {
      std::uint32_t c = kind(rng) == 0 ? cp(rng) : (kind(rng) == 0 ? ' ' : 'e');
      if ((c >= 0xD800 && c <= 0xDFFF) || c == 0x2581) c = '\n';
      if (c < 0x80) {
        text += static_cast<char>(c);
      } else if (c < 0x800) {
        text += static_cast<char>(0xC0 | (c >> 6));
        text += static_cast<char>(0x80 | (c & 0x3F));
      } else if (c < 0x10000) {
        text += static_cast<char>(0xE0 | (c >> 12));
        text += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        text += static_cast<char>(0x80 | (c & 0x3F));
      } else {
        text += static_cast<char>(0xF0 | (c >> 18));
        text += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        text += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        text += static_cast<char>(0x80 | (c & 0x3F));
      }
    }
    ASSERT_EQ(tok.decode(tok.encode(text)), text);
    ASSERT_EQ(tok.decode_lines(tok.encode_lines(text)), text);
  }
}

TEST(SpmProperty, ArbitraryBytesNeverCrashAndRoundTrip) {
  const SpmTokenizer tok = testing::make_tokenizer({{"▁", 0}, {"a", 0}, {"▁a", 1}});
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int t = 0; t < 500; ++t) {
    std::string text(static_cast<std::size_t>(byte(rng)), '\0');
    for (auto& ch : text) ch = static_cast<char>(byte(rng));
    if (text.find("\xE2\x96\x81") != std::string::npos) continue;  // "▁" decodes to a space
    ASSERT_EQ(tok.decode(tok.encode(text)), text);
  }
}

}  // namespace
}  // namespace fedlora::lora
