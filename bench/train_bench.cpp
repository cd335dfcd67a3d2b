// Device training speed: one LoRA train step (forward + lm_loss + backward + Adam on the
// adapter) of the default Llama config on a frozen F32 / Q8_0 / Q4_0 base, one thread, and
// this machine's plain sgemm rate at the step's own GEMM shapes, so the step's achieved
// GFLOP/s can be read as a share of what the BLAS does on bare matrices.
//
// All rates are per second of this thread's CPU time (Google Benchmark's "CPU" column):
// the VM is shared, and wall time there also counts the time another process held the
// core. GFLOPs_wall is the same rate over wall time, for comparison.
//
// Counters
//   items_per_second   tokens/s (predicted positions N·T per step)
//   GFLOPs             achieved GFLOP/s of the step (FLOP count below / CPU time)
//   sgemm_GFLOPs       plain at::mm rate at the step's GEMM shapes, best of 5 passes run
//                      right after the steps (sgemm_reference_gflops)
//   share_of_sgemm     GFLOPs / sgemm_GFLOPs
//   sgemm_hot_GFLOPs   the same shapes, each timed alone on operands hot in cache (the
//                      BLAS's best case; sgemm_hot_gflops)
//   share_of_hot_sgemm GFLOPs / sgemm_hot_GFLOPs (the stricter ratio)
//   resident_bytes     BaseModel::resident_bytes() of the base (blocks + fp32 norms)
//   flop_per_token     the count used, so the table can be checked by hand
//   page_faults_per_step  minor page faults per step (fresh mmap'd buffers)
//
// FLOP count of one step (a multiply-add is 2 FLOP): M = N·T tokens, L layers, T positions,
// D = dim, r = LoRA rank, V·D = LM head (tied: the embedding matrix), P = Σ over all 7·L
// projections of in·out, P₀ = the same over layer 0's q, k, v, S = Σ over the adapted
// projections (all 7·L here) of (in + out). What the implementation computes:
//   forward   2·M·P + 2·M·V·D                  x·W'ᵀ per projection with the merged weight
//                                              W' = W + s·B·A, and the head
//           + 2·r·P                            the merges (once per step, not per token)
//           + 4·M·D·L·E/T                      attention: S = Q·Kᵀ and P·V per query head
//                                              over E = attention_scores_computed(T) score
//                                              entries per head: query rows go in blocks of
//                                              32 that see only keys up to the block's end,
//                                              so E = 32·(32 + 64 + 96 + 128) = 10 240 of
//                                              the 16 384 for T = 128 (the masked entries
//                                              inside the diagonal blocks are computed:
//                                              counted)
//   backward  2·M·(P − P₀) + 2·M·V·D           dx = δ·W' for every weight except layer-0
//                                              q/k/v, whose input (the embedding output)
//                                              needs no gradient; the frozen base has no
//                                              weight-gradient GEMM
//           + 2·r·(P − P₀)                     the merges again (recomputed, not stored)
//           + 4·M·r·S                          LoRA: x·Aᵀ, δ·B, s·(δB)ᵀ·x, s·δᵀ·(xAᵀ)
//           + 8·M·D·L·E/T                      attention: dP = dC·Vᵀ, dV = Pᵀ·dC,
//                                              dQ = dS·K, dK = dSᵀ·Q over the same entries
//   flop_per_token = [M·(4P + 4V·D − 2P₀ + 4rS + 12·D·L·E/T) + 2r·(2P − P₀)] / M
// With activation checkpointing (ckpt = 1) backward first reruns every block's forward:
// + [M·(2P + 4·D·L·E/T) + 2r·P] / M. GFLOPs counts the work executed, recompute included;
// tokens/s is the figure to compare the two modes by. With int8 = 1 the base products are
// int8 (and the LoRA path separate, without merges); GFLOPs then still counts the fp32
// path's work, i.e. it is a work-equivalent rate.
// For the default config, T = 128: P = 3 145 728, V·D = 1 048 576, P₀ = 131 072,
// S = 19 456, E = 10 240, so 18.12 MFLOP per token (+ 0.099 GFLOP of merges per step).
// Elementwise work (norms, RoPE, softmax, SiLU, cross-entropy, Adam, dequantization) is
// not counted.
//
//   peak_rss_MB        the process's peak resident set (VmHWM) from just before the step's
//                      state is built to the end of the timed steps: weights, LibTorch,
//                      activations, Adam. Run one TrainStep per process for a clean figure
//                      (bench/train_shapes.sh does), as a larger earlier one raises the heap.
//   step_added_MB      peak_rss_MB minus the RSS just before (runtime and base weights): what
//                      client::estimate_step_bytes estimates
//
// Shapes (--shape=NAME, default "default"): default (LlamaConfig{}), smollm2-135m and
// tinyllama-1b (random weights, 4,096-token vocabulary), or a path to a GGUF base.
//
// Run: build/bin/train_bench [--shape=NAME] [--benchmark_filter=TrainStep]
//      build/bin/train_bench [--shape=NAME] [--products=fp32|int8] --profile=trace.json
//   --profile=PATH runs a few Q4_0 steps (batch 16 × 128; 4 × 128 at other shapes) under the LibTorch legacy
//   profiler, writes a chrome trace to PATH, prints self time per (op, input shapes) and
//   exits.
#include <benchmark/benchmark.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/optim/adam.h>

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "lora/adapter/adapter_init.h"
#include "lora/model/attention.h"
#include "lora/model/train_flops.h"
#include "lora/model/base_model.h"
#include "lora/model/dense_model.h"
#include "lora/model/lora_model.h"
#include "lora/model/runtime.h"

