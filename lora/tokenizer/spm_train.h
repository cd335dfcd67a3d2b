#pragma once
// Learning a SentencePiece BPE vocabulary by running the `spm_train` command (Debian package
// `sentencepiece`) as a child process. We never link libsentencepiece (it bundles its own
// protobuf and crashes next to LibTorch/gRPC, see docs/build.md).
//
// Reference: T. Kudo and J. Richardson, "SentencePiece: A simple and language independent
// subword tokenizer and detokenizer for Neural Text Processing", EMNLP 2018; the flags are
// those of spm_train 0.1.97 (`spm_train --help`).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lora/tokenizer/spm_vocab.h"

namespace fedlora::lora {

/// Options of one `spm_train` run. The flags that define the text model are fixed (they are
/// what SpmTokenizer implements): --model_type=bpe --byte_fallback=true
/// --normalization_rule_name=identity --remove_extra_whitespaces=false
/// --add_dummy_prefix=true --split_digits=true --allow_whitespace_only_pieces=true
/// --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 (pieces <unk>, <s>, </s>).
struct SpmTrainOptions {
  /// Plain-text corpus files, one sentence per line (spm_train reads them line by line, so
  /// no piece ever contains '\n').
  std::vector<std::filesystem::path> input_files;
  /// In-memory corpus, used in addition to input_files; written to a temporary file.
  std::string input_text;
  /// Directory for `<model_prefix>.model` and `<model_prefix>.vocab`; created if missing.
  std::filesystem::path output_dir;
  /// File name stem of the outputs; letters, digits, '_', '-', '.' only.
  std::string model_prefix = "tokenizer";
  /// Number of pieces, including <unk>, <s>, </s> and the 256 byte pieces (so > 259).
  std::int32_t vocab_size = 2000;
  /// Fraction of the corpus' characters that must be pieces of their own. 1.0 (default):
  /// every character seen in training gets a piece. Our corpora are English prose with a
  /// few hundred distinct characters at most, so this costs a handful of vocabulary slots,
  /// while a rare character (é, —, ’) then costs 1 token instead of 2–4 byte-fallback tokens;
  /// characters never seen still go through byte fallback. SentencePiece's default 0.9995 is
  /// meant for scripts with thousands of characters (CJK), where the long tail matters.
  double character_coverage = 1.0;
  /// Longer lines (in bytes) are skipped by spm_train.
  std::int32_t max_sentence_length = 4192;
  /// If > 0, spm_train samples this many lines (--shuffle_input_sentence=true with
  /// --random_seed=seed, so the sample and thus the vocabulary are deterministic);
  /// 0 = use every line.
  std::uint64_t input_sentence_size = 0;
  /// --random_seed. 4294967295 is spm_train's "unset" value (seed from the clock) and is
  /// rejected.
  std::uint32_t seed = 0;
  /// --num_threads. With spm_train 0.1.97 the vocabulary does not depend on it (checked:
  /// same pieces with 1 and 2 threads for the same seed).
  std::int32_t num_threads = 1;
  /// The program to run, looked up on PATH (posix_spawnp).
  std::string spm_train_program = "spm_train";
};

/// Result of train_spm_vocab: the vocabulary and where spm_train put its files. The `.model`
/// file stays (spm_encode needs it as the reference encoder).
struct SpmTrainResult {
  SpmVocab vocab;
  std::filesystem::path model_file;  ///< <output_dir>/<model_prefix>.model
  std::filesystem::path vocab_file;  ///< <output_dir>/<model_prefix>.vocab (piece TAB score)
};

/// Runs spm_train (posix_spawnp with an argv array, no shell) and reads the resulting
/// `.model` file with load_spm_model (exact scores and types). Input that spm_train cannot
/// take as a path (in-memory text, or a path containing ',' which --input uses as its
/// separator) is first written to a temporary directory, removed afterwards.
/// Throws TokenizerError for invalid options, a missing input file, spm_train not installed
/// (naming the Debian package `sentencepiece`), a non-zero exit status or a signal (with the
/// last lines of spm_train's output), or an unreadable result.
SpmTrainResult train_spm_vocab(const SpmTrainOptions& options);

/// The argument vector train_spm_vocab passes to spm_train for these options and input list
/// (argv[0] is the program); exposed so the flags can be checked.
std::vector<std::string> spm_train_arguments(const SpmTrainOptions& options,
                                             const std::string& input_list);

}  // namespace fedlora::lora
