#include "tests/e2e/tiny_model.h"

#include "lora/format/gguf_writer.h"
#include "lora/model/base_model.h"
#include "lora/model/dense_model.h"
#include "lora/tokenizer/gguf_vocab.h"

namespace fedlora::test {

void write_tiny_model(const std::filesystem::path& path, uint64_t seed, bool word_pieces) {
  lora::SpmVocabSpec spec;
  spec.pieces = {"<unk>", "<s>", "</s>"};
  spec.types = {lora::TokenType::unknown, lora::TokenType::control, lora::TokenType::control};
  for (int b = 0; b < 256; ++b) {
    spec.pieces.push_back(lora::byte_piece(static_cast<uint8_t>(b)));
    spec.types.push_back(lora::TokenType::byte);
  }
  spec.scores.assign(spec.pieces.size(), 0.0f);
  if (word_pieces) {
    const std::string space = "\xE2\x96\x81";
    auto add = [&](const std::string& p, float score) {
      spec.pieces.push_back(p);
      spec.types.push_back(lora::TokenType::normal);
      spec.scores.push_back(score);
    };
    add(space, -1.0f);
    for (char c = 'a'; c <= 'z'; ++c) add(std::string(1, c), -1.0f);
    for (char c = 'a'; c <= 'z'; ++c) add(space + c, 0.0f);
  }
  lora::SpmVocab vocab(spec);

  lora::LlamaConfig cfg;
  cfg.vocab_size = vocab.size();
  cfg.dim = 64;
  cfg.n_layers = 2;
  cfg.n_heads = 4;
  cfg.n_kv_heads = 2;
  cfg.ffn_dim = 96;
  cfg.context_length = 32;
  lora::DenseModel dense(cfg, seed);
  lora::gguf::GgufWriter w;
  lora::write_llama_metadata(w, cfg, "tiny", lora::GgmlType::F16);
  lora::write_gguf_vocab(vocab, w);
  lora::write_llama_weights(w, dense.named_weights(), lora::GgmlType::F16);
  w.write(path);
}

}  // namespace fedlora::test
