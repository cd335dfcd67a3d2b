// Base model GGUF I/O: what a dense model writes, the frozen base reads back and computes
// the same logits; quantized loads keep only their blocks resident; broken files are named.
#include <gtest/gtest.h>

#include <filesystem>

#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "lora/model/base_model.h"
#include "lora/model/lora_model.h"
#include "tests/lora/model/tiny.h"
#include "tests/support/temp_dir.h"

namespace fedlora::lora {
namespace {

namespace fs = std::filesystem;


fs::path write_model(const DenseModel& dense, const fs::path& path, GgmlType type) {
  gguf::GgufWriter w;
  write_llama_metadata(w, dense.config(), "tiny", type);
  write_llama_weights(w, dense.named_weights(), type);
  w.write(path);
  return path;
}

at::Tensor base_logits(std::shared_ptr<const BaseModel> base, const at::Tensor& tokens) {
  LoraAdapter none(make_adapter_layout(base->config, 1, 1.0f, {TargetModule::q}));
  LoraModel m(std::move(base), none);
  return decoder_forward(m, tokens);
}

TEST(BaseModel, F32GgufRoundTripGivesDenseLogits) {
  fedlora::test::TempDir dir;
  DenseModel dense(test::tiny_config(), 21);
  auto path = write_model(dense, dir.path() / "m.gguf", GgmlType::F32);
  auto base = load_base_model(path);
  EXPECT_EQ(base->config.summary(), dense.config().summary());
  EXPECT_EQ(base->weight_type(), GgmlType::F32);
  auto tokens = at::randint(0, 64, {2, 16}, at::make_generator<at::CPUGeneratorImpl>(1));
  auto want = decoder_forward(dense, tokens).detach();
  EXPECT_LT((base_logits(base, tokens) - want).abs().max().item<double>(), 1e-5);
}

TEST(BaseModel, QuantizeOnLoadKeepsBlocksOnlyAndStaysClose) {
  fedlora::test::TempDir dir;
  DenseModel dense(test::tiny_config(), 22);
  auto path = write_model(dense, dir.path() / "m.gguf", GgmlType::F16);
  auto tokens = at::randint(0, 64, {2, 16}, at::make_generator<at::CPUGeneratorImpl>(2));
  auto want = decoder_forward(dense, tokens).detach();
  const auto cfg = dense.config();
  // Weights that live in blocks: embedding + 7 projections per layer (norms stay f32).
  int64_t n_block_weights = cfg.vocab_size * cfg.dim;
  for (auto m : kAllTargetModules) n_block_weights += cfg.n_layers * cfg.projection(m).in_features * cfg.projection(m).out_features;
  const int64_t n_norm = cfg.dim * (2 * cfg.n_layers + 1);
  struct Case { GgmlType type; double bytes_per_weight; double tol; };
  for (Case c : {Case{GgmlType::Q8_0, 34.0 / 32, 0.05}, Case{GgmlType::Q4_0, 18.0 / 32, 0.3}, Case{GgmlType::F32, 4.0, 1e-2}}) {
    auto base = load_base_model(path, c.type);
    EXPECT_EQ(base->weight_type(), c.type);
    EXPECT_EQ(base->resident_bytes(), static_cast<size_t>(n_block_weights * c.bytes_per_weight + n_norm * 4));
    const double err = (base_logits(base, tokens) - want).abs().max().item<double>();
    EXPECT_LT(err, c.tol) << supported_type_traits(static_cast<uint32_t>(c.type))->name;
  }
}

TEST(BaseModel, MissingTensorAndWrongArchitectureAreNamed) {
  fedlora::test::TempDir dir;
  DenseModel dense(test::tiny_config(), 23);
  {
    gguf::GgufWriter w;
    write_llama_metadata(w, dense.config(), "tiny", GgmlType::F32);
    auto weights = dense.named_weights();
    weights.pop_back();  // drop the last projection of the last block
    write_llama_weights(w, weights, GgmlType::F32);
    w.write(dir.path() / "missing.gguf");
  }
  try {
    load_base_model(dir.path() / "missing.gguf");
    FAIL() << "expected an error";
  } catch (const gguf::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("blk.1.ffn_down.weight"), std::string::npos) << e.what();
  }
  {
    gguf::GgufWriter w;
    write_llama_metadata(w, dense.config(), "tiny", GgmlType::F32);
    w.set("general.architecture", std::string("gpt2"));
    write_llama_weights(w, dense.named_weights(), GgmlType::F32);
    w.write(dir.path() / "gpt2.gguf");
  }
  try {
    load_base_model(dir.path() / "gpt2.gguf");
    FAIL() << "expected an error";
  } catch (const gguf::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("gpt2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedlora::lora
