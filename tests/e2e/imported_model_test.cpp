// A base imported from a Hugging Face checkpoint with a byte-level BPE tokenizer (the SmolLM2
// family's) trains in the simulator like the committed base: rounds run, the held-out loss
// falls, next-word recall is reported, and the run's PEFT adapter carries q/k rows in HF order.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lora/format/safetensors.h"
#include "lora/model/hf_import.h"
#include "simulator/config/sim_config.h"
#include "simulator/run/simulation.h"
#include "tests/lora/model/hf_fixture.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace fedlora;

namespace {

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for 256 + k.
std::string byte_stand_in(int b) {
  const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  int cp = b;
  if (!printable) {
    int k = 0;
    for (int x = 0; x < b; ++x)
      if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) ++k;
    cp = 256 + k;
  }
  std::string s;
  if (cp < 0x80) s += static_cast<char>(cp);
  else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

TEST(ImportedModel, ABpeBaseFromHuggingFaceTrainsInTheSimulator) {
  const fs::path dir = fs::temp_directory_path() / ("fedlora_imported_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // Vocabulary: the 256 byte stand-ins, then merges that spell " the", " cat", " sat", " on".
  std::vector<std::string> vocab;
  for (int b = 0; b < 256; ++b) vocab.push_back(byte_stand_in(b));
  const std::string G = "\xC4\xA0";  // stand-in of ' '
  const std::vector<std::string> merges{G + " t", "h e", G + "t he", G + " c", "a t", G + "c at", G + " s",
                                        G + "s at", G + " o", G + "o n"};
  for (const auto& m : merges) vocab.push_back(m.substr(0, m.find(' ')) + m.substr(m.find(' ') + 1));
  lora::test::HfSpec spec;
  spec.vocab = 272;
  spec.max_pos = 32;
  lora::test::write_hf_checkpoint(dir / "ckpt", spec, lora::test::HfDtype::F32);
  fs::remove(dir / "ckpt" / "tokenizer.model");
  lora::test::write_file(dir / "ckpt" / "tokenizer.json",
                         lora::test::bpe_tokenizer_json(vocab, merges, {{266, "<|endoftext|>"}}).dump());
  lora::test::write_file(dir / "ckpt" / "tokenizer_config.json",
                         json{{"add_bos_token", false}, {"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}}.dump());
  const auto rep = lora::import_hf_checkpoint(dir / "ckpt", dir / "base.gguf", {.type = lora::GgmlType::F32});
  ASSERT_EQ(rep.tokenizer, "gpt2/smollm");

  {
    std::ofstream out(dir / "users.jsonl");
    const char* styles[] = {"the cat sat on the mat", "on the cat the cat sat", "the the cat on on sat"};
    for (int u = 0; u < 3; ++u)
      for (int i = 0; i < 10; ++i)
        out << json{{"user", "u" + std::to_string(u)}, {"text", std::string(styles[u]) + " " + std::to_string(i)}}.dump()
            << "\n";
  }
  std::ofstream(dir / "job.toml") << "";
  const auto cfg = sim::load_sim_config(
      dir / "job.toml",
      {"model.base=\"" + (dir / "base.gguf").string() + "\"", "model.quantize=q8_0", "data.format=jsonl",
       "data.path=\"" + (dir / "users.jsonl").string() + "\"", "run.output_dir=\"" + dir.string() + "\"", "run.seed=3",
       "run.threads=2", "federation.rounds=2", "federation.cohort_size=3", "federation.eval_every=1",
       "federation.eval_users=3", "client.epochs=3", "client.batch_size=4", "client.lr=0.01", "lora.rank=4",
       "lora.alpha=8"},
      "bpe");
  const auto s = sim::run_simulation(cfg, nullptr);
  EXPECT_EQ(s.rounds_completed, 2);
  EXPECT_LT(s.after.loss, s.before.loss - 0.05);
  EXPECT_GT(s.after.next_word_positions, 0);  // " the", " cat", ... start words
  auto st = lora::safetensors::SafetensorsFile::open(s.run_dir / "adapter" / "adapter_model.safetensors");
  EXPECT_EQ(st.metadata().at("fedlora.qk_row_order"), "hf");
  fs::remove_all(dir);
}

}  // namespace