namespace {

using namespace fedlora::lora;

constexpr int kRank = 8;
constexpr float kAlpha = 16.0f;
constexpr uint64_t kSeed = 1234;

const std::vector<TargetModule> kTargets(std::begin(kAllTargetModules), std::end(kAllTargetModules));

// The model shape the step runs at (--shape): a named config with random weights and this
// repo's 4,096-token vocabulary, or a GGUF base file (its weights, re-encoded per type).
struct Shape {
  std::string name = "default";
  LlamaConfig config;
  std::string gguf;  // non-empty: load weights from this file
};
Shape g_shape;

// Named shapes. smollm2-135m: SmolLM2-135M's decoder (576, 30 layers, 9/3 heads, FFN 1536,
// tied head); tinyllama-1b: TinyLlama-1.1B's (2048, 22 layers, 32/4 heads, FFN 5632,
// untied head). With a 4,096-token vocabulary: 108.6M and 977M parameters.
Shape parse_shape(const std::string& s) {
  Shape sh;
  sh.name = s;
  LlamaConfig& c = sh.config;
  if (s == "default") return sh;
  if (s == "smollm2-135m") {
    c.dim = 576; c.n_layers = 30; c.n_heads = 9; c.n_kv_heads = 3; c.ffn_dim = 1536;
    c.tied_embeddings = true; c.rope_theta = 100000.0f; c.context_length = 2048;
    return sh;
  }
  if (s == "tinyllama-1b") {
    c.dim = 2048; c.n_layers = 22; c.n_heads = 32; c.n_kv_heads = 4; c.ffn_dim = 5632;
    c.tied_embeddings = false; c.context_length = 2048;
    return sh;
  }
  if (s.size() > 5 && s.substr(s.size() - 5) == ".gguf") {
    sh.gguf = s;
    sh.config = load_base_model(s)->config;
    return sh;
  }
  throw std::invalid_argument("train_bench: unknown --shape '" + s + "': default, smollm2-135m, tinyllama-1b or a .gguf path");
}

const LlamaConfig& shape_config() { return g_shape.config; }

// Sequence length of the step: the default shape's whole context (128), else 128.
int64_t step_seq_len() { return std::min<int64_t>(128, shape_config().context_length); }

// lora/model/train_flops.h has the formula (all 7 projections adapted here).
double step_flop_per_token(const LlamaConfig& c, int64_t t, int64_t tokens_per_step, bool checkpointed) {
  return fedlora::lora::train_flop_per_token(c, kAllTargetModules, kRank, t, tokens_per_step, checkpointed);
}

// One base per format. Random weights ~ N(0, 0.02²) (norms 1) are drawn one tensor at a
// time and encoded right away, so building a 1B-class base never holds it in fp32.
std::shared_ptr<const BaseModel> base_for(GgmlType type) {
  static std::map<GgmlType, std::shared_ptr<const BaseModel>> cache;
  auto it = cache.find(type);
  if (it != cache.end()) return it->second;
  std::shared_ptr<const BaseModel> base;
  if (!g_shape.gguf.empty()) {
    base = load_base_model(g_shape.gguf, type);
  } else {
    const LlamaConfig& c = shape_config();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(kSeed);
    auto random = [&](int64_t rows, int64_t cols) {
      auto w = at::normal(0.0, 0.02, {rows, cols}, gen).contiguous();
      return QuantizedTensor::quantize(w.data_ptr<float>(), rows, cols, type);
    };
    auto b = std::make_shared<BaseModel>();
    b->config = c;
    b->token_embd.push_back(random(c.vocab_size, c.dim));
    if (!c.tied_embeddings) b->output.push_back(random(c.vocab_size, c.dim));
    b->output_norm = at::ones({c.dim});
    for (int l = 0; l < c.n_layers; ++l) {
      BaseBlock blk;
      blk.attn_norm = at::ones({c.dim});
      blk.ffn_norm = at::ones({c.dim});
      for (TargetModule m : kAllTargetModules)
        blk.proj.push_back(random(c.projection(m).out_features, c.projection(m).in_features));
      b->blocks.push_back(std::move(blk));
    }
    base = b;
  }
  cache.emplace(type, base);
  return base;
}

// One device's training state: adapter (random A and small random B so every GEMM does
// real work), model, Adam, and a fixed batch of tokens [N, T + 1].
struct TrainState {
  LoraAdapter adapter;
  LoraModel model;
  torch::optim::Adam opt;
  at::Tensor tokens;

