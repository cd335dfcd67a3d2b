#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <random>

#include "lora/adapter/adapter_io.h"
#include "lora/export/adapter_for_base.h"
#include "lora/export/gguf_adapter.h"
#include "lora/export/merge_adapter.h"
#include "lora/export/rope_rows.h"
#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "lora/format/safetensors.h"
#include "lora/quant/quantized_tensor.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using namespace fedlora::lora;

namespace {

// A one-block llama base with F32 weights: dim 8, one head of 8 (so q and k rows form one
// rotary head), ffn 16, vocab 32. W[r][c] = 0.01·(r·cols + c) + tensor index, easy to recompute.
constexpr int64_t kDim = 8, kFfn = 16, kVocab = 32;

float weight_value(int tensor, int64_t r, int64_t c, int64_t cols) {
  return 0.01f * static_cast<float>(r * cols + c) + static_cast<float>(tensor);
}

void write_base(const fs::path& path, bool from_hf) {
  gguf::GgufWriter w;
  w.set("general.architecture", std::string("llama"));
  w.set("general.name", std::string("tiny"));
  if (from_hf) w.set("general.source.format", std::string("huggingface-safetensors"));
  w.set("llama.vocab_size", uint32_t{kVocab});
  w.set("llama.context_length", uint32_t{16});
  w.set("llama.embedding_length", uint32_t{kDim});
  w.set("llama.block_count", uint32_t{1});
  w.set("llama.feed_forward_length", uint32_t{kFfn});
  w.set("llama.attention.head_count", uint32_t{1});
  w.set("llama.attention.head_count_kv", uint32_t{1});
  w.set("llama.rope.dimension_count", uint32_t{kDim});
  w.set("llama.rope.freq_base", 10000.0f);
  w.set("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  int index = 0;
  auto add = [&](const std::string& name, int64_t rows, int64_t cols) {
    std::vector<float> f(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) f[static_cast<size_t>(r * cols + c)] = weight_value(index, r, c, cols);
    ++index;
    std::vector<std::byte> b(f.size() * 4);
    std::memcpy(b.data(), f.data(), b.size());
    if (rows == 1) w.add_tensor(name, GgmlType::F32, {static_cast<uint64_t>(cols)}, std::move(b));
    else w.add_tensor(name, GgmlType::F32, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}, std::move(b));
  };
  add("token_embd.weight", kVocab, kDim);
  add("output_norm.weight", 1, kDim);
  add("blk.0.attn_norm.weight", 1, kDim);
  add("blk.0.attn_q.weight", kDim, kDim);
  add("blk.0.attn_k.weight", kDim, kDim);
  add("blk.0.attn_v.weight", kDim, kDim);
  add("blk.0.attn_output.weight", kDim, kDim);
  add("blk.0.ffn_norm.weight", 1, kDim);
  add("blk.0.ffn_gate.weight", kFfn, kDim);
  add("blk.0.ffn_up.weight", kFfn, kDim);
  add("blk.0.ffn_down.weight", kDim, kFfn);
  w.write(path);
}

std::vector<float> floats(const safetensors::SafetensorsFile& f, const std::string& name) {
  auto b = f.tensor_bytes(name);
  std::vector<float> out(b.size() / 4);
  std::memcpy(out.data(), b.data(), b.size());
  return out;
}

std::vector<float> iota_flat(const AdapterLayout& layout) {
  std::vector<float> flat(static_cast<size_t>(layout.size()));
  std::iota(flat.begin(), flat.end(), 1.0f);
  return flat;
}

TEST(RopeRows, MatchesLlamaCppPermuteOnAHandWorkedHead) {
  // One head of 8 rows, 1 column: llama.cpp's permute puts HF rows (0,4),(1,5),(2,6),(3,7) side by side.
  const std::vector<float> hf{0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(permute_rope_rows(hf, 8, 1, 1), (std::vector<float>{0, 4, 1, 5, 2, 6, 3, 7}));
  EXPECT_EQ(unpermute_rope_rows(std::vector<float>{0, 4, 1, 5, 2, 6, 3, 7}, 8, 1, 1), hf);
  // Two heads of 4 rows: each head permuted on its own.
  EXPECT_EQ(permute_rope_rows(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}, 8, 1, 2),
            (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  EXPECT_THROW(permute_rope_rows(hf, 8, 1, 3), std::invalid_argument);
}

TEST(RopeRows, UnpermuteInvertsPermuteOnRandomMatrices) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> w(24 * 5);
  for (auto& x : w) x = u(rng);
  for (int64_t heads : {1, 2, 3, 6}) {
    EXPECT_EQ(unpermute_rope_rows(permute_rope_rows(w, 24, 5, heads), 24, 5, heads), w) << heads;
    EXPECT_EQ(permute_rope_rows(unpermute_rope_rows(w, 24, 5, heads), 24, 5, heads), w) << heads;
  }
}

TEST(PeftForBase, AnHfBaseGetsRotateHalfRowsInPeftAndBackInMemory) {
  fedlora::test::TempDir dir;
  write_base(dir / "hf.gguf", true);
  auto base = gguf::GgufFile::open(dir / "hf.gguf");
  const auto info = describe_base(base);
  ASSERT_EQ(info.peft_qk_order, QkRowOrder::hf);
  const auto layout = make_adapter_layout(info.config, 2, 4.0f, {TargetModule::q, TargetModule::v});
  const auto flat = iota_flat(layout);
  write_peft_adapter_for_base(dir / "peft", layout, flat, info);

  auto st = safetensors::SafetensorsFile::open(dir / "peft" / "adapter_model.safetensors");
  EXPECT_EQ(st.metadata().at("fedlora.qk_row_order"), "hf");
  const auto& qb = layout.tensors()[layout.index_of(0, TargetModule::q, true)];
  const auto got = floats(st, qb.name);
  // GGUF row 2i+j holds HF row 4j+i (head_dim 8): HF row h is GGUF row (h%4)·2 + h/4.
  for (int64_t h = 0; h < 8; ++h)
    for (int64_t c = 0; c < 2; ++c)
      EXPECT_EQ(got[static_cast<size_t>(h * 2 + c)], flat[static_cast<size_t>(qb.offset + ((h % 4) * 2 + h / 4) * 2 + c)]);
  // lora_A and v are not rotary rows: untouched.
  const auto& qa = layout.tensors()[layout.index_of(0, TargetModule::q, false)];
  const auto& vb = layout.tensors()[layout.index_of(0, TargetModule::v, true)];
  EXPECT_EQ(floats(st, qa.name), std::vector<float>(flat.begin() + qa.offset, flat.begin() + qa.offset + qa.numel()));
  EXPECT_EQ(floats(st, vb.name), std::vector<float>(flat.begin() + vb.offset, flat.begin() + vb.offset + vb.numel()));

  const auto back = read_peft_adapter_for_base(dir / "peft", info);
  EXPECT_EQ(back.flat, flat);
  EXPECT_TRUE(back.layout == layout);
}

TEST(PeftForBase, AGgufBaseKeepsItsRowsAndAForeignPeftFileFollowsItsBase) {
  fedlora::test::TempDir dir;
  write_base(dir / "own.gguf", false);
  write_base(dir / "hf.gguf", true);
  auto own = gguf::GgufFile::open(dir / "own.gguf");
  auto hf = gguf::GgufFile::open(dir / "hf.gguf");
  const auto own_info = describe_base(own), hf_info = describe_base(hf);
  EXPECT_EQ(own_info.peft_qk_order, QkRowOrder::gguf);
  const auto layout = make_adapter_layout(own_info.config, 2, 4.0f, {TargetModule::q, TargetModule::k});
  const auto flat = iota_flat(layout);
  // A PEFT file without fedlora's order key, as HF PEFT writes it: rows in HF order.
  save_adapter(dir / "foreign", layout, flat, "tiny");
  EXPECT_EQ(read_peft_adapter_for_base(dir / "foreign", own_info).flat, flat);
  auto expect = flat;
  convert_qk_rows(layout, expect, 1, 1, QkRowOrder::hf, QkRowOrder::gguf);
  EXPECT_NE(expect, flat);
  EXPECT_EQ(read_peft_adapter_for_base(dir / "foreign", hf_info).flat, expect);
}

TEST(GgufLoraAdapter, KeysNamesAndShapesAreWhatLlamaCppChecks) {
  fedlora::test::TempDir dir;
  write_base(dir / "base.gguf", false);
  auto base = gguf::GgufFile::open(dir / "base.gguf");
  const auto layout = make_adapter_layout(describe_base(base).config, 2, 4.0f, {TargetModule::q, TargetModule::down});
  const auto flat = iota_flat(layout);
  write_gguf_lora_adapter(dir / "a.gguf", layout, flat, base);
  auto a = gguf::GgufFile::open(dir / "a.gguf");
  EXPECT_EQ(a.find_string("general.architecture"), "llama");
  EXPECT_EQ(a.find_string("general.type"), "adapter");
  EXPECT_EQ(a.find_string("adapter.type"), "lora");
  EXPECT_EQ(a.find_f32("adapter.lora.alpha"), 4.0f);
  ASSERT_EQ(a.tensors().size(), 4u);
  // llama-adapter.cpp: a.ne = [in, r], b.ne = [r, out] for base ne = [in, out].
  const auto* qa = a.find_tensor("blk.0.attn_q.weight.lora_a");
  const auto* qb = a.find_tensor("blk.0.attn_q.weight.lora_b");
  const auto* da = a.find_tensor("blk.0.ffn_down.weight.lora_a");
  const auto* db = a.find_tensor("blk.0.ffn_down.weight.lora_b");
  ASSERT_TRUE(qa && qb && da && db);
  EXPECT_EQ(qa->dims, (std::vector<uint64_t>{8, 2}));
  EXPECT_EQ(qb->dims, (std::vector<uint64_t>{2, 8}));
  EXPECT_EQ(da->dims, (std::vector<uint64_t>{16, 2}));
  EXPECT_EQ(db->dims, (std::vector<uint64_t>{2, 8}));
  // Bytes are PEFT's row-major lora_A [r, in]: element (k, i) at k·in + i.
  const auto& t = layout.tensors()[layout.index_of(0, TargetModule::down, false)];
  auto bytes = a.tensor_bytes(*da);
  std::vector<float> got(bytes.size() / 4);
  std::memcpy(got.data(), bytes.data(), bytes.size());
  EXPECT_EQ(got, std::vector<float>(flat.begin() + t.offset, flat.begin() + t.offset + t.numel()));

  auto bad = flat;
  bad[3] = std::nanf("");
  EXPECT_THROW(write_gguf_lora_adapter(dir / "nan.gguf", layout, bad, base), std::invalid_argument);
  EXPECT_THROW(write_gguf_lora_adapter(dir / "q.gguf", layout, flat, base, GgmlType::Q4_0), std::invalid_argument);
}

TEST(MergeAdapter, AddsScaledBTimesAToTheTargetedWeightsOnly) {
  fedlora::test::TempDir dir;
  write_base(dir / "base.gguf", false);
  auto base = gguf::GgufFile::open(dir / "base.gguf");
  const auto info = describe_base(base);
  const auto layout = make_adapter_layout(info.config, 1, 2.0f, {TargetModule::v});  // scale 2
  std::vector<float> flat(static_cast<size_t>(layout.size()), 0.0f);
  const auto& A = layout.tensors()[layout.index_of(0, TargetModule::v, false)];  // [1, 8]
  const auto& B = layout.tensors()[layout.index_of(0, TargetModule::v, true)];   // [8, 1]
  flat[static_cast<size_t>(A.offset + 3)] = 0.5f;   // A = 0.5·e3
  flat[static_cast<size_t>(B.offset + 6)] = -1.0f;  // B = −e6
  const auto rep = merge_adapter_into_base(dir / "base.gguf", BoundAdapter{layout, flat}, dir / "m.gguf", GgmlType::F32);
  EXPECT_EQ(rep.merged_tensors, 1);
  auto m = gguf::GgufFile::open(dir / "m.gguf");
  EXPECT_EQ(m.find_uint("general.file_type"), 0u);
  for (const auto& t : base.tensors()) {
    auto a = base.tensor_bytes(t.name), b = m.tensor_bytes(t.name);
    std::vector<float> fa(a.size() / 4), fb(b.size() / 4);
    std::memcpy(fa.data(), a.data(), a.size());
    std::memcpy(fb.data(), b.data(), b.size());
    // v: W'[6][3] = W[6][3] + 2·(−1)·0.5 = W − 1; every other weight unchanged.
    if (t.name == "blk.0.attn_v.weight") fa[6 * 8 + 3] -= 1.0f;
    EXPECT_EQ(fa, fb) << t.name;
  }
  // F16 output (rows of 8 are too short for Q8_0/Q4_0 blocks): general.file_type 1, matrices F16, norms F32.
  merge_adapter_into_base(dir / "base.gguf", BoundAdapter{layout, flat}, dir / "m16.gguf", GgmlType::F16);
  auto m16 = gguf::GgufFile::open(dir / "m16.gguf");
  EXPECT_EQ(m16.find_uint("general.file_type"), 1u);
  EXPECT_EQ(m16.find_tensor("blk.0.attn_v.weight")->type, GgmlType::F16);
  EXPECT_EQ(m16.find_tensor("blk.0.attn_norm.weight")->type, GgmlType::F32);
  // An adapter for a wider model does not fit.
  auto wide_cfg = info.config;
  wide_cfg.ffn_dim = 32;
  const auto wide = make_adapter_layout(wide_cfg, 1, 1.0f, {TargetModule::up});
  EXPECT_THROW(merge_adapter_into_base(dir / "base.gguf",
                                       BoundAdapter{wide, std::vector<float>(static_cast<size_t>(wide.size()))},
                                       dir / "w.gguf", GgmlType::F32),
               AdapterError);
  EXPECT_FALSE(fs::exists(dir / "w.gguf"));
}

}  // namespace
