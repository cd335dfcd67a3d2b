#pragma once
// Fuzz entry points: one per parser or message handler of untrusted bytes. Each takes any
// bytes and must return without crashing, leaking or undefined behaviour; typed errors
// (exceptions naming the problem) are the expected outcome for bad input and are caught
// here. The libFuzzer binaries in fuzz/ call these, and tests/fuzz replays the corpora and
// every kept crash input through them in the default test run.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fedlora::fuzz {

using Target = void (*)(const std::uint8_t* data, std::size_t size);

/// GGUF v3 reader: header, metadata, tensor table, tensor bytes, llama hyper-parameters and
/// both tokenizer vocabularies read from it.
void gguf_file(const std::uint8_t* data, std::size_t size);
/// safetensors header and tensor bytes, and a PEFT adapter read through them.
void safetensors_file(const std::uint8_t* data, std::size_t size);
/// PEFT adapter_config.json.
void peft_config(const std::uint8_t* data, std::size_t size);
/// PEFT adapter import for a base (read_peft_adapter_for_base): first byte bit 0 = the input
/// is adapter_config.json (else adapter_model.safetensors), bit 1 = an HF-origin base; the
/// other file is valid. What is accepted fits the layout and is finite.
void peft_adapter(const std::uint8_t* data, std::size_t size);
/// SentencePiece encoder/decoder on arbitrary text (and the lossless round trip on valid UTF-8).
void spm_tokenizer(const std::uint8_t* data, std::size_t size);
/// Byte-level BPE pre-tokenizers (smollm, llama-bpe, qwen2): pieces concatenate to the input.
void bpe_pretokenizer(const std::uint8_t* data, std::size_t size);
/// Byte-level BPE encoder/decoder with merges (a fixed vocabulary; first byte: pre-tokenizer,
/// BOS, EOS): ids in range and decode(encode(x)) == x for any bytes.
void bpe_tokenizer(const std::uint8_t* data, std::size_t size);
/// SentencePiece .model bytes (parse_spm_model); a model that parses encodes and decodes.
void spm_model(const std::uint8_t* data, std::size_t size);
/// import-hf's inputs, by first byte: config.json, tokenizer.json, tokenizer_config.json,
/// model.safetensors read as float32, model.safetensors.index.json beside two shards.
void hf_import(const std::uint8_t* data, std::size_t size);
/// Per-user corpora (first byte: JSON Lines or Shakespeare roles, split options).
void user_corpus(const std::uint8_t* data, std::size_t size);
/// The TOML configuration: the shared job sections ([model], [lora], [federation], [server],
/// [user_dp], ...; written back and read again), the simulator's and the coordinator's loaders.
void job_config(const std::uint8_t* data, std::size_t size);
/// A SecAgg+ round (n = 4) in which one message, client→server or server→client at one
/// stage, is replaced by the input (first byte: which one; see secagg_fuzz_round.h).
void secagg_round(const std::uint8_t* data, std::size_t size);

/// The deployment protocol: first byte even → the bytes are a fedlora.v1.RoundInstructions
/// task (from_proto must throw ProtocolError or give instructions to_proto accepts); odd →
/// a chunked payload (u16 size, 32-byte SHA-256, chunks of u16 length, u8 offset choice,
/// bytes) fed to PayloadAssembler.
void task_messages(const std::uint8_t* data, std::size_t size);

/// The coordinator's gRPC handlers: a script of calls (CheckIn, DownloadAdapter,
/// UploadUpdate, SecAggExchange, GetRoundResult, raw bytes, clock ticks) against one
/// in-process service on models/base.gguf (see grpc_service.cpp for the encoding).
void grpc_service(const std::uint8_t* data, std::size_t size);

/// Target by name ("gguf_file", ...), or nullptr.
Target find_target(std::string_view name);

}  // namespace fedlora::fuzz
