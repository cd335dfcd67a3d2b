// fedlora-fuzz-corpora OUT_DIR: writes the seed corpus of every fuzz target, built from valid
// files and messages: small GGUF bases (SentencePiece and BPE vocabularies, each block type),
// a GGUF LoRA adapter, PEFT safetensors and configs, texts, the project's TOML configs, and
// every message of an honest SecAgg+ round (prefixed with its selector byte).
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/protocol/payload.h"
#include "fuzz/targets/secagg_fuzz_round.h"
#include "lora/adapter/adapter_io.h"
#include "lora/export/gguf_adapter.h"
#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "lora/format/safetensors.h"
#include "lora/model/llama_config.h"
#include "lora/quant/quantized_tensor.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "lora/tokenizer/hf_bpe_vocab.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/random.h"
#include "secure-agg/wire.h"

namespace fs = std::filesystem;
using namespace fedlora;

namespace {

void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

lora::LlamaConfig tiny() {
  lora::LlamaConfig c;
  c.vocab_size = 262;
  c.dim = 32;
  c.n_layers = 1;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.ffn_dim = 32;
  c.context_length = 16;
  return c;
}

// One tensor of each block type, and the projections of block 0 (so an adapter fits).
void add_weights(lora::gguf::GgufWriter& w, const lora::LlamaConfig& c) {
  auto add = [&](const std::string& name, int64_t rows, int64_t cols, lora::GgmlType type) {
    std::vector<float> f(static_cast<size_t>(rows * cols));
    for (size_t i = 0; i < f.size(); ++i) f[i] = 0.01f * static_cast<float>(static_cast<int>(i % 17) - 8);
    auto q = lora::QuantizedTensor::quantize(f.data(), rows, cols, type);
    std::vector<uint64_t> dims = rows == 1 ? std::vector<uint64_t>{static_cast<uint64_t>(cols)}
                                           : std::vector<uint64_t>{static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)};
    w.add_tensor(name, type, dims, std::vector<std::byte>(q.bytes().begin(), q.bytes().end()));
  };
  add("token_embd.weight", c.vocab_size, c.dim, lora::GgmlType::Q8_0);
  add("output_norm.weight", 1, c.dim, lora::GgmlType::F32);
  add("blk.0.attn_norm.weight", 1, c.dim, lora::GgmlType::F32);
  add("blk.0.ffn_norm.weight", 1, c.dim, lora::GgmlType::F32);
  add("blk.0.attn_q.weight", c.dim, c.dim, lora::GgmlType::F16);
  add("blk.0.attn_k.weight", c.dim / 2, c.dim, lora::GgmlType::Q4_0);
  add("blk.0.attn_v.weight", c.dim / 2, c.dim, lora::GgmlType::Q8_0);
  add("blk.0.attn_output.weight", c.dim, c.dim, lora::GgmlType::F32);
  add("blk.0.ffn_gate.weight", c.ffn_dim, c.dim, lora::GgmlType::Q4_0);
  add("blk.0.ffn_up.weight", c.ffn_dim, c.dim, lora::GgmlType::Q4_0);
  add("blk.0.ffn_down.weight", c.dim, c.ffn_dim, lora::GgmlType::Q4_0);
}

