// Cost of example-level DP-SGD on a device: one DP-SGD step (per-example gradients from the
// LoRA sink in the same batched backward pass, per-example clipping over all LoRA tensors,
// sum, Gaussian noise from NoiseSource, ÷ q·N, Adam) against one plain step (mean loss,
// backward, Adam: the loop body of train_local), on the default model: LlamaConfig defaults
// (dim 256, 4 layers, vocab 4096, context 128), random DenseModel weights quantized to Q8_0,
// LoRA r = 8 (alpha 16) on all 7 projections, lots of 8 windows × 128 predicted tokens, one
// thread (set_compute_threads(1), keep_freed_memory_in_heap()).
//
// Lot size. The DP timings use a FIXED lot of the same 8 windows the plain step uses,
// pushed through the DP code path (DpSgdTrainer::step(lot)), so the ratio compares equal
// work. A Poisson lot (q = 8/N) has Binomial(N, q) size, so its per-step time varies with
// the draw and its mean time is ≈ the fixed-8 time (cost is close to linear in the lot
// size); BM_DpSgdPoissonStep shows it, with the mean realised lot size as a counter.
//
// Benchmarks
//   BM_ExtraMemory        once: bytes of per-example gradients (B · P · 4) and the growth
//                         of peak RSS when DP-SGD steps follow plain steps in this process
//                         (run it first / alone for a clean number: it is registered first)
//   BM_PlainStep          plain step, 8 × 128 tokens
//   BM_DpSgdStep          DP-SGD step on the same fixed lot of 8
//   BM_DpSgdPoissonStep   DP-SGD step on Poisson lots, q = 8 / N
//   BM_DpOverPlain        alternates one plain and one DP step per iteration and reports
//                         dp_over_plain_cpu / _wall = Σ DP time ÷ Σ plain time; alternating
//                         keeps a shared, loaded VM from biasing one side. Target ≤ 1.1.
// Times per step are reported as thread CPU time ("CPU" column; the VM is shared, so wall
// time also counts other processes) and wall time.
//
// Run: build-dpsgd/bin/dpsgd_bench   (no arguments needed; --benchmark_filter=... as usual)
#include <benchmark/benchmark.h>
#include <torch/optim/adam.h>

#include <time.h>

#include <chrono>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "client/train/dp_sgd.h"
#include "lora/adapter/adapter_init.h"
#include "lora/model/base_model.h"
#include "lora/model/dense_model.h"
#include "lora/model/lora_model.h"
#include "lora/model/runtime.h"

