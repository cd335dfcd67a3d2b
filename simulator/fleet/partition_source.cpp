#include "simulator/fleet/partition_source.h"

#include <stdexcept>

namespace fedlora::sim {

PartitionSource::PartitionSource(client::data::SourceDocuments documents, std::vector<client::data::TextChunk> chunks,
                                 client::data::DirichletPartition partition, std::size_t train_chunks,
                                 const lora::TextCodec& tokenizer, std::int64_t context_length)
    : documents_(std::move(documents)),
      chunks_(std::move(chunks)),
      partition_(std::move(partition)),
      train_chunks_(train_chunks),
      tokenizer_(tokenizer),
      context_length_(context_length) {
  if (train_chunks_ < 1 || train_chunks_ >= partition_.examples_per_user())
    throw std::invalid_argument("PartitionSource: train_chunks must be in [1, examples_per_user)");
}

client::data::UserData PartitionSource::texts_of(std::size_t device) const {
  client::data::UserData u;
  u.user_id = user_id(device);
  const auto ids = partition_.chunks_of(device);
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const auto& c = chunks_.at(ids[k]);
    std::string text = documents_.texts[c.doc].substr(c.offset, c.length);
    (k < train_chunks_ ? u.train : u.test).push_back(std::move(text));
  }
  return u;
}

client::UserExamples PartitionSource::materialize(std::size_t device) const {
  return client::tokenize_user(texts_of(device), tokenizer_, context_length_);
}

std::size_t PartitionSource::shared_bytes() const {
  std::size_t n = chunks_.capacity() * sizeof(client::data::TextChunk);
  for (const auto& t : documents_.texts) n += t.capacity();
  for (const auto& t : documents_.names) n += t.capacity();
  return n;
}

}  // namespace fedlora::sim
