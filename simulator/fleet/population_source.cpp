#include "simulator/fleet/population_source.h"

namespace fedlora::sim {

PopulationSource::PopulationSource(client::data::Population population, const lora::TextCodec& tokenizer,
                                   std::int64_t context_length)
    : population_(std::move(population)), tokenizer_(tokenizer), context_length_(context_length) {}

client::UserExamples PopulationSource::materialize(std::size_t device) const {
  return client::tokenize_user(population_.at(device), tokenizer_, context_length_);
}

std::size_t PopulationSource::device_bytes() const {
  std::size_t n = 0;
  for (const auto& u : population_.users()) {
    n += sizeof(u) + u.user_id.capacity();
    for (const auto* split : {&u.train, &u.test}) {
      n += split->capacity() * sizeof(std::string);
      for (const auto& t : *split) n += t.capacity();
    }
  }
  return n;
}

}  // namespace fedlora::sim
