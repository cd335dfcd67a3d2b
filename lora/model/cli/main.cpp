// fedlora-model: pretrain the embedded base, inspect and quantize GGUF models, measure
// held-out perplexity.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "lora/format/data_dir.h"
#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "lora/model/base_model.h"
#include "lora/model/cli/cmd_export.h"
#include "lora/model/cli/cmd_keyboard.h"
#include "lora/model/cli/weight_type.h"
#include "lora/model/gguf_names.h"
#include "lora/model/hf_import.h"
#include "lora/model/lm_eval.h"
#include "lora/model/lora_model.h"
#include "lora/model/pretrain.h"
#include "lora/model/runtime.h"
#include "lora/quant/ggml_type.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "lora/tokenizer/spm_tokenizer.h"

using namespace fedlora::lora;

namespace {

GgmlType parse_type(const std::string& s) { return cli::parse_weight_type(s); }

int run_pretrain(const PretrainOptions& o) {
  auto rep = pretrain(o, [](const std::string& line) { std::cout << line << std::endl; });
  std::printf("wrote %s\n", o.out.string().c_str());
  std::printf("parameters %lld, training tokens %lld, held-out tokens %lld\n", static_cast<long long>(rep.parameters),
              static_cast<long long>(rep.train_tokens), static_cast<long long>(rep.heldout_tokens));
  std::printf("held-out loss %.4f nats/token, perplexity %.3f (fp32), %.3f (as written)\n", rep.heldout_loss,
              rep.heldout_perplexity, rep.heldout_perplexity_written);
  std::printf("wall %.1f s\n", rep.wall_s);
  return 0;
}

int run_info(const std::string& path) {
  auto f = gguf::GgufFile::open(path);
  auto cfg = read_llama_config(f);
  std::printf("%s: GGUF v%u, %zu tensors, %zu metadata keys\n", path.c_str(), f.version(), f.tensors().size(),
              f.metadata().size());
  std::printf("%s, %lld parameters\n", cfg.summary().c_str(), static_cast<long long>(cfg.parameter_count()));
  if (auto d = f.find_string("general.description")) std::printf("description: %s\n", d->c_str());
  for (const auto& t : f.tensors()) {
    std::string dims;
    for (auto d : t.dims) dims += (dims.empty() ? "" : ",") + std::to_string(d);
    std::printf("  %-28s %-5s [%s]\n", t.name.c_str(),
                std::string(supported_type_traits(static_cast<uint32_t>(t.type))->name).c_str(), dims.c_str());
  }
  return 0;
}

int run_quantize(const std::string& in, const std::string& out, GgmlType type) {
  auto f = gguf::GgufFile::open(in);
  auto cfg = read_llama_config(f);
  auto base = load_base_model(in, type);
  gguf::GgufWriter w;
  for (const auto& kv : f.metadata())
    if (kv.key != "general.alignment") w.set(kv.key, kv.value);
  write_llama_metadata(w, cfg, f.find_string("general.name").value_or("fedlora-base"), type);
  auto add = [&](const std::string& name, const QuantizedTensor& q) {
    w.add_tensor(name, q.type(), {static_cast<uint64_t>(q.cols()), static_cast<uint64_t>(q.rows())}, q.bytes());
  };
  auto add_norm = [&](const std::string& name, const at::Tensor& t) {
    auto q = QuantizedTensor::quantize(t.data_ptr<float>(), 1, t.numel(), GgmlType::F32);
    w.add_tensor(name, GgmlType::F32, {static_cast<uint64_t>(t.numel())}, q.bytes());
  };
  add(kTokenEmbdName, base->embedding());
  if (!base->output.empty()) add(kOutputName, base->output.front());
  add_norm(kOutputNormName, base->output_norm);
  for (int l = 0; l < cfg.n_layers; ++l) {
    add_norm(gguf_attn_norm_name(l), base->blocks[l].attn_norm);
    add_norm(gguf_ffn_norm_name(l), base->blocks[l].ffn_norm);
    for (auto m : kAllTargetModules) {
      const auto& q = base->blocks[l][m];
      add(gguf_projection_name(l, m), q);
    }
  }
  w.write(out);
  std::printf("wrote %s (%s weights, %zu bytes resident)\n", out.c_str(),
              std::string(supported_type_traits(static_cast<uint32_t>(type))->name).c_str(), base->resident_bytes());
  return 0;
}

int run_perplexity(const std::string& model, const std::string& text_path, const std::string& type, int threads) {
  set_compute_threads(threads);
  auto f = gguf::GgufFile::open(model);
  SpmTokenizer tok(read_gguf_vocab(f));
  auto base = load_base_model(model, type.empty() ? std::nullopt : std::optional<GgmlType>(parse_type(type)));
  std::FILE* fp = std::fopen(text_path.c_str(), "rb");
  if (!fp) throw std::runtime_error("cannot read " + text_path);
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) text.append(buf, n);
  std::fclose(fp);
  auto ids = tok.encode_lines(text, EncodeOptions{.add_bos = true, .add_eos = true});
  LoraAdapter none(make_adapter_layout(base->config, 1, 1.0f, {TargetModule::q}));
  LoraModel m(base, none);
  auto ev = evaluate_stream(m, ids, 16);
  std::printf("%lld tokens: loss %.4f nats/token, perplexity %.3f, next-token accuracy %.4f\n",
              static_cast<long long>(ev.n_targets), ev.loss(), ev.perplexity(), ev.accuracy());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  fedlora::lora::ensure_fast_blas_kernels(argv);
  CLI::App app{"fedlora-model: pretrain, inspect and quantize llama-architecture GGUF base models"};
  app.require_subcommand(1);