  static LoraAdapter initial_adapter() {
    LoraAdapter a(make_adapter_layout(shape_config(), kRank, kAlpha, kTargets));
    auto v = init_adapter_vector(a.layout(), kSeed);
    for (const auto& t : a.layout().tensors())  // non-zero B: gradients of A are not trivially zero
      if (t.is_b)
        for (int64_t i = 0; i < t.numel(); ++i) v[t.offset + i] = 1e-3f * static_cast<float>((i * 7919) % 13 - 6);
    a.load_flat(v);
    return a;
  }
  TrainState(std::shared_ptr<const BaseModel> base, int64_t n, int64_t t, bool checkpoint = false,
             BaseGemm gemm = BaseGemm::fp32)
      : adapter(initial_adapter()), model(std::move(base), adapter),
        opt(adapter.tensors(), torch::optim::AdamOptions(1e-4)) {
    model.set_activation_checkpointing(checkpoint);
    model.set_base_gemm(gemm);
    tokens = at::randint(0, shape_config().vocab_size, {n, t + 1}, at::make_generator<at::CPUGeneratorImpl>(kSeed));
  }
  double step() {
    opt.zero_grad();
    auto loss = lm_loss(model, tokens);
    auto mean = loss.sum / static_cast<double>(loss.n_targets);
    mean.backward();
    opt.step();
    return mean.item<double>();
  }
};

// CPU time of the calling thread. The step and the reference sgemm both run on this one
// thread (LibTorch intra-op and OpenBLAS set to 1 thread), so on a shared, time-sliced VM
// CPU time measures the work while wall time also counts waiting for the core.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Minor page faults of this process so far: fresh mmap'd buffers fault on first touch,
// which is expensive on this VM (runtime.h).
long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

void one_thread() {
  static const bool done = [] {
    set_compute_threads(1);
    keep_freed_memory_in_heap();
    return true;
  }();
  (void)done;
}

// Plain sgemm (at::mm into a preallocated output) over exactly the big GEMMs of one step
// for M = N·T rows: forward x·Wᵀ of every projection and the head, backward δ·W of the
// same weights. Returns GFLOP/s, best of `reps` passes.
// The same GEMM set, but each distinct shape timed on its own in a loop over the same
// operands (hot in cache), i.e. the BLAS's best case at each shape: total FLOP divided by
// Σ count × best time of the shape.
double sgemm_hot_gflops(int64_t m) {
  one_thread();
  const LlamaConfig& c = shape_config();
  std::map<std::pair<int64_t, int64_t>, int> count;  // (in, out) -> weights of that shape
  for (TargetModule mod : kAllTargetModules)
    count[{c.projection(mod).in_features, c.projection(mod).out_features}] += static_cast<int>(c.n_layers);
  count[{c.dim, c.vocab_size}] += 1;
  double flop = 0, secs = 0;
  for (const auto& [shape, n] : count) {
    const auto [in, out] = shape;
    auto w = at::randn({out, in}), x = at::randn({m, in}), d = at::randn({m, out});
    auto y = at::empty({m, out}), dx = at::empty({m, in});
    for (int dir = 0; dir < 2; ++dir) {
      double best = 1e30;
      for (int r = 0; r < 6; ++r) {
        const double t0 = thread_cpu_seconds();
        dir == 0 ? at::mm_out(y, x, w.t()) : at::mm_out(dx, d, w);
        if (r > 0) best = std::min(best, thread_cpu_seconds() - t0);  // r = 0 warms up
      }
      flop += 2.0 * m * in * out * n;
      secs += best * n;
    }
  }
  return flop / secs * 1e-9;
}

double sgemm_reference_gflops(int64_t m, int reps) {
  one_thread();
  const LlamaConfig& c = shape_config();
  struct Gemm { at::Tensor a, b, out; double flop; };
  std::vector<Gemm> gemms;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(kSeed);
  auto add = [&](int64_t in, int64_t out, int count) {
    for (int i = 0; i < count; ++i) {
      auto w = at::randn({out, in}, gen);
      auto x = at::randn({m, in}, gen), d = at::randn({m, out}, gen);
      gemms.push_back({x, w.t(), at::empty({m, out}), 2.0 * m * in * out});  // forward
      gemms.push_back({d, w, at::empty({m, in}), 2.0 * m * in * out});       // backward dx
    }
  };
  for (TargetModule mod : kAllTargetModules) add(c.projection(mod).in_features, c.projection(mod).out_features, c.n_layers);
  add(c.dim, c.vocab_size, 1);
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    double flop = 0;
    const double t0 = thread_cpu_seconds();
    for (auto& g : gemms) {
      at::mm_out(g.out, g.a, g.b);
      flop += g.flop;
    }
    const double s = thread_cpu_seconds() - t0;
    best = std::max(best, flop / s * 1e-9);
  }
  return best;
}