namespace {

using namespace fedlora;
using lora::LlamaConfig;

constexpr int kRank = 8;
constexpr float kAlpha = 16.0f;
constexpr uint64_t kSeed = 1234;
constexpr int64_t kLot = 8;
constexpr int64_t kExamples = 64;  // N; q = kLot / N = 0.125 for the Poisson variant

void one_thread() {
  static const bool done = [] {
    lora::set_compute_threads(1);
    lora::keep_freed_memory_in_heap();
    return true;
  }();
  (void)done;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Fixture {
  std::shared_ptr<const lora::BaseModel> base;
  lora::AdapterLayout layout;
  std::vector<float> theta;
  std::vector<lora::TokenSeq> examples;  // N windows of 129 tokens: 128 inputs, 128 targets
  std::vector<size_t> lot;               // the fixed lot: examples 0..7
};

const Fixture& fixture() {
  static const Fixture f = [] {
    one_thread();
    const LlamaConfig cfg;
    lora::DenseModel dense(cfg, kSeed);
    auto w = dense.named_weights();
    for (auto& [name, t] : w) t = t.detach();
    Fixture x{lora::make_base_model(cfg, w, lora::GgmlType::Q8_0),
              lora::make_adapter_layout(cfg, kRank, kAlpha,
                                        std::vector<lora::TargetModule>(std::begin(lora::kAllTargetModules),
                                                                        std::end(lora::kAllTargetModules))),
              {}, {}, {}};
    x.theta = lora::init_adapter_vector(x.layout, kSeed);
    for (const auto& t : x.layout.tensors())  // non-zero B, so lora_A gradients are not trivially zero
      if (t.is_b)
        for (int64_t i = 0; i < t.numel(); ++i) x.theta[t.offset + i] = 1e-3f * static_cast<float>((i * 7919) % 13 - 6);
    auto toks = at::randint(0, cfg.vocab_size, {kExamples, cfg.context_length + 1},
                            at::make_generator<at::CPUGeneratorImpl>(kSeed), at::kInt);
    for (int64_t i = 0; i < kExamples; ++i)
      x.examples.emplace_back(toks[i].data_ptr<int32_t>(), toks[i].data_ptr<int32_t>() + toks.size(1));
    x.lot.resize(kLot);
    std::iota(x.lot.begin(), x.lot.end(), 0);
    return x;
  }();
  return f;
}

client::LocalTrainConfig dp_config() {
  client::LocalTrainConfig c;
  c.optimizer = client::LocalOptimizer::adam;
  c.lr = 1e-4;
  client::DpSgdTrainConfig dp;
  dp.l2_norm_clip = 1.0;
  dp.noise_multiplier = 1.0;
  dp.sampling_rate = static_cast<double>(kLot) / kExamples;
  dp.noise = client::SimulationNoise{kSeed, 0, 0};
  c.dp = dp;
  return c;
}

// The loop body of train_local (client/train/local_trainer.cpp), on a fixed batch.
struct PlainTrainer {
  lora::LoraAdapter adapter;
  lora::LoraModel model;
  torch::optim::Adam opt;
  explicit PlainTrainer(const Fixture& f)
      : adapter(f.layout), model((adapter.load_flat(f.theta), f.base), adapter),
        opt(adapter.tensors(), torch::optim::AdamOptions(1e-4)) {}
  double step(const Fixture& f) {
    auto batch = lora::pack_batch(f.examples, f.lot);
    opt.zero_grad();
    auto loss = lora::lm_loss(model, batch.tokens, batch.mask);
    auto mean = loss.sum / static_cast<double>(batch.n_targets);
    const double v = mean.item<double>();
    mean.backward();
    opt.step();
    return v;
  }
};

void label(benchmark::State& state) {
  state.SetLabel("8x128 tokens, Q8_0 base, LoRA r=8 on all 7 projections, 1 thread");
}

void BM_ExtraMemory(benchmark::State& state) {
  const auto& f = fixture();
  int64_t per_example_bytes = 0;
  long rss_plain = 0, rss_dp = 0;
  for (auto _ : state) {
    PlainTrainer plain(f);
    for (int i = 0; i < 3; ++i) plain.step(f);
    rss_plain = lora::peak_rss_bytes();
    client::DpSgdTrainer dp(f.base, f.layout, f.theta, f.examples, dp_config());
    for (int i = 0; i < 3; ++i) dp.step(f.lot);
    rss_dp = lora::peak_rss_bytes();
    per_example_bytes = dp.last_per_example_bytes();
  }
  state.counters["per_example_grad_bytes"] = static_cast<double>(per_example_bytes);
  state.counters["adapter_params"] = static_cast<double>(f.layout.size());
  state.counters["peak_rss_plain_bytes"] = static_cast<double>(rss_plain);
  state.counters["peak_rss_delta_bytes"] = static_cast<double>(rss_dp - rss_plain);
  label(state);
}

template <typename Step>
void timed(benchmark::State& state, Step&& step) {
  step();  // warm-up: allocations, rope tables, scratch buffers
  const double c0 = thread_cpu_seconds(), w0 = wall_seconds();
  for (auto _ : state) step();
  const double n = static_cast<double>(state.iterations());
  state.counters["cpu_s_per_step"] = (thread_cpu_seconds() - c0) / n;
  state.counters["wall_s_per_step"] = (wall_seconds() - w0) / n;
  label(state);
}

void BM_PlainStep(benchmark::State& state) {
  const auto& f = fixture();
  PlainTrainer plain(f);
  timed(state, [&] { benchmark::DoNotOptimize(plain.step(f)); });
}

void BM_DpSgdStep(benchmark::State& state) {
  const auto& f = fixture();
  client::DpSgdTrainer dp(f.base, f.layout, f.theta, f.examples, dp_config());
  timed(state, [&] { benchmark::DoNotOptimize(dp.step(f.lot).loss); });
  state.counters["per_example_grad_bytes"] = static_cast<double>(dp.last_per_example_bytes());
}

void BM_DpSgdPoissonStep(benchmark::State& state) {
  const auto& f = fixture();
  client::DpSgdTrainer dp(f.base, f.layout, f.theta, f.examples, dp_config());
  double lots = 0, steps = 0;
  timed(state, [&] {
    lots += static_cast<double>(dp.poisson_step().lot_size);
    steps += 1;
  });
  state.counters["mean_lot_size"] = lots / steps;
  state.counters["q"] = dp.plan().sampling_rate;
}

void BM_DpOverPlain(benchmark::State& state) {
  const auto& f = fixture();
  PlainTrainer plain(f);
  client::DpSgdTrainer dp(f.base, f.layout, f.theta, f.examples, dp_config());
  plain.step(f);
  dp.step(f.lot);
  double plain_cpu = 0, plain_wall = 0, dp_cpu = 0, dp_wall = 0;
  for (auto _ : state) {
    double c = thread_cpu_seconds(), w = wall_seconds();
    benchmark::DoNotOptimize(plain.step(f));
    plain_cpu += thread_cpu_seconds() - c;
    plain_wall += wall_seconds() - w;
    c = thread_cpu_seconds();
    w = wall_seconds();
    benchmark::DoNotOptimize(dp.step(f.lot).loss);
    dp_cpu += thread_cpu_seconds() - c;
    dp_wall += wall_seconds() - w;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["plain_cpu_s"] = plain_cpu / n;
  state.counters["dp_cpu_s"] = dp_cpu / n;
  state.counters["dp_over_plain_cpu"] = dp_cpu / plain_cpu;
  state.counters["dp_over_plain_wall"] = dp_wall / plain_wall;
  label(state);
}

BENCHMARK(BM_ExtraMemory)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlainStep)->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK(BM_DpSgdStep)->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK(BM_DpSgdPoissonStep)->Unit(benchmark::kMillisecond)->MinTime(5.0);
BENCHMARK(BM_DpOverPlain)->Unit(benchmark::kMillisecond)->MinTime(8.0);

}  // namespace

BENCHMARK_MAIN();
