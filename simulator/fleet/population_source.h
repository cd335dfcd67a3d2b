#pragma once
// Devices of a per-user corpus (shakespeare, directory, jsonl): each device keeps its user's
// texts and is tokenized when needed.
#include "client/data/population.h"
#include "lora/tokenizer/text_codec.h"
#include "simulator/fleet/device_source.h"

namespace fedlora::sim {

class PopulationSource final : public DeviceSource {
 public:
  /// `tokenizer` must outlive this source. context_length >= 1 (the windows are
  /// context_length + 1 tokens, client::tokenize_user).
  PopulationSource(client::data::Population population, const lora::TextCodec& tokenizer, std::int64_t context_length);

  std::size_t size() const override { return population_.size(); }
  std::string user_id(std::size_t device) const override { return population_.at(device).user_id; }
  client::UserExamples materialize(std::size_t device) const override;
  std::size_t device_bytes() const override;
  std::size_t shared_bytes() const override { return 0; }

 private:
  client::data::Population population_;
  const lora::TextCodec& tokenizer_;
  std::int64_t context_length_;
};

}  // namespace fedlora::sim
