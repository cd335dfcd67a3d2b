#pragma once
// The virtual fleet: one device per user of the configured corpus, with its tokenized
// train/test windows, and the fixed seeded sample of users whose held-out data is evaluated.
#include <cstdint>
#include <string>
#include <vector>

#include "client/train/user_examples.h"
#include "lora/tokenizer/text_codec.h"
#include "simulator/config/sim_config.h"

namespace fedlora::sim {

struct Fleet {
  std::vector<client::UserExamples> devices;  ///< device id = index
  std::vector<size_t> eval_devices;           ///< indices of the evaluation users
  size_t train_texts = 0, test_texts = 0, train_tokens = 0;

  std::vector<uint64_t> ids() const;
  /// Most training windows any device holds (the example-weight cap for fixed-point SecAgg).
  int64_t max_train_examples() const;
};

/// Loads data.format/data.path with the configured split, caps the population at
/// data.max_users with a seeded sample, tokenizes every user into windows of
/// context_length + 1 tokens, and draws federation.eval_users evaluation users.
/// `seed_of(tag)` derives the seeds. Throws the data loaders' errors (naming the file) and
/// ConfigError if the population is smaller than the cohort.
Fleet build_fleet(const SimConfig& cfg, const lora::TextCodec& tokenizer, int64_t context_length,
                  uint64_t population_seed, uint64_t eval_seed);

}  // namespace fedlora::sim
