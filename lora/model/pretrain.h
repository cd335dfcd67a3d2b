#pragma once
// Pretraining the embedded base model on the public "proxy" corpus, the server-side step
// that production keyboard FL runs before federated fine-tuning (Hard et al. 2018 §3;
// Wang et al. 2023 "Can public large language models help private cross-device FL?").
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "lora/model/llama_config.h"
#include "lora/quant/ggml_type.h"

namespace fedlora::lora {

struct PretrainOptions {
  std::filesystem::path data_dir;       ///< directory of UTF-8 .txt files (all are used, sorted by name)
  std::filesystem::path out;            ///< output GGUF path (model + tokenizer)
  std::filesystem::path tokenizer_model;///< where spm_train's .model is kept (reference for spm_encode)
  double holdout_fraction = 0.05;       ///< last fraction of each file's lines, never trained on
  int32_t vocab_size = 4096;
  LlamaConfig model;                    ///< vocab_size is overwritten by the tokenizer's
  int64_t steps = 3000;
  int64_t batch_size = 16;              ///< sequences per step, each context_length tokens
  double lr = 3e-3;                     ///< peak AdamW learning rate
  double min_lr_ratio = 0.1;            ///< cosine decay floor as a fraction of lr
  int64_t warmup_steps = 100;
  double weight_decay = 0.1;
  double grad_clip = 1.0;
  uint64_t seed = 1;
  int threads = 2;
  int64_t log_every = 25;
  GgmlType master_type = GgmlType::F16; ///< storage type of the written weights
  /// Throws std::invalid_argument naming the first bad option.
  void validate() const;
};

struct PretrainReport {
  LlamaConfig model;
  int64_t parameters = 0;
  int64_t train_tokens = 0;             ///< tokens in the training stream
  int64_t heldout_tokens = 0;           ///< predicted tokens in the held-out evaluation
  double heldout_loss = 0.0;            ///< nats/token on the held-out slice, float32 master model
  double heldout_perplexity = 0.0;
  double heldout_perplexity_written = 0.0;  ///< same slice, weights as written (master_type)
  double wall_s = 0.0;
};

/// A progress line for each log step: step, loss, tokens/s, ETA.
using PretrainProgress = std::function<void(const std::string& line)>;

/// Trains a SentencePiece vocabulary (spm_train) and a Llama model from scratch on the
/// training part of the corpus, evaluates held-out perplexity, and writes the GGUF file.
/// Deterministic for a given seed and thread count. Throws std::invalid_argument on bad
/// options, std::runtime_error naming the file on unreadable data, TokenizerError if
/// spm_train fails.
PretrainReport pretrain(const PretrainOptions& options, const PretrainProgress& progress);

/// Splits a text into (train, held-out) at a line boundary: the held-out part is the last
/// `fraction` of the lines (at least one line if fraction > 0 and there are >= 2 lines).
std::pair<std::string, std::string> split_holdout(const std::string& text, double fraction);

}  // namespace fedlora::lora
