// The lora_B part of a flat adapter (FFA-LoRA uploads), on a layout small enough to lay out
// by hand: one layer, r = 2, q [out 3, in 4] and v [out 2, in 4]. Layout order per module is
// lora_A [r, in] then lora_B [out, r]: A_q at 0..7, B_q at 8..13, A_v at 14..21, B_v at 22..25.
#include "lora/adapter/lora_b_part.h"

#include <gtest/gtest.h>

#include <numeric>

namespace fedlora::lora {
namespace {

AdapterLayout hand_layout() {
  return AdapterLayout(1, 2, 4.0f, {TargetModule::q, TargetModule::v},
                       {{TargetModule::q, {4, 3}}, {TargetModule::v, {4, 2}}});
}

TEST(LoraBPart, SizeAndGatherFollowTheHandLayout) {
  const auto layout = hand_layout();
  ASSERT_EQ(layout.size(), 26);
  EXPECT_EQ(lora_b_size(layout), 10);
  std::vector<float> full(26);
  std::iota(full.begin(), full.end(), 0.0f);
  const std::vector<float> want = {8, 9, 10, 11, 12, 13, 22, 23, 24, 25};
  EXPECT_EQ(gather_lora_b(layout, full), want);
}

TEST(LoraBPart, ScatterPutsBBackAndZerosEveryA) {
  const auto layout = hand_layout();
  std::vector<float> b(10);
  std::iota(b.begin(), b.end(), 1.0f);
  std::vector<float> full(26, -1.0f);
  scatter_lora_b<float>(layout, b, full);
  for (int i = 0; i < 26; ++i) {
    const bool in_b = (i >= 8 && i < 14) || i >= 22;
    const float want = !in_b ? 0.0f : (i < 14 ? static_cast<float>(i - 7) : static_cast<float>(i - 22 + 7));
    EXPECT_EQ(full[static_cast<size_t>(i)], want) << "index " << i;
  }
  EXPECT_EQ(gather_lora_b(layout, full), b);
}

TEST(LoraBPart, WrongLengthsAreErrors) {
  const auto layout = hand_layout();
  EXPECT_THROW(gather_lora_b(layout, std::vector<float>(25)), AdapterError);
  std::vector<float> full(26);
  EXPECT_THROW(scatter_lora_b<float>(layout, std::vector<float>(11), full), AdapterError);
  std::vector<double> short_full(25);
  EXPECT_THROW(scatter_lora_b<double>(layout, std::vector<double>(10), short_full), AdapterError);
}

}  // namespace
}  // namespace fedlora::lora
