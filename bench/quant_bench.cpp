// Dequantize and quantize throughput of lora/quant on model-sized weight matrices.
// items/s = weights decoded (or encoded) per second; bytes/s = bytes of blocks read (or
// written). "fast" is the dispatched AVX2/F16C path, "ref" the scalar reference.
// Run: build/bin/quant_bench [--benchmark_filter=Dequantize]
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "lora/quant/fp16.h"
#include "lora/quant/q4_0.h"
#include "lora/quant/q8_0.h"
#include "lora/quant/quantized_tensor.h"
#include "lora/quant/simd.h"

namespace {

using fedlora::lora::GgmlType;
using fedlora::lora::QuantizedTensor;

std::vector<float> weights(int64_t rows, int64_t cols) {
  std::mt19937 rng(42);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (float& x : w) x = nd(rng);
  return w;
}

template <GgmlType kType, bool kFast>
void BM_Dequantize(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto w = weights(rows, cols);
  const auto t = QuantizedTensor::quantize(w.data(), rows, cols, kType);
  std::vector<float> out(w.size());
  for (auto _ : state) {
    if constexpr (kFast) {
      t.dequantize_rows(0, rows, out.data());
    } else {
      for (int64_t r = 0; r < rows; ++r) t.dequantize_row_ref(r, out.data() + r * cols);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(t.bytes().size()));
  state.SetLabel(std::string(kFast ? fedlora::lora::quant_kernel_path() : "scalar ref"));
}

template <GgmlType kType, bool kFast>
void BM_Quantize(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto w = weights(rows, cols);
  const size_t n = w.size();
  std::vector<std::byte> sink(*fedlora::lora::ggml_row_bytes(kType, static_cast<uint64_t>(n)));
  for (auto _ : state) {
    if constexpr (kType == GgmlType::Q8_0) {
      std::span<fedlora::lora::BlockQ8_0> y(reinterpret_cast<fedlora::lora::BlockQ8_0*>(sink.data()), n / 32);
      kFast ? fedlora::lora::quantize_row_q8_0(w, y) : fedlora::lora::quantize_row_q8_0_ref(w, y);
    } else if constexpr (kType == GgmlType::Q4_0) {
      std::span<fedlora::lora::BlockQ4_0> y(reinterpret_cast<fedlora::lora::BlockQ4_0*>(sink.data()), n / 32);
      kFast ? fedlora::lora::quantize_row_q4_0(w, y) : fedlora::lora::quantize_row_q4_0_ref(w, y);
    } else {
      auto* y = reinterpret_cast<uint16_t*>(sink.data());
      kFast ? fedlora::lora::fp32_to_fp16_row(w.data(), y, n) : fedlora::lora::fp32_to_fp16_row_ref(w.data(), y, n);
    }
    benchmark::DoNotOptimize(sink.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(sink.size()));
  state.SetLabel(std::string(kFast ? fedlora::lora::quant_kernel_path() : "scalar ref"));
}

// [out_features, in_features] of a small model's projections: 768x256 (up) and 256x768.
void Shapes(benchmark::internal::Benchmark* b) { b->Args({768, 256})->Args({256, 768}); }

BENCHMARK_TEMPLATE(BM_Dequantize, GgmlType::Q8_0, true)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Dequantize, GgmlType::Q8_0, false)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Dequantize, GgmlType::Q4_0, true)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Dequantize, GgmlType::Q4_0, false)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Dequantize, GgmlType::F16, true)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Dequantize, GgmlType::F16, false)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Quantize, GgmlType::Q8_0, true)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Quantize, GgmlType::Q8_0, false)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Quantize, GgmlType::Q4_0, true)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Quantize, GgmlType::Q4_0, false)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Quantize, GgmlType::F16, true)->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_Quantize, GgmlType::F16, false)->Apply(Shapes);

}  // namespace

BENCHMARK_MAIN();
