// The int8 base products at the train step's shapes, one thread: the packed s8 GEMM alone,
// then the whole forward and backward passes of a LoRA projection (activation quantization,
// the adapter's rank-r products, the GEMM and the rescale: int8_lora.h). Their difference is
// what the passes add around the GEMM; the GEMM's GOP/s is the part no kernel of ours sets.
//
//   build/bin/int8_bench [--benchmark_filter=...]
//
// Args: m (rows of the activation: batch × tokens), in, out. Shapes are the 1.1B class's
// projections (dim 2048, KV dim 256, FFN 5632) at m = 512, and the 135M class's (576, 192, 1536).
#include <benchmark/benchmark.h>

#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "lora/int8/int8_linear.h"
#include "lora/int8/int8_lora.h"
#include "lora/int8/s8_gemm.h"
#include "lora/quant/quantized_tensor.h"
#include "tests/support/normal_floats.h"

namespace {

using namespace fedlora::lora;

constexpr int64_t kRank = 8;

std::vector<int8_t> random_s8(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<int8_t>(d(gen));
  return v;
}

void set_gop_counter(benchmark::State& state, int64_t m, int64_t in, int64_t out) {
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(m * in * out) * 1e-9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// C [m, out] = A [m, in] · Bᵀ with B [out, in] packed as the forward product packs it, the
// product alone.
void BM_S8GemmPacked(benchmark::State& state) {
  const int64_t m = state.range(0), in = state.range(1), out = state.range(2);
  const auto a = random_s8(m * in, 1);
  const auto b = random_s8(out * in, 2);
  const PackedS8Matrix packed = pack_s8_matrix(b.data(), in, out, /*b_is_nk=*/true);
  if (packed.empty()) {
    state.SkipWithError("no packed s8 layout on this backend");
    return;
  }
  // Panel by panel into one compact int32 block, as the step's passes consume them.
  std::vector<int32_t> c(static_cast<size_t>(m * PackedS8Matrix::kPanelCols));
  for (auto _ : state) {
    for (int64_t p = 0; p < packed.panels(); ++p) {
      gemm_s8s8s32_packed_panel(a.data(), packed, p, c.data(), packed.panel_cols(p), m);
      benchmark::DoNotOptimize(c.data());
    }
  }
  set_gop_counter(state, m, in, out);
}

struct Projection {
  QuantizedTensor w;
  std::vector<float> a, b;
  Projection(int64_t in, int64_t out)
      : w(QuantizedTensor::quantize(fedlora::test::normal_floats(out * in, 3, 0.02f).data(), out, in, GgmlType::Q4_0)),
        a(fedlora::test::normal_floats(kRank * in, 4, 0.02f)),
        b(fedlora::test::normal_floats(out * kRank, 5, 0.02f)) {}
};

// The weight cache holds the packed form, as in a step without checkpointing.
const Int8Weight& packed_weight(const QuantizedTensor& w) {
  set_int8_weight_cache_bytes(int8_weight_bytes(w.rows(), w.cols()) + (1u << 20));
  return int8_weight_view(w);
}

void BM_Int8LoraForward(benchmark::State& state) {
  const int64_t m = state.range(0), in = state.range(1), out = state.range(2);
  const Projection p(in, out);
  const Int8Weight& w = packed_weight(p.w);
  const auto x = fedlora::test::normal_floats(m * in, 6, 1.0f);
  std::vector<float> y(static_cast<size_t>(m * out)), xa(static_cast<size_t>(m * kRank));
  for (auto _ : state) {
    int8_lora_forward(x.data(), m, w, p.a.data(), p.b.data(), kRank, 2.0f, y.data(), xa.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_gop_counter(state, m, in, out);
}

void BM_Int8LoraBackward(benchmark::State& state) {
  const int64_t m = state.range(0), in = state.range(1), out = state.range(2);
  const Projection p(in, out);
  const Int8Weight& w = packed_weight(p.w);
  const auto delta = fedlora::test::normal_floats(m * out, 7, 1e-3f);
  std::vector<float> dx(static_cast<size_t>(m * in)), delta_b(static_cast<size_t>(m * kRank));
  for (auto _ : state) {
    int8_lora_backward(delta.data(), m, w, p.a.data(), p.b.data(), kRank, 2.0f, dx.data(), delta_b.data());
    benchmark::DoNotOptimize(dx.data());
  }
  set_gop_counter(state, m, in, out);
}

// Forward shapes as (in, out); the backward product of a projection has k = out, n = in.
void StepShapes(benchmark::internal::Benchmark* b) {
  for (auto [in, out] : {std::pair<int64_t, int64_t>{2048, 2048}, {2048, 256}, {2048, 5632}, {5632, 2048},
                         {576, 576}, {576, 192}, {576, 1536}, {1536, 576}})
    b->Args({512, in, out});
  b->ArgNames({"m", "in", "out"})->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_S8GemmPacked)->Apply(StepShapes);
BENCHMARK(BM_Int8LoraForward)->Apply(StepShapes);
BENCHMARK(BM_Int8LoraBackward)->Apply(StepShapes);

// One thread, as on a device and in train_bench: oneDNN runs on OpenMP, whose default is a
// thread per core (found with dlsym: this binary does not link LibTorch's runtime set-up).
int main(int argc, char** argv) {
  using SetThreads = void (*)(int);
  if (auto omp = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"))) omp(1);
  else std::fprintf(stderr, "int8_bench: no OpenMP runtime loaded; the backend runs its own threading\n");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
