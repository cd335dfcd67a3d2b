#pragma once
// Payloads that cross the wire in chunks: the global adapter θ, a device's plain upload,
// and each SecAgg message. A payload is announced by (size, SHA-256) and arrives as chunks of
// at most kMaxChunkBytes, in order; the receiver checks size and hash before using a byte.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/protocol/round_instructions.h"

namespace fedlora::protocol {

/// Largest chunk payload (1 MiB): every message stays far below gRPC's default 4 MiB limit.
inline constexpr std::size_t kMaxChunkBytes = std::size_t{1} << 20;
/// Largest payload a receiver accepts (4 GiB).
inline constexpr std::uint64_t kMaxPayloadBytes = std::uint64_t{1} << 32;

/// What a device sends without SecAgg: its weighted update w·Δ' (float32, upload_length()
/// values: d, plus the clip indicator with adaptive clipping) and its weight w.
struct PlainUpload {
  std::vector<float> values;
  double weight = 1.0;
};

/// SHA-256 (FIPS 180-4) of bytes.
Sha256Digest sha256_of(std::string_view bytes);
/// SHA-256 of a file's contents, read in 1 MiB blocks (a base model is hashed this way by
/// both sides). Throws ProtocolError naming the file if it cannot be read.
Sha256Digest sha256_of_file(const std::filesystem::path& path);
/// Lower-case hex of a digest.
std::string to_hex(const Sha256Digest& digest);

/// float32 values as little-endian bytes (4 per value).
std::string encode_floats(std::span<const float> values);
/// Inverse of encode_floats. Throws ProtocolError unless bytes.size() == 4·expected_count.
std::vector<float> decode_floats(std::string_view bytes, std::size_t expected_count);

/// Splits a payload into chunk-sized views (offset, bytes); an empty payload has no chunk.
struct ChunkView {
  std::uint64_t offset;
  std::string_view data;
};
std::vector<ChunkView> split_chunks(std::string_view payload, std::size_t chunk_bytes = kMaxChunkBytes);

/// Reassembles one announced payload from its chunks.
class PayloadAssembler {
 public:
  /// Throws ProtocolError if size_bytes is 0 or above max_bytes (≤ kMaxPayloadBytes), or
  /// the digest is not 32 bytes.
  PayloadAssembler(std::uint64_t size_bytes, std::string_view sha256, std::uint64_t max_bytes = kMaxPayloadBytes);
  /// Appends a chunk. Throws ProtocolError if it is empty, larger than kMaxChunkBytes, not at
  /// the next offset (a gap, a replayed or reordered chunk), or runs past the announced size.
  void add(std::uint64_t offset, std::string_view data);
  bool complete() const { return buffer_.size() == size_; }
  std::uint64_t received() const { return buffer_.size(); }
  /// The payload, once complete and its SHA-256 matches. Throws ProtocolError otherwise.
  std::string take();

 private:
  std::uint64_t size_;
  Sha256Digest expected_{};
  std::string buffer_;
};

}  // namespace fedlora::protocol
