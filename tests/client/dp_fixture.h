#pragma once
// Shared fixtures for the DP-SGD trainer tests: a tiny Llama base (sizes multiples of 32 so
// Q8_0 applies), a random non-zero adapter (so lora_A gets gradient too) and seeded token
// windows of varying length (so batches carry padding).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "lora/model/base_model.h"
#include "lora/model/dense_model.h"
#include "lora/model/lm_batch.h"
#include "lora/model/lora_model.h"
#include "tests/lora/model/tiny.h"

namespace fedlora::client::test {

inline lora::LlamaConfig dp_tiny_config() { return lora::test::tiny_config(); }

inline std::shared_ptr<const lora::BaseModel> dp_tiny_base(uint64_t seed = 11) {
  const auto cfg = dp_tiny_config();
  lora::DenseModel dense(cfg, seed);
  return lora::make_base_model(cfg, dense.named_weights(), lora::GgmlType::Q8_0);
}

inline lora::AdapterLayout dp_tiny_layout(const lora::BaseModel& base, int rank = 4) {
  using lora::TargetModule;
  return lora::make_adapter_layout(base.config, rank, 8.0f,
                                   {TargetModule::q, TargetModule::k, TargetModule::v, TargetModule::o,
                                    TargetModule::gate, TargetModule::up, TargetModule::down});
}

/// Every coordinate ~ N(0, 0.05²), seeded.
inline std::vector<float> dp_random_adapter(const lora::AdapterLayout& layout, uint64_t seed) {
  auto t = at::randn({layout.size()}, at::make_generator<at::CPUGeneratorImpl>(seed)).mul_(0.05);
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + layout.size());
}

/// `n` windows with lengths cycling through 5..17 tokens (≤ context + 1), ids in [0, 64).
inline std::vector<lora::TokenSeq> dp_examples(size_t n, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<lora::TokenSeq> out;
  for (size_t i = 0; i < n; ++i) {
    const int64_t len = 5 + static_cast<int64_t>((i * 7) % 13);
    auto t = at::randint(0, 64, {len}, gen, at::kInt);
    out.emplace_back(t.data_ptr<int32_t>(), t.data_ptr<int32_t>() + len);
  }
  return out;
}

}  // namespace fedlora::client::test
