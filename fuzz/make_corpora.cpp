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

#include <nlohmann/json.hpp>

#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/protocol/payload.h"
#include "proto/fedlora.pb.h"
#include "fuzz/targets/bpe_fixture.h"
#include "fuzz/targets/peft_fixture.h"
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

// Minimal protobuf encoder (https://protobuf.dev/programming-guides/encoding/) for
// SentencePiece ModelProto seeds: the reader under test must not write its own input.
std::string pb_varint(uint64_t v) {
  std::string s;
  for (; v >= 0x80; v >>= 7) s += static_cast<char>((v & 0x7F) | 0x80);
  return s + static_cast<char>(v);
}
std::string pb_len(int field, const std::string& b) { return pb_varint(static_cast<uint64_t>(field) << 3 | 2) + pb_varint(b.size()) + b; }
std::string pb_int(int field, int64_t v) { return pb_varint(static_cast<uint64_t>(field) << 3) + pb_varint(static_cast<uint64_t>(v)); }
std::string pb_float(int field, float f) {
  std::string s = pb_varint(static_cast<uint64_t>(field) << 3 | 5);
  s.append(reinterpret_cast<const char*>(&f), 4);
  return s;
}

// A SentencePiece BPE ModelProto: <unk> <s> </s>, the 256 byte pieces if `byte_fallback`,
// then `pieces` (normal, descending scores) and `user_defined` (type 4).
std::string spm_model_bytes(bool byte_fallback, const std::vector<std::string>& pieces,
                            const std::vector<std::string>& user_defined) {
  std::string m;
  auto piece = [&](const std::string& p, float score, int type) {
    m += pb_len(1, pb_len(1, p) + pb_float(2, score) + pb_int(3, type));
  };
  piece("<unk>", 0, 2);
  piece("<s>", 0, 3);
  piece("</s>", 0, 3);
  if (byte_fallback)
    for (int b = 0; b < 256; ++b) piece(lora::byte_piece(static_cast<uint8_t>(b)), 0, 6);
  for (size_t i = 0; i < pieces.size(); ++i) piece(pieces[i], -static_cast<float>(i), 1);
  for (const auto& u : user_defined) piece(u, 0, 4);
  m += pb_len(2, pb_int(3, 2) + pb_int(35, byte_fallback ? 1 : 0) + pb_int(40, 0) + pb_int(41, 1) + pb_int(42, 2) +
                     pb_int(43, -1));
  m += pb_len(3, pb_len(1, "identity") + pb_int(3, 1) + pb_int(4, 0) + pb_int(5, 1));
  return m;
}

