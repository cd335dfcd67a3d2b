// Fuzz body of `fedlora-model import-hf`'s inputs: config.json, tokenizer.json,
// tokenizer_config.json, a model.safetensors read as float32, and the shard index.
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz/targets/fuzz_targets.h"
#include "fuzz/targets/fuzz_util.h"
#include "lora/format/hf_checkpoint.h"
#include "lora/format/hf_config.h"
#include "lora/format/safetensors.h"
#include "lora/tokenizer/bpe_tokenizer.h"
#include "lora/tokenizer/hf_bpe_vocab.h"
#include "lora/tokenizer/tokenizer_error.h"

namespace fedlora::fuzz {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kVocabSize = 300;

void config_json(std::string_view text) {
  lora::hf::HfLlamaConfig c;
  try {
    c = lora::hf::parse_hf_config(text, "fuzz/config.json");
  } catch (const lora::hf::HfImportError&) {
    return;
  }
  // What parse_hf_config promises of an accepted config.
  if (c.hidden_size <= 0 || c.intermediate_size <= 0 || c.num_hidden_layers <= 0 || c.num_attention_heads <= 0 ||
      c.num_key_value_heads <= 0 || c.vocab_size <= 0)
    fail("parse_hf_config accepted a non-positive size");
  if (c.hidden_size % c.num_attention_heads != 0 || c.num_attention_heads % c.num_key_value_heads != 0 ||
      c.head_dim() % 2 != 0)
    fail("parse_hf_config accepted heads that do not divide");
}

void tokenizer_json(std::string_view text) {
  lora::BpeVocab v;
  try {
    v = lora::parse_hf_tokenizer_json(text, kVocabSize, "fuzz/tokenizer.json");
  } catch (const lora::TokenizerError&) {
    return;
  }
  if (v.tokens.size() != static_cast<std::size_t>(kVocabSize) || v.types.size() != v.tokens.size())
    fail("parse_hf_tokenizer_json did not emit vocab_size tokens and types");
  for (auto id : {v.bos_id, v.eos_id, v.pad_id})
    if (id && *id >= v.tokens.size()) fail("parse_hf_tokenizer_json gave a special id out of range");
  std::optional<lora::BpeTokenizer> tok;
  try {
    tok.emplace(std::move(v));
  } catch (const lora::TokenizerError&) {
    return;  // e.g. a byte stand-in missing from the vocabulary
  }
  const std::string sample = "Hello world, it's 2024 \xC3\xA9t\xC3\xA9 \xFF!";
  const auto ids = tok->encode(sample);
  bool all_normal = true;
  for (auto id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= tok->vocab().tokens.size()) fail("BPE encode gave an id out of range");
    all_normal = all_normal && tok->vocab().types[static_cast<std::size_t>(id)] == 1;
  }
  if (all_normal && tok->decode(ids) != sample) fail("BPE decode(encode(text)) != text for an imported tokenizer.json");
}

void tokenizer_config_json(std::string_view text) {
  lora::BpeVocab v;
  v.pre = "smollm";
  for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b"}) v.tokens.push_back(t);
  v.types = {3, 3, 3, 1, 1};
  try {
    lora::apply_hf_tokenizer_config(v, text, "fuzz/tokenizer_config.json");
  } catch (const lora::TokenizerError&) {
    return;
  }
  for (auto id : {v.bos_id, v.eos_id, v.pad_id})
    if (id && *id >= v.tokens.size()) fail("apply_hf_tokenizer_config set a special id out of range");
}

// Every tensor of a checkpoint, read as float32 (dtype conversion and shape checks).
void read_all(const fs::path& dir) {
  std::optional<lora::hf::HfCheckpoint> ck;
  expect_clean([&] { ck.emplace(lora::hf::HfCheckpoint::open(dir)); });
  if (!ck) return;
  for (const auto& name : ck->names())
    expect_clean([&] {
      const auto& shape = ck->shape(name);
      const auto values = ck->read_f32(name);
      std::uint64_t n = 1;
      for (auto d : shape) n *= d;
      if (values.size() != n) fail("HfCheckpoint::read_f32 size differs from the shape");
    });
}

void model_safetensors(std::string_view bytes) {
  const auto dir = scratch_dir() / "single";
  fs::create_directories(dir);
  write_scratch("single/model.safetensors", bytes);
  read_all(dir);
}

// The input is model.safetensors.index.json beside two small valid shards.
void shard_index(std::string_view text) {
  const auto dir = scratch_dir() / "sharded";
  static const bool shards = [&] {
    fs::create_directories(dir);
    for (int s = 1; s <= 2; ++s) {
      lora::safetensors::SafetensorsWriter w;
      std::vector<std::byte> f32(4 * 6, std::byte{0x3f});
      std::vector<std::byte> half(2 * 4, std::byte{0x3c});
      w.add_tensor("model.layers." + std::to_string(s) + ".mlp.up_proj.weight", lora::safetensors::Dtype::F32, {2, 3}, f32);
      w.add_tensor("model.norm.weight" + std::string(s == 1 ? "" : "2"), lora::safetensors::Dtype::BF16, {4}, half);
      w.write(dir / ("model-0000" + std::to_string(s) + "-of-00002.safetensors"));
    }
    return true;
  }();
  (void)shards;
  write_scratch("sharded/model.safetensors.index.json", text);
  read_all(dir);
}

}  // namespace

void hf_import(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return;
  const auto text = as_text(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: config_json(text); break;
    case 1: tokenizer_json(text); break;
    case 2: tokenizer_config_json(text); break;
    case 3: model_safetensors(text); break;
    default: shard_index(text); break;
  }
}

}  // namespace fedlora::fuzz