lora::SpmVocab spm_vocab() {
  lora::SpmVocabSpec s;
  s.pieces = {"<unk>", "<s>", "</s>"};
  s.types = {lora::TokenType::unknown, lora::TokenType::control, lora::TokenType::control};
  for (int b = 0; b < 256; ++b) {
    s.pieces.push_back(lora::byte_piece(static_cast<uint8_t>(b)));
    s.types.push_back(lora::TokenType::byte);
  }
  for (const char* p : {"\xE2\x96\x81", "a", "\xE2\x96\x81" "a"}) {
    s.pieces.push_back(p);
    s.types.push_back(lora::TokenType::normal);
  }
  s.scores.assign(s.pieces.size(), 0.0f);
  return lora::SpmVocab(s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fedlora-fuzz-corpora OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  for (const char* t : {"gguf_file", "safetensors_file", "peft_config", "spm_tokenizer", "bpe_pretokenizer", "job_config",
                        "secagg_round", "task_messages"})
    fs::create_directories(out / t);
  const auto cfg = tiny();
  {  // GGUF: SentencePiece base, byte-level BPE base, GGUF LoRA adapter.
    lora::gguf::GgufWriter w;
    lora::write_llama_metadata(w, cfg, "fuzz", lora::GgmlType::Q4_0);
    lora::write_gguf_vocab(spm_vocab(), w);
    add_weights(w, cfg);
    w.write(out / "gguf_file" / "spm_base.gguf");

    lora::BpeVocab bpe;
    for (int i = 0; i < cfg.vocab_size; ++i) bpe.tokens.push_back("t" + std::to_string(i));
    bpe.tokens[0] = "a";
    bpe.tokens[1] = "b";
    bpe.tokens[2] = "ab";
    bpe.types.assign(bpe.tokens.size(), 1);
    bpe.merges = {"a b"};
    bpe.pre = "smollm";
    bpe.bos_id = 3;
    bpe.eos_id = 4;
    lora::gguf::GgufWriter b;
    lora::write_llama_metadata(b, cfg, "fuzz", lora::GgmlType::Q4_0);
    lora::write_gguf_bpe_vocab(bpe, b);
    add_weights(b, cfg);
    b.write(out / "gguf_file" / "bpe_base.gguf");

    auto base = lora::gguf::GgufFile::open(out / "gguf_file" / "spm_base.gguf");
    const auto layout = lora::make_adapter_layout(cfg, 2, 4.0f, {lora::TargetModule::q, lora::TargetModule::v});
    std::vector<float> flat(static_cast<size_t>(layout.size()), 0.25f);
    lora::write_gguf_lora_adapter(out / "gguf_file" / "lora_adapter.gguf", layout, flat, base);

    // PEFT: safetensors (F32) and its adapter_config.json.
    const fs::path peft = out / "tmp_peft";
    lora::save_adapter(peft, layout, flat, "fuzz", {{"fedlora.round", "3"}});
    write_file(out / "safetensors_file" / "peft_f32.safetensors", read_file(peft / "adapter_model.safetensors"));
    write_file(out / "peft_config" / "fedlora.json", read_file(peft / "adapter_config.json"));
    fs::remove_all(peft);
    lora::safetensors::SafetensorsWriter st;
    std::vector<std::byte> half(2 * 8, std::byte{0x3c});
    st.add_tensor("x.lora_A.weight", lora::safetensors::Dtype::F16, {2, 4}, half);
    st.add_tensor("x.lora_B.weight", lora::safetensors::Dtype::BF16, {4, 2}, half);
    st.set_metadata("format", "pt");
    st.write(out / "safetensors_file" / "f16_bf16.safetensors");
  }
  write_file(out / "peft_config" / "hf.json",
             R"({"peft_type": "LORA", "r": 16, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj"],)"
             R"( "lora_dropout": 0.05, "bias": "none", "task_type": "CAUSAL_LM", "inference_mode": true,)"
             R"( "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M", "fan_in_fan_out": false})");
  const char* texts[] = {"To be, or not to be, that is the question:",
                         "ROMEO:\nBut, soft! what light through yonder window breaks?",
                         "caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 \xF0\x9F\x98\x80 emoji",
                         "  leading spaces\ttabs and 12,345.67 numbers I'm you'll",
                         "invalid \xFF\xFE bytes \xC3 truncated"};
  for (int i = 0; i < 5; ++i) {
    write_file(out / "spm_tokenizer" / ("text" + std::to_string(i)), texts[i]);
    write_file(out / "bpe_pretokenizer" / ("text" + std::to_string(i)), texts[i]);
  }
  for (const auto& e : fs::directory_iterator("configs"))
    if (e.path().extension() == ".toml") write_file(out / "job_config" / e.path().filename(), read_file(e.path()));

  {  // Deployment: a task (plain, and with user-level DP and SecAgg) and a chunked payload.
    protocol::RoundInstructions in;
    in.round = 3;
    in.base_model_sha256.fill(0xAB);
    in.adapter = protocol::AdapterSpec{4, 8.0f, {lora::TargetModule::q, lora::TargetModule::v}, 1000};
    in.train = protocol::TrainInstructions{2, 8, 0.002, protocol::LocalOptimizerKind::kAdam, 5, 0.01, 77};
    in.weighting = protocol::WeightingInstructions{protocol::Weighting::kExampleCount, 0.0, 40.0};
    write_file(out / "task_messages" / "task_plain", std::string(1, '\0') + protocol::to_proto(in).SerializeAsString());
    in.weighting = protocol::WeightingInstructions{protocol::Weighting::kUniform, 0.0, 1.0};
    protocol::UserDpInstructions dp;
    dp.update = privacy::UserDpConfig{0.3, 1.5, privacy::NoiseMode::kDistributed, 4, 10};
    dp.update.max_corrupt_clients = 1;
    dp.update.min_survivors = 8;
    dp.report_clip_indicator = true;
    dp.clip_indicator_noise_stddev = 0.25;
    in.user_dp = dp;
    protocol::SecAggInstructions sa;
    sa.config = fuzz::fuzz_round_config();
    sa.config.round = 3;
    sa.config.vector_length = 1001;  // d + the clip indicator
    sa.config.params = secagg::SecAggParameters{secagg::GraphKind::kComplete, fuzz::kSecAggClients - 1, 3};
    std::vector<secagg::RosterEntry> roster;
    for (std::uint32_t u = 0; u < fuzz::kSecAggClients; ++u) {
      secagg::crypto::DeterministicRandom rng(u, "identity");
      roster.push_back({secagg::crypto::Ed25519PrivateKey::generate(rng).public_key(), std::nullopt});
    }
    sa.config.roster = secagg::make_roster(roster);
    sa.fixed_point = secagg::FixedPointParams{4.0, 20, fuzz::kSecAggClients, 32, std::nullopt};
    sa.logical_id = 2;
    in.secagg = sa;
    write_file(out / "task_messages" / "task_secagg_dp", std::string(1, '\0') + protocol::to_proto(in).SerializeAsString());

    const std::string body = "0123456789abcdef0123456789abcdef0123456789";
    const auto digest = protocol::sha256_of(body);
    std::string p(1, '\1');
    p += static_cast<char>(body.size() & 0xFF);
    p += static_cast<char>(body.size() >> 8);
    p.append(reinterpret_cast<const char*>(digest.data()), digest.size());
    for (std::size_t off = 0; off < body.size(); off += 16) {
      const std::size_t len = std::min<std::size_t>(16, body.size() - off);
      p += static_cast<char>(len);
      p += '\0';
      p += '\0';  // offset choice 0: the next offset
      p += body.substr(off, len);
    }
    write_file(out / "task_messages" / "payload_in_order", p);
  }

  // SecAgg+: every message of an honest round, with its selector byte.
  secagg::DriverHooks hooks;
  int n = 0;
  auto save = [&](bool to_client, secagg::ClientId u, std::optional<secagg::Stage> s, const std::string& body) {
    if (!s) return;
    const fuzz::MessageSelector sel{to_client, u, static_cast<int>(*s)};
    write_file(out / "secagg_round" / ("msg" + std::to_string(n++)), std::string(1, static_cast<char>(sel.to_byte())) + body);
  };
  hooks.on_upload = [&](secagg::ClientId u, secagg::pb::ClientToServer& m) {
    save(false, u, secagg::body_stage(m), m.SerializeAsString());
  };
  hooks.on_download = [&](secagg::ClientId u, secagg::pb::ServerToClient& m) {
    save(true, u, secagg::body_stage(m), m.SerializeAsString());
  };
  const auto r = secagg::run_secagg_round_encoded(fuzz::fuzz_round_config(), fuzz::fuzz_round_inputs(),
                                                  secagg::DropoutSchedule::none(fuzz::kSecAggClients), 11, hooks);
  std::printf("wrote corpora to %s (%d SecAgg messages; honest round %s)\n", out.c_str(), n,
              std::holds_alternative<secagg::RoundResult>(r.outcome) ? "succeeded" : "failed");
  return std::holds_alternative<secagg::RoundResult>(r.outcome) ? 0 : 1;
}