// One call of a grpc_service script (see fuzz/targets/grpc_service.cpp).
std::string call(int kind, int dev, int flags, const std::string& body = {}) {
  if (body.size() > 255) throw std::length_error("grpc_service call body over 255 bytes");
  return std::string(1, static_cast<char>(kind | dev << 3 | flags << 5)) + static_cast<char>(body.size()) + body;
}
template <class Msg>
std::string framed(const std::vector<Msg>& msgs) {  // [u8 length][message] ...
  std::string b;
  for (const auto& m : msgs) {
    const auto bytes = m.SerializeAsString();
    b += static_cast<char>(bytes.size());
    b += bytes;
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fedlora-fuzz-corpora OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  {
    std::ifstream list("fuzz/targets.txt");
    for (std::string t; std::getline(list, t);)
      if (!t.empty() && t[0] != '#') fs::create_directories(out / t);
  }
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
    // Selector byte: pre-tokenizer i % 3, BOS on odd i, EOS on i = 2.
    const char sel = static_cast<char>(i % 3 | (i % 2 ? 4 : 0) | (i == 2 ? 8 : 0));
    write_file(out / "bpe_tokenizer" / ("text" + std::to_string(i)), std::string(1, sel) + texts[i]);
  }

  // PEFT adapters for a GGUF-origin and an HF-origin base: each file with its selector byte.
  for (int hf = 0; hf < 2; ++hf) {
    const fs::path tmp = out / "tmp_peft_adapter";
    fuzz::write_fuzz_peft_adapter(tmp, hf);
    const std::string tag = hf ? "_hf" : "_gguf";
    write_file(out / "peft_adapter" / ("safetensors" + tag), std::string(1, static_cast<char>(hf << 1)) +
                                                                   read_file(tmp / "adapter_model.safetensors"));
    write_file(out / "peft_adapter" / ("config" + tag), std::string(1, static_cast<char>(hf << 1 | 1)) +
                                                              read_file(tmp / "adapter_config.json"));
    fs::remove_all(tmp);
  }

  // SentencePiece .model files: with byte fallback, without, with user-defined pieces.
  const std::string sp = "\xE2\x96\x81";
  write_file(out / "spm_model" / "byte_fallback.model",
             spm_model_bytes(true, {sp, "e", "h", "l", "o", "w", "r", "d", sp + "w", "he", "ll", "llo", "hello"}, {}));
  write_file(out / "spm_model" / "no_fallback.model", spm_model_bytes(false, {sp, "a", "b", "c", sp + "a", "ab"}, {}));
  write_file(out / "spm_model" / "user_defined.model",
             spm_model_bytes(true, {sp, "t", "o", sp + "t", "to"}, {"<sep>", "[MASK]"}));

  // import-hf: config.json, tokenizer.json, tokenizer_config.json, a model.safetensors and a
  // shard index (selector byte 0..4, see fuzz_targets.h).
  {
    const nlohmann::json config = {
        {"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 64},
        {"intermediate_size", 96}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
        {"num_key_value_heads", 2}, {"max_position_embeddings", 32}, {"rms_norm_eps", 1e-5},
        {"rope_theta", 10000.0}, {"rope_scaling", nullptr}, {"attention_bias", false}, {"mlp_bias", false},
        {"hidden_act", "silu"}, {"tie_word_embeddings", true}, {"vocab_size", 300}, {"bos_token_id", 1},
        {"eos_token_id", {2, 3}}, {"torch_dtype", "bfloat16"}};
    write_file(out / "hf_import" / "config.json", std::string(1, '\0') + config.dump());

    const auto v = fuzz::fuzz_bpe_vocab("smollm");
    nlohmann::json vocab = nlohmann::json::object();
    nlohmann::json added = nlohmann::json::array();
    for (size_t i = 0; i < v.tokens.size(); ++i) {
      if (v.types[i] == 1) vocab[v.tokens[i]] = i;
      else added.push_back({{"id", i}, {"content", v.tokens[i]}, {"special", v.types[i] == 3}});
    }
    const nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    const nlohmann::json tok = {
        {"version", "1.0"}, {"added_tokens", added}, {"normalizer", nullptr},
        {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level}}}},
        {"decoder", byte_level},
        {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"byte_fallback", false},
                   {"vocab", vocab}, {"merges", v.merges}}}};
    write_file(out / "hf_import" / "tokenizer.json", std::string(1, '\1') + tok.dump());
    write_file(out / "hf_import" / "tokenizer_config.json",
               std::string(1, '\2') + R"({"add_bos_token": false, "add_eos_token": true, "bos_token": "<|im_start|>",)"
               R"( "eos_token": {"content": "<|im_end|>", "special": true}, "pad_token": "<|endoftext|>"})");
    lora::safetensors::SafetensorsWriter st;
    std::vector<std::byte> f32(4 * 6, std::byte{0x3f}), half(2 * 4, std::byte{0x3c});
    st.add_tensor("model.embed_tokens.weight", lora::safetensors::Dtype::F32, {3, 2}, f32);
    st.add_tensor("model.norm.weight", lora::safetensors::Dtype::BF16, {4}, half);
    st.add_tensor("lm_head.weight", lora::safetensors::Dtype::F16, {2, 2}, half);
    const auto bytes = st.serialize();
    write_file(out / "hf_import" / "model.safetensors",
               std::string(1, '\3') + std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    write_file(out / "hf_import" / "index.json",
               std::string(1, '\4') + R"({"metadata": {"total_size": 40}, "weight_map": {)"
               R"("model.layers.1.mlp.up_proj.weight": "model-00001-of-00002.safetensors",)"
               R"( "model.norm.weight": "model-00001-of-00002.safetensors",)"
               R"( "model.layers.2.mlp.up_proj.weight": "model-00002-of-00002.safetensors",)"
               R"( "model.norm.weight2": "model-00002-of-00002.safetensors"}})");
  }

  // Per-user corpora: JSON Lines (selector even) and Shakespeare roles (odd).
  write_file(out / "user_corpus" / "users.jsonl",
             std::string(1, '\0') + "{\"user\": \"alice\", \"text\": \"hello there\"}\n"
             "{\"user\": \"bob\", \"text\": \"good morning\", \"lang\": \"en\"}\r\n\n"
             "{\"user\": \"alice\", \"text\": \"how are you?\"}\n{\"user\": \"bob\", \"text\": \"\"}\n"
             "{\"user\": \"bob\", \"text\": \"caf\u00e9 \\u2014 ok\"}\n{\"user\": \"alice\", \"text\": \"bye\"}\n");
  write_file(out / "user_corpus" / "roles.txt",
             std::string(1, '\1') + "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
             "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n\n"
             "All:\nResolved. resolved.\n\nLADY  CAPULET:\r\nWhat, ho!\r\n\nFirst Citizen:\nFirst, you know:\nCaius.\n");
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
    secagg::RoundConfig rc = fuzz::fuzz_round_config();
    rc.round = 3;
    rc.vector_length = 1001;  // d + the clip indicator
    rc.params = secagg::SecAggParameters{secagg::GraphKind::kComplete, fuzz::kSecAggClients - 1, 3};
    std::vector<secagg::RosterEntry> roster;
    for (std::uint32_t u = 0; u < fuzz::kSecAggClients; ++u) {
      secagg::crypto::DeterministicRandom rng(u, "identity");
      roster.push_back({secagg::crypto::Ed25519PrivateKey::generate(rng).public_key(), std::nullopt});
    }
    rc.roster = secagg::make_roster(roster);
    sa.config = std::make_shared<const secagg::RoundConfig>(rc);
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

  {  // gRPC service scripts: an honest plain round, then refusals of each kind.
    enum { kCheckIn, kDownload, kUploadRaw, kUploadBuilt, kSecAgg, kResult, kTick, kRaw };
    v1::CheckInRequest ci;
    ci.set_runtime_version("fuzz");
    ci.set_num_examples(12);
    const std::string checkin = ci.SerializeAsString();
    std::string honest;
    for (int d = 0; d < 2; ++d) honest += call(kCheckIn, d, 1, checkin);
    honest += call(kTick, 0, 0, std::string(1, '\0'));
    for (int d = 0; d < 2; ++d) honest += call(kCheckIn, d, 1, checkin);
    honest += call(kDownload, 0, 1) + call(kDownload, 1, 1);
    honest += call(kUploadBuilt, 0, 0, "\x10\x01\xff\x7f") + call(kUploadBuilt, 1, 0, "\x20\x02\x03");
    honest += call(kTick, 0, 0, std::string(1, '\0'));
    v1::RoundResultRequest rr;
    rr.set_round(1);
    honest += call(kResult, 0, 0, rr.SerializeAsString());
    write_file(out / "grpc_service" / "honest_round", honest);

    std::string bad;
    for (int d = 0; d < 4; ++d) bad += call(kCheckIn, d, 1, checkin);
    bad += call(kTick, 0, 0, std::string(1, '\0'));
    for (int d = 0; d < 4; ++d) bad += call(kCheckIn, d, 1, checkin);
    bad += call(kCheckIn, 2, 2, checkin);          // wrong token
    bad += call(kCheckIn, 3, 0, checkin);          // no base hash, no device id
    v1::DownloadRequest dl;
    dl.set_offset(1u << 30);
    bad += call(kDownload, 0, 1, dl.SerializeAsString());  // offset past the end
    bad += call(kUploadBuilt, 0, 1, "\x10") + call(kUploadBuilt, 1, 2, "\x10") + call(kUploadBuilt, 0, 4, "\x10");
    v1::UploadMessage head, chunk;
    head.mutable_header()->set_weight(1.0);
    head.mutable_header()->mutable_payload()->set_size_bytes(8);
    head.mutable_header()->mutable_payload()->set_sha256(std::string(32, 'x'));
    chunk.mutable_chunk()->set_offset(0);
    chunk.mutable_chunk()->set_data("abcdefgh");
    bad += call(kUploadRaw, 1, 1, framed(std::vector<v1::UploadMessage>{head, chunk}));
    bad += call(kUploadRaw, 1, 1, framed(std::vector<v1::UploadMessage>{chunk, head}));
    v1::SecAggUp up;
    up.mutable_header()->set_size_bytes(4);
    up.mutable_header()->set_sha256(std::string(32, 'y'));
    v1::SecAggUp upc;
    upc.mutable_chunk()->set_offset(0);
    upc.mutable_chunk()->set_data("abcd");
    bad += call(kSecAgg, 0, 1, framed(std::vector<v1::SecAggUp>{up, upc}));
    bad += call(kSecAgg, 1, 0, framed(std::vector<v1::SecAggUp>{upc}));
    bad += call(kRaw, 0, 0, checkin) + call(kRaw, 0, 1, "\xff\xff\x01");
    bad += call(kTick, 0, 0, "\x40");  // past the training deadline
    rr.set_round(999);
    bad += call(kResult, 2, 0, rr.SerializeAsString());
    write_file(out / "grpc_service" / "refusals", bad);
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