  PretrainOptions po;
  std::string po_type = "f16";
  auto* pre = app.add_subcommand("pretrain", "train the base model and its tokenizer on a public text corpus");
  pre->add_option("--data", po.data_dir, "directory of .txt files (default: $FEDLORA_DATA_DIR/public)");
  pre->add_option("--out", po.out, "output GGUF file")->required();
  pre->add_option("--tokenizer-model", po.tokenizer_model, "where to keep spm_train's .model (default: next to --out)");
  pre->add_option("--vocab", po.vocab_size, "vocabulary size")->capture_default_str();
  pre->add_option("--dim", po.model.dim, "embedding length")->capture_default_str();
  pre->add_option("--layers", po.model.n_layers, "blocks")->capture_default_str();
  pre->add_option("--heads", po.model.n_heads, "attention heads")->capture_default_str();
  pre->add_option("--kv-heads", po.model.n_kv_heads, "key/value heads (GQA)")->capture_default_str();
  pre->add_option("--ffn", po.model.ffn_dim, "SwiGLU hidden size")->capture_default_str();
  pre->add_option("--context", po.model.context_length, "context length (tokens)")->capture_default_str();
  pre->add_option("--steps", po.steps, "optimizer steps")->capture_default_str();
  pre->add_option("--batch", po.batch_size, "sequences per step")->capture_default_str();
  pre->add_option("--lr", po.lr, "peak learning rate")->capture_default_str();
  pre->add_option("--warmup", po.warmup_steps, "warmup steps")->capture_default_str();
  pre->add_option("--holdout", po.holdout_fraction, "held-out fraction of each file (last lines)")->capture_default_str();
  pre->add_option("--seed", po.seed, "seed")->capture_default_str();
  pre->add_option("--threads", po.threads, "compute threads")->capture_default_str();
  pre->add_option("--type", po_type, "weight type written: f32 or f16")->capture_default_str();

  std::string info_path;
  auto* info = app.add_subcommand("info", "print a GGUF model's hyper-parameters and tensors");
  info->add_option("model", info_path, "GGUF file")->required();

  std::string q_in, q_out, q_type;
  auto* quant = app.add_subcommand("quantize", "re-encode a model's weights as f32, f16, q8_0 or q4_0");
  quant->add_option("input", q_in, "input GGUF")->required();
  quant->add_option("output", q_out, "output GGUF")->required();
  quant->add_option("type", q_type, "f32, f16, q8_0 or q4_0")->required();

  std::string p_model, p_text, p_type;
  int p_threads = 2;
  auto* ppl = app.add_subcommand("perplexity", "next-token loss, perplexity and accuracy of a model on a text file");
  ppl->add_option("model", p_model, "GGUF file")->required();
  ppl->add_option("text", p_text, "UTF-8 text file")->required();
  ppl->add_option("--type", p_type, "re-encode weights on load (f32, f16, q8_0, q4_0)");
  ppl->add_option("--threads", p_threads, "compute threads")->capture_default_str();

  // --- import-hf: a Hugging Face LlamaForCausalLM checkpoint -> GGUF base (hf_import.h) ---
  std::string hf_dir, hf_out, hf_type = "f16", hf_name;
  auto* hf_cmd = app.add_subcommand("import-hf", "convert a Hugging Face Llama checkpoint directory to a GGUF base");
  hf_cmd->add_option("dir", hf_dir, "directory with config.json, model.safetensors[.index.json], tokenizer")->required();
  hf_cmd->add_option("--out", hf_out, "output GGUF file")->required();
  hf_cmd->add_option("--type", hf_type, "weight type: f32, f16, q8_0 or q4_0")->capture_default_str();
  hf_cmd->add_option("--name", hf_name, "general.name (default: the directory name)");
  int64_t hf_context = 0;
  hf_cmd->add_option("--context", hf_context, "context length (training window) written; default max_position_embeddings");
  auto run_import_hf = [&]() {
    auto rep = import_hf_checkpoint(hf_dir, hf_out, HfImportOptions{.type = parse_type(hf_type), .name = hf_name, .context_length = hf_context});
    std::printf("wrote %s (%llu bytes): %s, %lld parameters, tokenizer %s (%lld tokens)\n", hf_out.c_str(),
                static_cast<unsigned long long>(rep.file_bytes), rep.config.summary().c_str(),
                static_cast<long long>(rep.parameters), rep.tokenizer.c_str(),
                static_cast<long long>(rep.tokenizer_size));
    return 0;
  };
  // --- end import-hf ---

  auto run_export = cli::add_export_commands(app);
  auto run_keyboard = cli::add_keyboard_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*pre) {
      po.master_type = parse_type(po_type);
      if (po.data_dir.empty()) po.data_dir = fedlora::lora::data_dir() / "public";
      return run_pretrain(po);
    }
    if (*info) return run_info(info_path);
    if (*quant) return run_quantize(q_in, q_out, parse_type(q_type));
    if (*ppl) return run_perplexity(p_model, p_text, p_type, p_threads);
    if (*hf_cmd) return run_import_hf();
    if (int rc = run_export(); rc >= 0) return rc;
    if (int rc = run_keyboard(); rc >= 0) return rc;
  } catch (const std::exception& e) {
    std::cerr << "fedlora-model: error: " << e.what() << std::endl;
    return 1;
  }
  return 1;
}
