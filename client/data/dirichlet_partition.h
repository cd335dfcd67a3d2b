#pragma once
// Synthetic federated users from a set of source documents: each user's text is a mix of
// documents drawn from a Dirichlet distribution (Hsu, Qi & Brown 2019, "Measuring the
// Effects of Non-Identical Data Distribution for Federated Visual Classification",
// arXiv:1909.06335, §3). Torch-free and tokenizer-free: a user is a list of chunk ids, each
// chunk a contiguous byte range of one document.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace fedlora::client::data {

/// A contiguous byte range [offset, offset + length) of document `doc`.
struct TextChunk {
  std::uint32_t doc = 0;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};

/// Cuts `text` (valid UTF-8) into consecutive chunks of about `chunk_bytes` bytes: a chunk
/// ends after the last '\n' in its second half, else at the last code-point boundary before
/// `chunk_bytes`. Chunks holding only whitespace are skipped. Offsets are into `text`.
/// @throws std::invalid_argument if chunk_bytes < 16 or text is larger than 4 GiB.
std::vector<TextChunk> chunk_document(std::string_view text, std::uint32_t doc, std::size_t chunk_bytes);

/// How the Dirichlet prior p over documents is chosen.
enum class PartitionPrior {
  size,     ///< p_i ∝ number of chunks of document i (the corpus' own mix; Hsu et al.'s class prior)
  uniform,  ///< p_i = 1 / (documents with at least one chunk)
};

struct PartitionOptions {
  std::size_t users = 0;              ///< N synthetic users, >= 1
  double alpha = 1.0;                 ///< concentration α > 0: q ~ Dir(α·p); α → ∞ is IID, α → 0 one document per user
  std::size_t examples_per_user = 8;  ///< chunks per user, >= 2 (split into train and test later)
  PartitionPrior prior = PartitionPrior::size;
  std::uint64_t seed = 0;             ///< the run's partition seed; user u draws from a stream of (seed, u)
};

/// The prior p over documents (sums to 1; 0 for a document without chunks).
/// @throws std::invalid_argument if no document has a chunk.
std::vector<double> partition_prior(std::span<const std::uint32_t> chunks_per_doc, PartitionPrior prior);

/// User `user`'s document mix q ~ Dir(α·p) (q_i = 0 where p_i = 0), drawn with Marsaglia &
/// Tsang gamma variates in log space so that tiny α·p_i do not underflow to an all-zero q.
/// Deterministic in (seed, user). @throws std::invalid_argument if alpha is not finite and > 0.
std::vector<double> dirichlet_mix(std::span<const double> prior, double alpha, std::uint64_t seed, std::uint64_t user);

/// Every user's chunks: user u draws q = dirichlet_mix(p, α, seed, u), then each of its
/// examples_per_user chunks as document d ~ q and a chunk of d uniformly; a chunk the user
/// already holds is redrawn (up to 16 times, then kept). Users draw with replacement across
/// users: N × examples_per_user may exceed the corpus' chunks, and then users share text.
/// A user's chunks stay in draw order, so any prefix (e.g. the training split) is itself a
/// sample from the user's mix q.
class DirichletPartition {
 public:
  /// `chunks_per_doc[d]`: chunks of document d; global chunk ids run document by document
  /// (document d owns ids [Σ_{e<d} chunks_per_doc[e], ... + chunks_per_doc[d])).
  /// @throws std::invalid_argument naming the field for users = 0, alpha not finite and > 0,
  ///         examples_per_user < 2, or no chunk at all.
  DirichletPartition(std::span<const std::uint32_t> chunks_per_doc, const PartitionOptions& options);

  std::size_t users() const noexcept { return users_; }
  std::size_t examples_per_user() const noexcept { return per_user_; }
  /// Chunk ids of user u, in draw order. @throws std::out_of_range unless u < users().
  std::span<const std::uint32_t> chunks_of(std::size_t u) const;
  /// Document of a global chunk id.
  std::uint32_t document_of(std::uint32_t chunk) const;
  /// Bytes this object holds (chunk lists and the document index).
  std::size_t resident_bytes() const noexcept;

 private:
  std::size_t users_ = 0, per_user_ = 0;
  std::vector<std::uint32_t> chunks_;     // users × per_user, row-major
  std::vector<std::uint32_t> doc_begin_;  // documents + 1
};

}  // namespace fedlora::client::data
