// The KV-cache decoder against the training forward pass (decoder_forward), which has its
// own reference tests: same logits at every position, fed at once or token by token.
#include <gtest/gtest.h>

#include "lora/model/kv_cache.h"
#include "tests/lora/model/tiny.h"

using namespace fedlora::lora;

namespace {

at::Tensor random_tokens(int64_t n, int64_t t, int64_t vocab, uint64_t seed) {
  at::manual_seed(seed);
  return at::randint(vocab, {n, t}, at::kLong);
}

TEST(KvCache, IncrementalLogitsEqualTheFullForwardAtEveryPosition) {
  const auto cfg = test::tiny_config();
  DenseModel model(cfg, 3);
  const auto tokens = random_tokens(2, cfg.context_length, cfg.vocab_size, 5);
  at::Tensor full;
  {
    at::NoGradGuard g;
    full = decoder_forward(model, tokens);  // [2, T, V]
  }
  KvCache cache(cfg, 2);
  auto first = decode_append(model, cache, tokens.narrow(1, 0, 5));  // a prompt of 5 at once
  EXPECT_TRUE(at::allclose(first, full.select(1, 4), 1e-4, 1e-4));
  for (int64_t i = 5; i < cfg.context_length; ++i) {
    auto step = decode_append(model, cache, tokens.narrow(1, i, 1));
    EXPECT_TRUE(at::allclose(step, full.select(1, i), 1e-4, 1e-4)) << "position " << i;
  }
  EXPECT_EQ(cache.length(), cfg.context_length);
  EXPECT_THROW(decode_append(model, cache, tokens.narrow(1, 0, 1)), std::invalid_argument);  // context full
}

TEST(KvCache, SelectedRowsContinueTheirOwnSequences) {
  const auto cfg = test::tiny_config();
  DenseModel model(cfg, 4);
  const auto tokens = random_tokens(2, 8, cfg.vocab_size, 6);
  KvCache cache(cfg, 2);
  decode_append(model, cache, tokens.narrow(1, 0, 6));
  // Beams: row 1 twice, then row 0; each continued with its own next token.
  cache.select_rows(at::tensor({1, 1, 0}, at::kLong));
  const auto next = at::tensor({7, 9, 11}, at::kLong).view({3, 1});
  auto got = decode_append(model, cache, next);
  at::NoGradGuard g;
  const int64_t parent[] = {1, 1, 0};
  for (int64_t r = 0; r < 3; ++r) {
    auto seq = at::cat({tokens[parent[r]].narrow(0, 0, 6), next[r]}).view({1, 7});
    EXPECT_TRUE(at::allclose(got[r], decoder_forward(model, seq)[0][6], 1e-4, 1e-4)) << r;
  }
  EXPECT_THROW(cache.select_rows(at::tensor({3}, at::kLong)), std::invalid_argument);
  EXPECT_THROW(decode_append(model, cache, at::zeros({2, 1}, at::kLong)), std::invalid_argument);  // batch is 3
}

}  // namespace