void BM_TrainStep(benchmark::State& state, GgmlType type) {
  one_thread();
  const int64_t n = state.range(0), t = step_seq_len();
  const bool checkpoint = state.range(1) != 0;
  const BaseGemm gemm = state.range(2) != 0 ? BaseGemm::int8 : BaseGemm::fp32;
  auto base = base_for(type);
  // Memory is measured on the first call of each benchmark only: Google Benchmark calls it
  // again to size the run, and the heap keeps what the first call freed (runtime.h).
  static std::map<std::tuple<GgmlType, int64_t, bool, BaseGemm>, std::pair<long, long>> memory;  // -> (peak, RSS before)
  const auto key = std::make_tuple(type, n, checkpoint, gemm);
  const bool first = !memory.count(key);
  reset_resident_peak();  // the peak then excludes building the random base
  const long rss_before = resident_now();
  TrainState s(base, n, t, checkpoint, gemm);
  s.step();  // warm-up: allocations, rope tables, scratch buffers
  const auto w0 = std::chrono::steady_clock::now();
  const long f0 = minor_faults();
  const double c0 = thread_cpu_seconds();
  for (auto _ : state) benchmark::DoNotOptimize(s.step());
  const double secs = thread_cpu_seconds() - c0;
  state.counters["page_faults_per_step"] =
      static_cast<double>(minor_faults() - f0) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  if (first) memory[key] = {resident_peak_since_reset(), rss_before};
  const auto [peak, before] = memory[key];
  const double tokens = static_cast<double>(n * t) * static_cast<double>(state.iterations());
  const double fpt = step_flop_per_token(base->config, t, n * t, checkpoint);
  const double gflops = fpt * tokens / secs * 1e-9;
  state.counters["GFLOPs_wall"] = fpt * tokens / wall * 1e-9;
  // The reference right after the steps, so both see the same machine state (the VM is
  // shared; its load drifts).
  const double ref = sgemm_reference_gflops(n * t, 5);
  const double hot = sgemm_hot_gflops(n * t);
  state.SetItemsProcessed(static_cast<int64_t>(tokens));
  state.counters["GFLOPs"] = gflops;
  state.counters["sgemm_GFLOPs"] = ref;
  state.counters["share_of_sgemm"] = gflops / ref;
  state.counters["sgemm_hot_GFLOPs"] = hot;
  state.counters["share_of_hot_sgemm"] = gflops / hot;
  state.counters["resident_bytes"] = static_cast<double>(base->resident_bytes());
  state.counters["flop_per_token"] = fpt;
  state.counters["peak_rss_MB"] = static_cast<double>(peak) / 1e6;
  state.counters["step_added_MB"] = static_cast<double>(peak - before) / 1e6;
  state.SetLabel(g_shape.name + ", " + std::to_string(n) + "x" + std::to_string(t) +
                 " tokens, LoRA r=8 on all 7 projections" + (checkpoint ? ", checkpointed" : "") +
                 (gemm == BaseGemm::int8 ? ", int8 base products" : ""));
}

