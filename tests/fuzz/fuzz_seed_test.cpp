// The seed corpora are what they claim to be: valid inputs that the code under test accepts
// (a fuzzer started from rejected seeds explores only error paths), and every target listed
// in fuzz/targets.txt has a body and seeds.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "client/data/shakespeare.h"
#include "client/data/user_jsonl.h"
#include "coordinator/service/serve_config.h"
#include "fuzz/targets/bpe_fixture.h"
#include "fuzz/targets/fuzz_targets.h"
#include "fuzz/targets/peft_fixture.h"
#include "lora/format/gguf_reader.h"
#include "lora/format/hf_checkpoint.h"
#include "lora/format/hf_config.h"
#include "lora/format/peft_config.h"
#include "lora/format/safetensors.h"
#include "lora/tokenizer/bpe_tokenizer.h"
#include "lora/tokenizer/hf_bpe_vocab.h"
#include "lora/tokenizer/spm_model_file.h"
#include "proto/secagg.pb.h"
#include "simulator/config/sim_config.h"

namespace fs = std::filesystem;
using namespace fedlora;

namespace {

const fs::path kCorpus = fs::path(FEDLORA_FUZZ_DIR) / "corpus";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
// The seed without its selector byte.
std::string body(const fs::path& p) { return read(p).substr(1); }

TEST(FuzzSeeds, EveryListedTargetHasABodyAndSeeds) {
  std::ifstream list(fs::path(FEDLORA_FUZZ_DIR) / "targets.txt");
  int n = 0;
  for (std::string t; std::getline(list, t);) {
    if (t.empty() || t[0] == '#') continue;
    ++n;
    EXPECT_NE(fuzz::find_target(t), nullptr) << t;
    EXPECT_TRUE(fs::is_directory(kCorpus / t) && !fs::is_empty(kCorpus / t)) << "no seeds for " << t;
  }
  EXPECT_GE(n, 12);
}

TEST(FuzzSeeds, FileSeedsParse) {
  for (const char* f : {"spm_base.gguf", "bpe_base.gguf", "lora_adapter.gguf"})
    EXPECT_NO_THROW(lora::gguf::GgufFile::open(kCorpus / "gguf_file" / f)) << f;
  for (const char* f : {"peft_f32.safetensors", "f16_bf16.safetensors"})
    EXPECT_NO_THROW(lora::safetensors::SafetensorsFile::open(kCorpus / "safetensors_file" / f)) << f;
  EXPECT_EQ(lora::parse_peft_config(read(kCorpus / "peft_config" / "hf.json")).r, 16);
  EXPECT_NO_THROW(lora::parse_peft_config(read(kCorpus / "peft_config" / "fedlora.json")));
  for (const char* f : {"shakespeare.toml", "shakespeare_dp.toml", "shakespeare_dp_distributed.toml"})
    EXPECT_NO_THROW(sim::load_sim_config(kCorpus / "job_config" / f, {})) << f;
  EXPECT_NO_THROW(coordinator::load_serve_config(kCorpus / "job_config" / "coordinator.toml", {}));
}

TEST(FuzzSeeds, TokenizerSeedsParse) {
  const auto bf = lora::parse_spm_model(read(kCorpus / "spm_model" / "byte_fallback.model"));
  EXPECT_TRUE(bf.byte_fallback());
  EXPECT_EQ(bf.size(), 3 + 256 + 13);
  EXPECT_FALSE(lora::parse_spm_model(read(kCorpus / "spm_model" / "no_fallback.model")).byte_fallback());
  EXPECT_EQ(lora::parse_spm_model(read(kCorpus / "spm_model" / "user_defined.model")).size(), 3 + 256 + 5 + 2);
  // tokenizer.json is the bpe_tokenizer target's own vocabulary.
  const auto v = lora::parse_hf_tokenizer_json(body(kCorpus / "hf_import" / "tokenizer.json"), 300);
  const auto want = fuzz::fuzz_bpe_vocab("smollm");
  for (std::size_t i = 0; i < want.tokens.size(); ++i) {
    EXPECT_EQ(v.tokens[i], want.tokens[i]) << i;
    EXPECT_EQ(v.types[i], want.types[i]) << i;
  }
  EXPECT_EQ(v.merges, want.merges);
  EXPECT_EQ(v.pre, "smollm");
  EXPECT_NO_THROW(lora::BpeTokenizer{v});
  const auto c = lora::hf::parse_hf_config(body(kCorpus / "hf_import" / "config.json"));
  EXPECT_EQ(c.vocab_size, 300);
  EXPECT_EQ(c.eos_token_id, 2);
}

TEST(FuzzSeeds, CheckpointSeedsOpen) {
  const auto dir = fs::temp_directory_path() / ("fedlora_fuzz_seed_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "model.safetensors", std::ios::binary) << body(kCorpus / "hf_import" / "model.safetensors");
  const auto ck = lora::hf::HfCheckpoint::open(dir);
  EXPECT_EQ(ck.names().size(), 3u);
  EXPECT_EQ(ck.read_f32("model.norm.weight").size(), 4u);
  fs::remove_all(dir);
}

TEST(FuzzSeeds, PeftAdapterSeedsImport) {
  for (const char* tag : {"_gguf", "_hf"}) {
    const auto dir = fs::temp_directory_path() / ("fedlora_fuzz_seed_peft_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "adapter_model.safetensors", std::ios::binary)
        << body(kCorpus / "peft_adapter" / (std::string("safetensors") + tag));
    std::ofstream(dir / "adapter_config.json", std::ios::binary) << body(kCorpus / "peft_adapter" / (std::string("config") + tag));
    const auto a = lora::read_peft_adapter_for_base(dir, fuzz::fuzz_peft_base(std::string(tag) == "_hf"));
    EXPECT_EQ(a.layout.rank(), 2) << tag;
    EXPECT_EQ(a.flat.size(), static_cast<std::size_t>(a.layout.size())) << tag;
    fs::remove_all(dir);
  }
}

TEST(FuzzSeeds, CorpusSeedsKeepUsers) {
  const auto j = client::data::parse_user_jsonl(body(kCorpus / "user_corpus" / "users.jsonl"));
  EXPECT_EQ(j.population.size(), 2u);  // alice 3 examples, bob 2 non-empty
  EXPECT_EQ(j.stats.examples_empty, 1u);
  const auto s = client::data::load_shakespeare(body(kCorpus / "user_corpus" / "roles.txt"));
  EXPECT_EQ(s.stats.users_seen, 3u);   // First Citizen, All, LADY CAPULET
  EXPECT_EQ(s.population.size(), 2u);  // LADY CAPULET has one speech
}

TEST(FuzzSeeds, SecAggSeedsAreMessages) {
  int n = 0;
  for (const auto& f : fs::directory_iterator(kCorpus / "secagg_round")) {
    const auto b = body(f.path());
    secagg::pb::ClientToServer up;
    secagg::pb::ServerToClient down;
    const bool to_client = read(f.path())[0] & 1;
    EXPECT_TRUE(to_client ? down.ParseFromString(b) : up.ParseFromString(b)) << f.path();
    ++n;
  }
  EXPECT_GE(n, 30);
}

}  // namespace
