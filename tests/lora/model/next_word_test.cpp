// Next-word prediction: word roles of token texts by hand, and the beam search against an
// exhaustive enumeration of every word of up to two tokens scored with decoder_forward.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "lora/model/next_word.h"
#include "tests/lora/model/tiny.h"

using namespace fedlora::lora;

namespace {

TEST(WordVocab, RolesFollowSpacesLettersAndPunctuation) {
  EXPECT_EQ(WordVocab::role_of(" thee"), WordRole::starts_word);
  EXPECT_EQ(WordVocab::role_of(" 3"), WordRole::starts_word);
  EXPECT_EQ(WordVocab::role_of("ee"), WordRole::continues_word);
  EXPECT_EQ(WordVocab::role_of("'s"), WordRole::continues_word);
  EXPECT_EQ(WordVocab::role_of("\xC3"), WordRole::continues_word);  // a byte of "é"
  EXPECT_EQ(WordVocab::role_of("'"), WordRole::breaks);
  EXPECT_EQ(WordVocab::role_of(","), WordRole::breaks);
  EXPECT_EQ(WordVocab::role_of(" "), WordRole::breaks);
  EXPECT_EQ(WordVocab::role_of(" ,"), WordRole::breaks);
  EXPECT_EQ(WordVocab::role_of("\n"), WordRole::breaks);
  EXPECT_EQ(WordVocab::role_of(""), WordRole::breaks);
}

TEST(WordVocab, SentencePieceSpacesAndBytes) {
  SpmVocabSpec s;
  s.pieces = {"<unk>", "<s>", "</s>"};
  s.types = {TokenType::unknown, TokenType::control, TokenType::control};
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    s.pieces.push_back(hex);
    s.types.push_back(TokenType::byte);
  }
  for (const char* p : {"\xE2\x96\x81thee", "ee", ","}) {
    s.pieces.push_back(p);
    s.types.push_back(TokenType::normal);
  }
  s.scores.assign(s.pieces.size(), 0.0f);
  const auto w = WordVocab::from_spm(SpmVocab(s));
  EXPECT_EQ(w.surface[3 + 0x0A], "\n");
  EXPECT_EQ(w.role[3 + 0x0A], WordRole::breaks);
  EXPECT_EQ(w.role[3 + 'a'], WordRole::continues_word);  // a lone byte never starts a word
  EXPECT_EQ(w.surface[259], " thee");
  EXPECT_EQ(w.role[1], WordRole::breaks);
  EXPECT_EQ((std::vector<WordRole>(w.role.begin() + 259, w.role.end())),
            (std::vector<WordRole>{WordRole::starts_word, WordRole::continues_word, WordRole::breaks}));
}

// Tiny vocabulary of 64: 0-1 control, 2-21 " a".." t" (word starts), 22-41 "a".."t"
// (continuations), 42-45 " ab", " ac", " ba", " bc" (the same words spelled in one token),
// 46-63 punctuation.
WordVocab tiny_words() {
  WordVocab v;
  for (int i = 0; i < 64; ++i) {
    std::string s;
    if (i >= 2 && i < 22) s = std::string(" ") + static_cast<char>('a' + i - 2);
    else if (i >= 22 && i < 42) s = std::string(1, static_cast<char>('a' + i - 22));
    else if (i >= 42 && i < 46) s = std::vector<std::string>{" ab", " ac", " ba", " bc"}[i - 42];
    else if (i >= 46) s = std::string(1, static_cast<char>('!' + (i - 46) % 14));
    v.surface.push_back(s);
    v.role.push_back(WordVocab::role_of(s));
  }
  return v;
}

