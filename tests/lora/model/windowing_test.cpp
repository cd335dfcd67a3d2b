// Windowing of evaluation (make_windows, pack_batch, evaluate_stream) against hand counts
// and a one-window-at-a-time reference.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "lora/model/base_model.h"
#include "lora/model/decoder.h"
#include "lora/model/dense_model.h"
#include "lora/model/lm_batch.h"
#include "lora/model/lm_eval.h"
#include "lora/model/lora_model.h"
#include "tests/lora/model/tiny.h"

namespace fedlora::lora {
namespace {

std::vector<int32_t> iota_stream(int n) {
  std::vector<int32_t> s(static_cast<size_t>(n));
  std::iota(s.begin(), s.end(), 0);
  return s;
}

TEST(MakeWindows, HandCountedWindowsShareOneToken) {
  // 10 tokens, windows of 4: starts 0, 3, 6 (9 would hold one token: dropped).
  const auto w10 = make_windows(iota_stream(10), 4);
  ASSERT_EQ(w10.size(), 3u);
  EXPECT_EQ(w10[0], (TokenSeq{0, 1, 2, 3}));
  EXPECT_EQ(w10[1], (TokenSeq{3, 4, 5, 6}));
  EXPECT_EQ(w10[2], (TokenSeq{6, 7, 8, 9}));
  // 11 tokens: a fourth window {9, 10}; every token after the first is a target once.
  const auto w11 = make_windows(iota_stream(11), 4);
  ASSERT_EQ(w11.size(), 4u);
  EXPECT_EQ(w11[3], (TokenSeq{9, 10}));
  int64_t targets = 0;
  for (const auto& w : w11) targets += static_cast<int64_t>(w.size()) - 1;
  EXPECT_EQ(targets, 10);
  // Windows of 2 are (token, next token) pairs.
  EXPECT_EQ(make_windows(iota_stream(5), 2).size(), 4u);
  EXPECT_TRUE(make_windows(iota_stream(1), 4).empty());
  EXPECT_THROW(make_windows(iota_stream(5), 1), std::invalid_argument);
}

TEST(PackBatch, PadsToTheLongestAndCountsTargets) {
  const std::vector<TokenSeq> ex{{5, 6, 7, 8}, {9, 10}};
  const std::vector<size_t> idx{0, 1};
  const auto b = pack_batch(ex, idx);
  EXPECT_EQ(b.tokens.sizes(), (at::IntArrayRef{2, 4}));
  EXPECT_EQ(b.n_targets, 3 + 1);
  EXPECT_EQ(b.mask.sum().item<float>(), 6.0f);
  EXPECT_EQ(b.tokens[1][3].item<int64_t>(), 0);  // padding
  const std::vector<size_t> bad{2};
  EXPECT_THROW(pack_batch(ex, bad), std::invalid_argument);
}

TEST(EvaluateStream, EveryTokenAfterTheFirstIsScoredOnceWhateverTheBatch) {
  const auto cfg = test::tiny_config();  // context 16: windows of 17
  DenseModel dense(cfg, 5);
  auto base = make_base_model(cfg, dense.named_weights(), GgmlType::F32);
  LoraAdapter none(make_adapter_layout(cfg, 2, 4.0f, {TargetModule::q}));
  LoraModel m(base, none);
  std::vector<int32_t> stream(50);
  for (size_t i = 0; i < stream.size(); ++i) stream[i] = static_cast<int32_t>((i * 7 + 3) % cfg.vocab_size);
  // 50 tokens, windows of 17 starting at 0, 16, 32, 48: sizes 17, 17, 17, 2 → 49 targets.
  const auto one = evaluate_stream(m, stream, 1);
  const auto many = evaluate_stream(m, stream, 16);
  EXPECT_EQ(one.n_targets, 49);
  EXPECT_EQ(many.n_targets, 49);
  EXPECT_NEAR(one.loss_sum, many.loss_sum, 1e-4 * one.loss_sum);  // padding changes nothing
  EXPECT_EQ(one.correct, many.correct);
  // Reference: the four windows cut by hand, one lm_loss each.
  double ref = 0;
  for (size_t start : {0u, 16u, 32u, 48u}) {
    const size_t end = std::min(stream.size(), start + 17);
    const std::vector<TokenSeq> w{TokenSeq(stream.begin() + static_cast<long>(start), stream.begin() + static_cast<long>(end))};
    const std::vector<size_t> idx{0};
    const auto b = pack_batch(w, idx);
    at::NoGradGuard ng;
    ref += lm_loss(m, b.tokens, b.mask).sum.item<double>();
  }
  EXPECT_NEAR(one.loss_sum, ref, 1e-6 * ref);
  EXPECT_THROW(evaluate_stream(m, std::vector<int32_t>{1}, 4), std::invalid_argument);
  EXPECT_THROW(evaluate_stream(m, stream, 0), std::invalid_argument);
}

}  // namespace
}  // namespace fedlora::lora
