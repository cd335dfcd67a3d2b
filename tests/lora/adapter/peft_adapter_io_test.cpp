// PEFT adapter files (lora/adapter/adapter_io): key names and shapes pinned to the layout
// Hugging Face PEFT writes for LlamaForCausalLM (lora_A [r, in], lora_B [out, r] under
// base_model.model.model.layers.N.{self_attn,mlp}.X_proj), files written here by hand in
// F16 and BF16 (safetensors spec: 8-byte little-endian header length, JSON header,
// row-major data), and the errors for NaN, foreign, missing and misshapen tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "lora/adapter/adapter_io.h"

namespace fedlora::lora {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// A Llama with dim 64, 4 heads / 2 KV heads (head dim 16), FFN 96; LoRA r = 2 on q, k, down.
AdapterLayout small_layout() {
  return AdapterLayout(2, 2, 4.0f, {TargetModule::q, TargetModule::k, TargetModule::down},
                       {{TargetModule::q, {64, 64}}, {TargetModule::k, {64, 32}}, {TargetModule::down, {96, 64}}});
}

// What PEFT writes for that adapter, by hand.
std::map<std::string, std::vector<int64_t>> peft_keys() {
  std::map<std::string, std::vector<int64_t>> k;
  for (int l = 0; l < 2; ++l) {
    const std::string p = "base_model.model.model.layers." + std::to_string(l) + ".";
    k[p + "self_attn.q_proj.lora_A.weight"] = {2, 64};
    k[p + "self_attn.q_proj.lora_B.weight"] = {64, 2};
    k[p + "self_attn.k_proj.lora_A.weight"] = {2, 64};
    k[p + "self_attn.k_proj.lora_B.weight"] = {32, 2};
    k[p + "mlp.down_proj.lora_A.weight"] = {2, 96};
    k[p + "mlp.down_proj.lora_B.weight"] = {64, 2};
  }
  return k;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("fedlora_peft_" + std::to_string(::getpid()) + "_" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

json read_header(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  std::string h(n, '\0');
  in.read(h.data(), static_cast<std::streamsize>(n));
  return json::parse(h);
}

// One 16-bit tensor per key, every element the same 16-bit pattern per tensor kind.
void write_16bit_file(const fs::path& dir, const std::string& dtype, uint16_t a_bits, uint16_t b_bits,
                      const std::map<std::string, std::vector<int64_t>>& keys) {
  json header = json::object();
  std::string data;
  for (const auto& [name, shape] : keys) {
    const int64_t n = shape[0] * shape[1];
    const uint16_t bits = name.find("lora_A") != std::string::npos ? a_bits : b_bits;
    const size_t begin = data.size();
    for (int64_t i = 0; i < n; ++i) {
      data.push_back(static_cast<char>(bits & 0xFF));
      data.push_back(static_cast<char>(bits >> 8));
    }
    header[name] = json{{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
  }
  const std::string h = header.dump();
  std::ofstream out(dir / "adapter_model.safetensors", std::ios::binary);
  const uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xFF));
  out << h << data;
}

TEST(PeftAdapterIo, SavedKeysAndShapesAreExactlyPefts) {
  TempDir t;
  const auto layout = small_layout();
  std::vector<float> flat(static_cast<size_t>(layout.size()));
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<float>(i % 97) * 0.01f;
  save_adapter(t.path, layout, flat, "base.gguf");
  const auto h = read_header(t.path / "adapter_model.safetensors");
  std::map<std::string, std::vector<int64_t>> got;
  for (const auto& [name, v] : h.items()) {
    if (name == "__metadata__") continue;
    EXPECT_EQ(v["dtype"], "F32") << name;
    got[name] = v["shape"].get<std::vector<int64_t>>();
  }
  EXPECT_EQ(got, peft_keys());
  const auto cfg = json::parse(std::ifstream(t.path / "adapter_config.json"));
  EXPECT_EQ(cfg["peft_type"], "LORA");
  EXPECT_EQ(cfg["r"], 2);
  EXPECT_EQ(cfg["lora_alpha"].get<double>(), 4.0);
  EXPECT_EQ(cfg["target_modules"].get<std::set<std::string>>(), (std::set<std::string>{"q_proj", "k_proj", "down_proj"}));
  // Round trip.
  EXPECT_EQ(read_adapter_weights(t.path, layout), flat);
}

TEST(PeftAdapterIo, ReadsF16AndBf16WrittenByHand) {
  const auto layout = small_layout();
  // F16: 0.5 = 0x3800, -1.25 = 0xBD00. BF16 (upper half of float32): 0.5 = 0x3F00, -1.25 = 0xBFA0.
  for (const auto& [dtype, a_bits, b_bits] :
       {std::tuple<std::string, uint16_t, uint16_t>{"F16", 0x3800, 0xBD00}, {"BF16", 0x3F00, 0xBFA0}}) {
    TempDir t;
    write_16bit_file(t.path, dtype, a_bits, b_bits, peft_keys());
    const auto flat = read_adapter_weights(t.path, layout);
    ASSERT_EQ(flat.size(), static_cast<size_t>(layout.size()));
    for (const auto& tensor : layout.tensors())
      for (int64_t i = 0; i < tensor.numel(); ++i)
        ASSERT_EQ(flat[static_cast<size_t>(tensor.offset + i)], tensor.is_b ? -1.25f : 0.5f) << dtype << " " << tensor.name;
  }
}

TEST(PeftAdapterIo, RejectsNanForeignMissingAndMisshapenTensors) {
  const auto layout = small_layout();
  auto expect_error_naming = [&](const fs::path& dir, const std::string& needle) {
    try {
      read_adapter_weights(dir, layout);
      ADD_FAILURE() << "no error; expected one naming " << needle;
    } catch (const AdapterError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  {
    TempDir t;  // F16 NaN = 0x7E00 in every lora_B
    write_16bit_file(t.path, "F16", 0x3800, 0x7E00, peft_keys());
    expect_error_naming(t.path, "lora_B");
  }
  {
    TempDir t;  // a v_proj adapter the layout does not target
    auto keys = peft_keys();
    keys["base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight"] = {2, 64};
    write_16bit_file(t.path, "F16", 0x3800, 0x3800, keys);
    expect_error_naming(t.path, "v_proj");
  }
  {
    TempDir t;  // layer 1's down_proj lora_B is missing
    auto keys = peft_keys();
    keys.erase("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");
    write_16bit_file(t.path, "F16", 0x3800, 0x3800, keys);
    expect_error_naming(t.path, "layers.1.mlp.down_proj.lora_B");
  }
  {
    TempDir t;  // rank 4 instead of 2 for one tensor
    auto keys = peft_keys();
    keys["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = {4, 64};
    write_16bit_file(t.path, "F16", 0x3800, 0x3800, keys);
    expect_error_naming(t.path, "q_proj.lora_A");
  }
}

}  // namespace
}  // namespace fedlora::lora