// Plain sgemm at two single shapes of the step, for the README (M = 1024 rows).
void BM_Sgemm(benchmark::State& state) {
  one_thread();
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  auto a = at::randn({m, k}), b = at::randn({k, n}), out = at::empty({m, n});
  at::mm_out(out, a, b);
  const double t0 = thread_cpu_seconds();
  for (auto _ : state) {
    at::mm_out(out, a, b);
    benchmark::ClobberMemory();
  }
  const double secs = thread_cpu_seconds() - t0;
  state.counters["GFLOPs"] = 2.0 * m * k * n * static_cast<double>(state.iterations()) / secs * 1e-9;
}

// The step's GEMM set as plain sgemm (what share_of_sgemm divides by), on its own.
void BM_SgemmStepShapes(benchmark::State& state) {
  const int64_t m = state.range(0);
  double best = 0;
  for (auto _ : state) best = std::max(best, sgemm_reference_gflops(m, 1));
  state.counters["sgemm_GFLOPs"] = best;
}

// The attention op alone (RoPE, causal softmax, 6 products per head), forward + backward,
// at batch 4 × 128: args N, T, query heads, KV heads, head dim, bf16 products (0|1: the int8
// fast path's choice, bf16_gemm.h). GFLOPs counts the products
// over the score entries computed (attention_scores_computed), 2·hd FLOP each.
void BM_Attention(benchmark::State& state) {
  one_thread();
  const int64_t n = state.range(0), t = state.range(1), h = state.range(2), kv = state.range(3), hd = state.range(4);
  const auto products = state.range(5) ? fedlora::lora::FloatProducts::bf16 : fedlora::lora::FloatProducts::fp32;
  if (products == fedlora::lora::FloatProducts::bf16 && !fedlora::lora::bf16_products_available()) {
    state.SkipWithError("this CPU has no AVX512_BF16");
    return;
  }
  auto q = at::randn({n, t, h * hd}).set_requires_grad(true);
  auto k = at::randn({n, t, kv * hd}).set_requires_grad(true);
  auto v = at::randn({n, t, kv * hd}).set_requires_grad(true);
  auto pos = at::arange(t, at::kFloat).unsqueeze(1);
  auto inv = at::pow(10000.0, -at::arange(0, hd, 2, at::kFloat) / static_cast<double>(hd)).unsqueeze(0);
  auto angles = pos * inv;
  auto cos = at::cos(angles), sin = at::sin(angles);
  auto dout = at::randn({n, t, h * hd});
  const double t0 = thread_cpu_seconds();
  for (auto _ : state) {
    auto out = fedlora::lora::rope_causal_attention(q, k, v, cos, sin, h, kv, products);
    out.backward(dout);
    benchmark::DoNotOptimize(q.grad().data_ptr<float>());
  }
  const double secs = thread_cpu_seconds() - t0;
  const double flop = 6.0 * 2.0 * hd * static_cast<double>(fedlora::lora::attention_scores_computed(t)) * n * h;
  state.counters["GFLOPs"] = flop * static_cast<double>(state.iterations()) / secs * 1e-9;
}
BENCHMARK(BM_Attention)
    ->ArgsProduct({{4}, {128}, {32}, {4}, {64}, {0, 1}})  // tinyllama-1b
    ->ArgsProduct({{4}, {128}, {9}, {3}, {64}, {0, 1}})   // smollm2-135m
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_Sgemm)->Args({1024, 256, 768})->Args({1024, 256, 4096})->Args({1024, 768, 256})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SgemmStepShapes)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->Iterations(5);
// TrainStep/<type>/<batch N>/<checkpointed 0|1>/<int8 base products 0|1>, at the --shape
// chosen. The default shape
// runs batches of 8 and 16 for >= 2 s each; larger shapes batch 4 for 3 steps.
void register_train_steps() {
  const bool small = g_shape.name == "default";
  for (auto [name, type] : {std::pair{"F32", GgmlType::F32}, {"Q8_0", GgmlType::Q8_0}, {"Q4_0", GgmlType::Q4_0}}) {
    auto* b = benchmark::RegisterBenchmark((std::string("BM_TrainStep/") + name).c_str(), BM_TrainStep, type);
    b->ArgNames({"N", "ckpt", "int8"})->Unit(benchmark::kMillisecond);
    if (small)
      b->ArgsProduct({{8, 16}, {0, 1}, {0, 1}})->MinTime(2.0);
    else
      b->ArgsProduct({{4}, {0, 1}, {0, 1}})->Iterations(3);
  }
}

