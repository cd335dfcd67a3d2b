#pragma once
// Devices of a Dirichlet partition (data.format = "partition"): an idle device is its chunk
// ids; its text is cut from the shared source documents and tokenized when needed.
#include "client/data/dirichlet_partition.h"
#include "client/data/source_documents.h"
#include "lora/tokenizer/text_codec.h"
#include "simulator/fleet/device_source.h"

namespace fedlora::sim {

class PartitionSource final : public DeviceSource {
 public:
  /// User u's texts are its chunks in draw order, the first `train_chunks` training, the rest
  /// held out. `tokenizer` must outlive this source.
  /// @throws std::invalid_argument unless 1 <= train_chunks < partition.examples_per_user().
  PartitionSource(client::data::SourceDocuments documents, std::vector<client::data::TextChunk> chunks,
                  client::data::DirichletPartition partition, std::size_t train_chunks,
                  const lora::TextCodec& tokenizer, std::int64_t context_length);

  std::size_t size() const override { return partition_.users(); }
  std::string user_id(std::size_t device) const override { return "u" + std::to_string(device); }
  client::UserExamples materialize(std::size_t device) const override;
  std::size_t device_bytes() const override { return partition_.resident_bytes(); }
  std::size_t shared_bytes() const override;

  /// The user's texts (chunks cut from the documents), split as materialize() uses them.
  client::data::UserData texts_of(std::size_t device) const;

 private:
  client::data::SourceDocuments documents_;
  std::vector<client::data::TextChunk> chunks_;
  client::data::DirichletPartition partition_;
  std::size_t train_chunks_;
  const lora::TextCodec& tokenizer_;
  std::int64_t context_length_;
};

}  // namespace fedlora::sim
