#pragma once
// Row order of the rotary projections. llama.cpp (and every GGUF base here) stores q/k rows so
// that RoPE rotates adjacent pairs (x[2i], x[2i+1]); Hugging Face Llama stores them for
// `rotate_half`, which pairs x[i] with x[i + head_dim/2]. llama.cpp's converter
// (convert_hf_to_gguf.py, LlamaModel.permute) maps the second to the first. A LoRA delta
// B·A on q/k lives in the same row space as W, so only lora_B's rows move.
#include <cstdint>
#include <span>
#include <vector>

#include "lora/adapter/adapter_layout.h"

namespace fedlora::lora {

/// HF → GGUF: llama.cpp's `permute(w, n_head, n_head)` on a row-major [rows, cols] matrix:
/// within each head of rows/n_head rows, GGUF row 2i+j takes HF row j·(hd/2)+i.
/// Throws std::invalid_argument if rows is not a multiple of 2·n_head or the size is not rows·cols.
std::vector<float> permute_rope_rows(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head);

/// GGUF → HF: the inverse of permute_rope_rows (same arguments and errors).
std::vector<float> unpermute_rope_rows(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head);

/// Which order a flat adapter's q/k lora_B rows follow.
enum class QkRowOrder : uint8_t {
  gguf,  ///< llama.cpp's interleaved pairs: what the decoder trains and GGUF adapters carry
  hf,    ///< Hugging Face rotate_half: what PEFT expects for a base that came from HF
};

/// Re-orders, in place, the lora_B rows of q (n_heads heads) and k (n_kv_heads heads) in
/// `flat` (layout order, float32) from `from` to `to`. Other tensors are untouched; a no-op
/// when from == to. Throws AdapterError on a size mismatch.
void convert_qk_rows(const AdapterLayout& layout, std::span<float> flat, int64_t n_heads, int64_t n_kv_heads,
                     QkRowOrder from, QkRowOrder to);

}  // namespace fedlora::lora