// Self time (µs, summed over steps) of each (op, input shapes) pair from the legacy
// profiler's push/pop events on this thread, largest first.
void print_op_table(const torch::autograd::profiler::thread_event_lists& lists, int steps, size_t top) {
  using torch::autograd::profiler::EventKind;
  using torch::autograd::profiler::LegacyEvent;
  std::map<std::string, std::pair<double, int>> self;  // key -> (µs, calls)
  double total = 0;
  for (const auto& list : lists) {
    struct Open { const LegacyEvent* e; double child_us; };
    std::vector<Open> stack;
    for (const auto& e : list) {
      if (e.kind() == EventKind::PushRange) {
        stack.push_back({&e, 0.0});
      } else if (e.kind() == EventKind::PopRange && !stack.empty()) {
        const Open o = stack.back();
        stack.pop_back();
        const double us = o.e->cpuElapsedUs(e);
        std::string key = o.e->name();
        for (const auto& sh : o.e->shapes()) {
          key += " [";
          for (size_t i = 0; i < sh.size(); ++i) key += (i ? "," : "") + std::to_string(sh[i]);
          key += "]";
        }
        auto& slot = self[key];
        slot.first += us - o.child_us;
        slot.second += 1;
        if (stack.empty()) total += us; else stack.back().child_us += us;
      }
    }
  }
  std::vector<std::pair<std::string, std::pair<double, int>>> rows(self.begin(), self.end());
  std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.second.first > y.second.first; });
  std::printf("per step: %.1f ms profiled\n", total / 1000.0 / steps);
  for (size_t i = 0; i < std::min(top, rows.size()); ++i)
    std::printf("%6.2f%% %9.2f ms/step %6d calls/step  %s\n", 100.0 * rows[i].second.first / total,
                rows[i].second.first / 1000.0 / steps, rows[i].second.second / steps, rows[i].first.c_str());
}

BaseGemm g_profile_gemm = BaseGemm::fp32;  // --products=int8

int profile(const std::string& path) {
  one_thread();
  const int64_t batch = g_shape.name == "default" ? 16 : 4;
  TrainState s(base_for(GgmlType::Q4_0), batch, step_seq_len(), false, g_profile_gemm);
  s.step();
  s.step();
  constexpr int kSteps = 3;
  {
    torch::autograd::profiler::RecordProfile guard(path);
    for (int i = 0; i < kSteps; ++i) s.step();
  }
  std::cout << "wrote " << path << " (" << kSteps << " steps, " << g_shape.name << ", Q4_0 base, batch " << batch
            << "x" << step_seq_len() << ", " << to_string(g_profile_gemm) << " base products, 1 thread)\n";
  torch::profiler::impl::ProfilerConfig cfg(torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/true);
  torch::autograd::profiler::enableProfilerLegacy(cfg);
  for (int i = 0; i < kSteps; ++i) s.step();
  print_op_table(torch::autograd::profiler::disableProfilerLegacy(), kSteps, 60);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  fedlora::lora::ensure_fast_blas_kernels(argv);
  // Our flags first (removed from argv), then Google Benchmark's.
  std::string profile_path;
  int kept = 1;
  try {
    for (int i = 1; i < argc; ++i) {
      if (std::strncmp(argv[i], "--profile=", 10) == 0) profile_path = argv[i] + 10;
      else if (std::strncmp(argv[i], "--shape=", 8) == 0) g_shape = parse_shape(argv[i] + 8);
      else if (std::strncmp(argv[i], "--products=", 11) == 0) g_profile_gemm = parse_base_gemm(argv[i] + 11);
      else argv[kept++] = argv[i];
    }
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  argc = kept;
  if (!profile_path.empty()) return profile(profile_path);
  register_train_steps();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