std::vector<double> next_probs(DecoderWeights& w, std::vector<int64_t> seq) {
  at::NoGradGuard g;
  auto p = at::softmax(decoder_forward(w, at::tensor(seq, at::kLong).view({1, -1}))[0][-1], -1);
  return std::vector<double>(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
}

TEST(NextWord, BeamSearchEqualsExhaustiveEnumerationOfShortWords) {
  const auto cfg = test::tiny_config();
  DenseModel model(cfg, 9);
  const auto vocab = tiny_words();
  const std::vector<int64_t> ctx{1, 5, 30, 7, 50};
  // Reference: P(word) = Σ over spellings t1 (start) [t2 (continuation)] of
  // p(t1) [p(t2)] · (1 − P(next continues)).
  auto p_end = [&](const std::vector<double>& p) {
    double c = 0;
    for (size_t t = 0; t < p.size(); ++t) c += vocab.role[t] == WordRole::continues_word ? p[t] : 0.0;
    return 1.0 - c;
  };
  std::map<std::string, double> ref;
  const auto p0 = next_probs(model, ctx);
  for (int t1 = 0; t1 < 64; ++t1) {
    if (vocab.role[static_cast<size_t>(t1)] != WordRole::starts_word) continue;
    auto s1 = ctx;
    s1.push_back(t1);
    const auto p1 = next_probs(model, s1);
    ref[vocab.surface[static_cast<size_t>(t1)].substr(1)] += p0[static_cast<size_t>(t1)] * p_end(p1);
    for (int t2 = 0; t2 < 64; ++t2) {
      if (vocab.role[static_cast<size_t>(t2)] != WordRole::continues_word) continue;
      auto s2 = s1;
      s2.push_back(t2);
      ref[vocab.surface[static_cast<size_t>(t1)].substr(1) + vocab.surface[static_cast<size_t>(t2)]] +=
          p0[static_cast<size_t>(t1)] * p1[static_cast<size_t>(t2)] * p_end(next_probs(model, s2));
    }
  }
  const std::vector<int32_t> ctx32(ctx.begin(), ctx.end());
  // Wide enough to keep everything: every word, with "ab" etc. summed over both spellings.
  const auto all = suggest_next_words(model, vocab, ctx32, NextWordOptions{.k = 10000, .beam = 10000, .max_word_tokens = 2});
  ASSERT_EQ(all.size(), ref.size());
  for (const auto& s : all) EXPECT_NEAR(s.probability, ref.at(s.word), 1e-5 * std::max(1.0, ref.at(s.word))) << s.word;
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].probability, all[i].probability);
  // The default search: its three words carry at most their full probability (a subset of spellings).
  const auto top = suggest_next_words(model, vocab, ctx32, NextWordOptions{.k = 3, .beam = 8, .max_word_tokens = 2});
  ASSERT_EQ(top.size(), 3u);
  for (const auto& s : top) EXPECT_LE(s.probability, ref.at(s.word) + 1e-6) << s.word;
  EXPECT_EQ(top[0].word, all[0].word);
}

TEST(NextWord, RecallCountsTopOneAndTopThreeAtWordStarts) {
  const auto cfg = test::tiny_config();
  DenseModel model(cfg, 9);
  const auto vocab = tiny_words();
  // Each sequence: BOS, a word start, a continuation, punctuation, a word start.
  const std::vector<std::vector<int32_t>> seqs{{1, 3, 25, 50, 4}, {1, 42, 60, 7}};
  const auto pos = word_starts(seqs, vocab);
  ASSERT_EQ(pos.size(), 4u);  // (0,1) (0,4) (1,1) (1,3)
  EXPECT_EQ(pos[1].index, 4u);
  EXPECT_EQ(pos[2].index, 1u);
  const auto ev = evaluate_next_words(model, vocab, seqs, pos, NextWordOptions{.k = 3, .beam = 64, .max_word_tokens = 2});
  // Recount by hand from the suggestions themselves.
  int64_t top1 = 0, top3 = 0;
  const std::vector<std::string> truth{"bd", "c", "ab", "f"};
  for (size_t i = 0; i < pos.size(); ++i) {
    const auto& seq = seqs[pos[i].sequence];
    auto s = suggest_next_words(model, vocab, std::span<const int32_t>(seq.data(), pos[i].index),
                                NextWordOptions{.k = 3, .beam = 64, .max_word_tokens = 2});
    for (size_t j = 0; j < s.size(); ++j)
      if (s[j].word == truth[i]) {
        top3 += 1;
        top1 += j == 0;
      }
  }
  EXPECT_EQ(ev.positions, 4);
  EXPECT_EQ(ev.top1, top1);
  EXPECT_EQ(ev.top3, top3);
  EXPECT_EQ(spread_positions(pos, 2).size(), 2u);
  EXPECT_EQ(spread_positions(pos, 2)[1].index, pos[2].index);
}

}  // namespace
