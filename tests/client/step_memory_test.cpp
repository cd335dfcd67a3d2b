// The step memory estimate against hand-computed values of its documented formula, and the
// planner's order of choices (whole batch, then micro-batches, then checkpointing).
#include <gtest/gtest.h>

#include "client/train/step_memory.h"

namespace fedlora::client {
namespace {

// D = 64, L layers, H = 4, KV = 2 (head_dim 16), F = 96, V = 64, T = 16, batch 4, d = 1000,
// largest projection 96·64. Per token and block a = 7·64 + 2·32 + 3·96 + 4·16 = 864 floats.
StepShape shape(int layers) {
  StepShape s;
  s.model.dim = 64;
  s.model.n_layers = layers;
  s.model.n_heads = 4;
  s.model.n_kv_heads = 2;
  s.model.ffn_dim = 96;
  s.model.vocab_size = 64;
  s.adapter_size = 1000;
  s.largest_projection = 96 * 64;
  s.batch = 4;
  s.seq_len = 16;
  return s;
}

TEST(StepMemory, EstimateEqualsTheHandComputedFormula) {
  // b = 4, M = 64: one block 64·864·4·1.25 = 276 480; head 64·64·4·3 + 64·64·4·2 = 81 920;
  // scratch 2·6144·4 + 64·64·4 = 65 536; adapter 1000·16 = 16 000.
  EXPECT_DOUBLE_EQ(estimate_step_bytes(shape(2), {4, false}), 2 * 276480.0 + 81920 + 65536 + 16000);
  // Checkpointed: L·M·D·4 = 2·64·64·4 = 32 768 plus two blocks' worth.
  EXPECT_DOUBLE_EQ(estimate_step_bytes(shape(2), {4, true}), 32768.0 + 2 * 276480 + 81920 + 65536 + 16000);
  // L = 8, b = 1 (M = 16): blocks 8·69 120, head 16·64·20 = 20 480.
  EXPECT_DOUBLE_EQ(estimate_step_bytes(shape(8), {1, false}), 8 * 69120.0 + 20480 + 65536 + 16000);
  // DP-SGD adds b·d·4·2; FedProx another d·4.
  auto s = shape(8);
  s.dp_sgd = true;
  s.fedprox = true;
  EXPECT_DOUBLE_EQ(estimate_step_bytes(s, {1, false}), 8 * 69120.0 + 20480 + 65536 + 20000 + 8000);
  // A micro-batch larger than the batch counts as the batch.
  EXPECT_DOUBLE_EQ(estimate_step_bytes(shape(8), {9, false}), estimate_step_bytes(shape(8), {4, false}));
}

TEST(StepMemory, PlannerPrefersWholeBatchThenMicroBatchesThenCheckpointing) {
  const auto s = shape(8);
  // Whole batch: 8·276 480 + 81 920 + 65 536 + 16 000 = 2 375 296 bytes.
  auto p = plan_step_memory(s, 2.4);
  EXPECT_EQ(p.micro_batch, 4);
  EXPECT_FALSE(p.activation_checkpointing);
  // 1 MB: b = 2 needs 1 228 416, b = 1 needs 654 976.
  p = plan_step_memory(s, 1.0);
  EXPECT_EQ(p.micro_batch, 1);
  EXPECT_FALSE(p.activation_checkpointing);
  // 0.5 MB: nothing without checkpointing; with it b = 3 needs 656 000, b = 2 464 512.
  p = plan_step_memory(s, 0.5);
  EXPECT_EQ(p.micro_batch, 2);
  EXPECT_TRUE(p.activation_checkpointing);
  // 0.2 MB: even b = 1 checkpointed needs 273 024.
  try {
    plan_step_memory(s, 0.2);
    FAIL() << "a budget below the smallest setting must be refused";
  } catch (const MemoryBudgetExceeded& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
  EXPECT_THROW(plan_step_memory(s, 0.0), std::invalid_argument);
  EXPECT_THROW(plan_step_memory(s, -5.0), std::invalid_argument);
}

}  // namespace
}  // namespace fedlora::client
