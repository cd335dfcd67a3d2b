// Fuzz body of PEFT adapter import (read_peft_adapter_for_base): one of the two files of a
// valid adapter directory is replaced by the input.
#include <cmath>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets/fuzz_targets.h"
#include "fuzz/targets/fuzz_util.h"
#include "fuzz/targets/peft_fixture.h"
#include "lora/adapter/adapter_layout.h"

namespace fedlora::fuzz {

lora::BaseModelInfo fuzz_peft_base(bool hf) {
  lora::BaseModelInfo b;
  b.config.vocab_size = 262;
  b.config.dim = 32;
  b.config.n_layers = 1;
  b.config.n_heads = 2;
  b.config.n_kv_heads = 1;
  b.config.ffn_dim = 32;
  b.config.context_length = 16;
  b.name = "fuzz";
  b.peft_qk_order = hf ? lora::QkRowOrder::hf : lora::QkRowOrder::gguf;
  return b;
}

void write_fuzz_peft_adapter(const std::filesystem::path& dir, bool hf) {
  const auto base = fuzz_peft_base(hf);
  const auto layout = lora::make_adapter_layout(base.config, 2, 4.0f, {lora::TargetModule::q, lora::TargetModule::v});
  std::vector<float> flat(static_cast<std::size_t>(layout.size()));
  for (std::size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<float>(static_cast<int>(i % 13) - 6) / 64.0f;
  lora::write_peft_adapter_for_base(dir, layout, flat, base, {{"fedlora.round", "1"}});
}

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The valid files for each base: [hf][0] = safetensors, [hf][1] = adapter_config.json.
struct ValidFiles {
  std::string bytes[2][2];
  ValidFiles() {
    for (int hf = 0; hf < 2; ++hf) {
      const auto dir = scratch_dir() / "peft_valid";
      write_fuzz_peft_adapter(dir, hf);
      bytes[hf][0] = read_all(dir / "adapter_model.safetensors");
      bytes[hf][1] = read_all(dir / "adapter_config.json");
    }
  }
};

}  // namespace

// Input: selector byte (bit 0: the input is adapter_config.json, else adapter_model.safetensors;
// bit 1: the base came from Hugging Face), then the file.
void peft_adapter(const std::uint8_t* data, std::size_t size) {
  static const ValidFiles valid;
  if (size < 1) return;
  const bool config = data[0] & 1, hf = data[0] & 2;
  const auto input = as_text(data + 1, size - 1);
  write_scratch("peft/adapter_config.json", config ? input : std::string_view(valid.bytes[hf][1]));
  write_scratch("peft/adapter_model.safetensors", config ? std::string_view(valid.bytes[hf][0]) : input);
  try {
    const auto a = lora::read_peft_adapter_for_base(scratch_dir() / "peft", fuzz_peft_base(hf));
    if (a.flat.size() != static_cast<std::size_t>(a.layout.size())) fail("PEFT import: flat size differs from its layout");
    for (float v : a.flat)
      if (!std::isfinite(v)) fail("PEFT import accepted a non-finite weight");
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception&) {  // PeftConfigError, AdapterError, FormatError, runtime_error (documented)
  }
}

}  // namespace fedlora::fuzz
