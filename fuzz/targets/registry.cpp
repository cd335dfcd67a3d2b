// Target lookup by name, for the replay test (tests/fuzz) and the corpus maker.
#include "fuzz/targets/fuzz_targets.h"

namespace fedlora::fuzz {

Target find_target(std::string_view name) {
  if (name == "gguf_file") return gguf_file;
  if (name == "safetensors_file") return safetensors_file;
  if (name == "peft_config") return peft_config;
  if (name == "peft_adapter") return peft_adapter;
  if (name == "spm_tokenizer") return spm_tokenizer;
  if (name == "bpe_pretokenizer") return bpe_pretokenizer;
  if (name == "bpe_tokenizer") return bpe_tokenizer;
  if (name == "spm_model") return spm_model;
  if (name == "hf_import") return hf_import;
  if (name == "user_corpus") return user_corpus;
  if (name == "job_config") return job_config;
  if (name == "secagg_round") return secagg_round;
  if (name == "task_messages") return task_messages;
  if (name == "grpc_service") return grpc_service;
  return nullptr;
}

}  // namespace fedlora::fuzz
