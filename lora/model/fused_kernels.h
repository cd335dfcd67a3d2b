#pragma once
// Raw-pointer row kernels behind the fused autograd ops (fused_ops.h, attention.h). Each
// does in one or two passes over a row what the plain ATen composition does in several
// full-tensor passes. All float32, row-major, contiguous unless a stride is given.
//
// Like lora/quant, the default build has no -march flags: the AVX2+FMA versions are
// compiled per function with __attribute__((target)) and chosen at run time; other CPUs
// run the scalar loops. The two paths agree to float rounding (exp is a Cephes-style
// polynomial on the AVX2 path, std::exp on the scalar one; sums run in a different
// order), which tests/lora/model/fused_ops_test.cpp checks for both.
#include <cstdint>

namespace fedlora::lora::kernels {

/// True when the AVX2+FMA kernels run (CPU support and not switched off).
bool simd_enabled();
/// Switches the AVX2 path off (false) or back on where supported (true), process-wide.
/// For tests and benchmarks that compare the two paths; not thread-safe.
void set_simd(bool enabled);

// --- RMSNorm (Zhang & Sennrich 2019): y = x · inv · w, inv = 1/sqrt(mean(x²) + eps) ---

/// x, y: [rows, d]; w: [d]; inv: [rows] (out). If delta is non-null, the input is
/// x + delta and that sum is written to sum_out ([rows, d]) in the same pass.
void rms_norm_forward(const float* x, const float* w, float eps, int64_t rows, int64_t d, float* y, float* inv,
                      const float* delta = nullptr, float* sum_out = nullptr);

/// Backward of rms_norm_forward for upstream g [rows, d]:
///   dx = extra + inv·(g⊙w) − x · inv³/d · Σ(g⊙w⊙x)   (extra: [rows, d] or null for 0)
///   dw += Σ_rows g⊙x·inv                               (dw: [d], or null to skip)
/// dx may alias extra.
void rms_norm_backward(const float* x, const float* w, const float* inv, const float* g, const float* extra,
                       int64_t rows, int64_t d, float* dx, float* dw);

// --- SwiGLU (Shazeer 2020): out = silu(gate) ⊙ up, silu(g) = g·σ(g) ---

void swiglu_forward(const float* gate, const float* up, int64_t n, float* out);
/// dgate = d ⊙ up ⊙ σ(g)(1 + g(1 − σ(g))), dup = d ⊙ silu(g).
void swiglu_backward(const float* gate, const float* up, const float* d, int64_t n, float* dgate, float* dup);

// --- Rotary embedding, adjacent pairs (2i, 2i+1) (RoFormer §3.4, ggml "normal" mode) ---

/// Moves head vectors between the projections' layout [n, t, heads, hd] ("natural") and
/// the attention's per-KV-head layout [n, heads/group, t, group, hd] ("grouped": the group
/// query heads sharing a KV head, position-major), rotating them on the way when c2 != null.
/// Head h is (kv, g) = (h / group, h % group). to_grouped: x natural → out grouped; else x
/// grouped → out natural. c2, s2: [>= t, hd] expanded tables with c2[p, 2i] = c2[p, 2i+1] =
/// cos(p θ_i), s2[p, 2i] = −sin(p θ_i), s2[p, 2i+1] = +sin(p θ_i); inverse = true rotates by
/// −pθ (the transpose, for gradients). hd must be even; x and out must not overlap.
void rope_regroup(const float* x, int64_t n, int64_t t, int64_t heads, int64_t group, int64_t hd, const float* c2,
                  const float* s2, bool inverse, bool to_grouped, float* out);

// --- Causal softmax over a block of score rows ---

/// Rows i < rows of s (row stride ld) hold scores of query position p = first + i / group
/// (group consecutive rows per position) against keys [0, width), width > p. Row i:
/// s[i, 0..p] ← softmax(s[i, 0..p]), s[i, p+1..width) ← 0.
void causal_softmax_forward(float* s, int64_t rows, int64_t ld, int64_t first, int64_t width, int64_t group = 1);
/// Same rows: dp ← scale · p ⊙ (dp − Σ_j p ⊙ dp) on j <= position, 0 above (in place in dp).
void causal_softmax_backward(const float* p, int64_t ldp, float* dp, int64_t ldd, int64_t rows, int64_t first,
                             int64_t width, float scale, int64_t group = 1);

// --- Cross-entropy over logit rows [rows, v] ---

/// nll[r] = w_r · (logsumexp(z_r) − z_r[target_r]) (w_r = 1 if weights is null; rows with
/// w_r == 0 are not read and give nll 0); lse[r] = logsumexp(z_r); hit[r] = 1 if the first
/// argmax of z_r equals target_r and w_r > 0. Returns the index of the first row whose
/// target is outside [0, v), or -1 when all are valid (nothing is written from that row on).
int64_t cross_entropy_forward(const float* z, int64_t rows, int64_t v, const int64_t* target, const float* weights,
                              float* nll, float* lse, uint8_t* hit);
/// dz[r, :] = g_r · w_r · (softmax(z_r) − onehot(target_r)); rows with g_r·w_r == 0 are zeroed.
void cross_entropy_backward(const float* z, int64_t rows, int64_t v, const int64_t* target, const float* weights,
                            const float* lse, const float* g, float* dz);

// --- LoRA adapter gradients (Hu et al. 2021) over a frozen weight ---

/// For rows m of x [rows, in] and δ [rows, out] (row strides in and out), with
/// a = lora_A [r, in] and bt = lora_Bᵀ [r, out]:
///   da  += Σ_m (δ_m · B)ᵀ ⊗ x_m     [r, in]    (= (δB)ᵀ x)
///   dbt += Σ_m (x_m · Aᵀ)ᵀ ⊗ δ_m    [r, out]   (= (xAᵀ)ᵀ δ, i.e. (δᵀ (xAᵀ))ᵀ)
/// Rows are processed in blocks that stay in cache, so x and δ are each read from memory
/// once (the four thin products through a BLAS read them twice and run far below peak).
/// Call once per example with that example's rows and accumulators for per-example
/// gradients. The LoRA scale is not applied.
void lora_grad_accumulate(const float* x, const float* d, int64_t rows, int64_t in, int64_t out, const float* a,
                          const float* bt, int64_t r, float* da, float* dbt);

/// The same sums when δB [rows, r] is already computed (int8 base products compute it for
/// the input gradient): da += (δB)ᵀ x and dbt += (xAᵀ)ᵀ δ, with xAᵀ recomputed per block of
/// rows (saving it from the forward pass would keep many small buffers alive between the
/// passes, which fragments the heap: +50 MB peak at the 1.1B shape). The LoRA scale is not
/// applied.
void lora_grad_accumulate_given(const float* x, const float* d, int64_t rows, int64_t in, int64_t out, const float* a,
                                const float* db, int64_t r, float* da, float* dbt);

/// The same sums when xAᵀ [rows, r] was kept from the forward pass as well: da += (δB)ᵀ x,
/// dbt += (xAᵀ)ᵀ δ. The LoRA scale is not applied.
void lora_grad_accumulate_saved(const float* x, const float* d, int64_t rows, int64_t in, int64_t out,
                                const float* xa, const float* db, int64_t r, float* da, float* dbt);

/// The two halves of lora_grad_accumulate_saved, for callers that run each while its input
/// is still in cache: dbt [r, out] += (xAᵀ)ᵀ δ with xa [rows, r], d [rows, out]; and
/// da [r, in] += (δB)ᵀ x with db [rows, r], x [rows, in]. Same sums, same order.
void lora_grad_accumulate_b(const float* d, int64_t rows, int64_t out, const float* xa, int64_t r, float* dbt);
void lora_grad_accumulate_a(const float* x, int64_t rows, int64_t in, const float* db, int64_t r, float* da);

}  // namespace fedlora::lora::kernels
