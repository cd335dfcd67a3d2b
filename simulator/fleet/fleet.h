#pragma once
// The virtual fleet: one device per user of the configured corpus. An idle device is
// metadata only (DeviceMeta plus what its DeviceSource needs to rebuild its text); its
// tokenized windows exist only while it is in a cohort or evaluated (Fleet::examples), with
// a bounded cache of the most recently used devices.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/train/user_examples.h"
#include "lora/tokenizer/text_codec.h"
#include "simulator/config/sim_config.h"
#include "simulator/fleet/device_cache.h"
#include "simulator/fleet/device_source.h"

namespace fedlora::sim {

class Fleet {
 public:
  /// `meta[i]` describes device i of `source` (sizes must match); the cache keeps up to
  /// `cache_devices` recently used devices' windows on top of those held by callers.
  Fleet(std::unique_ptr<DeviceSource> source, std::vector<DeviceMeta> meta, std::size_t cache_devices);

  std::size_t size() const noexcept { return meta_.size(); }
  /// Device ids 0..size()-1.
  std::vector<std::uint64_t> ids() const;
  /// Counts of device `id` (no tokenization). @throws std::out_of_range.
  const DeviceMeta& meta(std::size_t id) const { return meta_.at(id); }
  std::string user_id(std::size_t id) const { return source_->user_id(id); }
  /// Most training windows any device holds (the example-weight cap for fixed-point SecAgg).
  std::int64_t max_train_examples() const;

  /// Device `id`'s token windows: from the cache, or tokenized now. Thread-safe. The windows
  /// stay alive while the returned pointer is held. @throws std::out_of_range.
  std::shared_ptr<const client::UserExamples> examples(std::size_t id) const;

  /// Devices whose windows are alive now (cached or held by a caller), and their tokens.
  std::size_t resident_devices() const noexcept { return cache_->live_devices(); }
  std::size_t resident_tokens() const noexcept { return cache_->live_tokens(); }
  /// Bytes held for idle devices: DeviceMeta of all devices plus the source's per-device
  /// records (not the shared corpus text, see shared_bytes()).
  std::size_t device_metadata_bytes() const noexcept;
  /// Bytes the source shares between devices (e.g. the documents of a partition).
  std::size_t shared_bytes() const noexcept { return source_->shared_bytes(); }

  std::vector<std::size_t> eval_devices;  ///< indices of the evaluation users
  std::size_t train_texts = 0, test_texts = 0, train_tokens = 0;
  std::string data_sha256;                ///< hex SHA-256 of the users' data and eval_devices (run fingerprint)

 private:
  std::unique_ptr<DeviceSource> source_;
  std::vector<DeviceMeta> meta_;
  std::unique_ptr<DeviceCache> cache_;
  std::vector<std::shared_ptr<const client::UserExamples>> pinned_;  // evaluation users
  friend Fleet build_fleet(const SimConfig&, const lora::TextCodec&, int64_t, uint64_t, uint64_t);
};

/// Builds the fleet of data.format over data.path. shakespeare / directory / jsonl: loads
/// the per-user corpus with the configured split, caps it at data.max_users with a seeded
/// sample, and tokenizes each user once to count its windows of context_length + 1 tokens
/// (the windows are dropped again). partition: cuts the source documents into
/// data.chunk_bytes chunks, tokenizes each chunk once to count its tokens, and draws
/// data.users users with a Dirichlet(data.alpha) mix over documents
/// (client/data/dirichlet_partition.h); a user's first train_percent of chunks train.
/// Then draws federation.eval_users evaluation users and keeps their windows.
/// `population_seed` draws the max_users sample or the partition, `eval_seed` the evaluation
/// users. The tokenizer must outlive the fleet. Throws the data loaders' errors (naming the
/// file), ConfigError if the population is smaller than the cohort, std::invalid_argument
/// if context_length < 1.
Fleet build_fleet(const SimConfig& cfg, const lora::TextCodec& tokenizer, int64_t context_length,
                  uint64_t population_seed, uint64_t eval_seed);

}  // namespace fedlora::sim
