#include "coordinator/protocol/payload.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <memory>

#include <openssl/evp.h>

#include "coordinator/protocol/errors.h"
#include "secure-agg/crypto/sha256.h"

namespace fedlora::protocol {

Sha256Digest sha256_of(std::string_view bytes) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  return secagg::crypto::sha256({secagg::crypto::ByteSpan(p, bytes.size())});
}

Sha256Digest sha256_of_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ProtocolError("cannot read " + path.string() + " to hash it");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw ProtocolError("SHA-256 init failed");
  std::vector<char> block(kMaxChunkBytes);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got > 0 && EVP_DigestUpdate(ctx.get(), block.data(), got) != 1) throw ProtocolError("SHA-256 update failed");
  }
  if (in.bad()) throw ProtocolError("read error while hashing " + path.string());
  Sha256Digest d{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), d.data(), &len) != 1 || len != d.size()) throw ProtocolError("SHA-256 final failed");
  return d;
}

std::string to_hex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (std::uint8_t b : digest) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

std::string encode_floats(std::span<const float> values) {
  static_assert(sizeof(float) == 4 && std::endian::native == std::endian::little,
                "the wire format is little-endian float32; add byte swapping for other hosts");
  std::string out(values.size() * 4, '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::vector<float> decode_floats(std::string_view bytes, std::size_t expected_count) {
  if (bytes.size() != expected_count * 4)
    throw ProtocolError("payload has " + std::to_string(bytes.size()) + " bytes, expected " +
                        std::to_string(expected_count) + " float32 values (" + std::to_string(expected_count * 4) +
                        " bytes)");
  std::vector<float> v(expected_count);
  if (expected_count) std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

std::vector<ChunkView> split_chunks(std::string_view payload, std::size_t chunk_bytes) {
  std::vector<ChunkView> out;
  for (std::size_t off = 0; off < payload.size(); off += chunk_bytes)
    out.push_back({off, payload.substr(off, std::min(chunk_bytes, payload.size() - off))});
  return out;
}

PayloadAssembler::PayloadAssembler(std::uint64_t size_bytes, std::string_view sha256, std::uint64_t max_bytes)
    : size_(size_bytes) {
  if (size_bytes == 0) throw ProtocolError("payload announced with 0 bytes");
  if (size_bytes > std::min(max_bytes, kMaxPayloadBytes))
    throw ProtocolError("payload of " + std::to_string(size_bytes) + " bytes exceeds the limit of " +
                        std::to_string(std::min(max_bytes, kMaxPayloadBytes)));
  if (sha256.size() != expected_.size()) throw ProtocolError("payload SHA-256 must be 32 bytes");
  std::memcpy(expected_.data(), sha256.data(), expected_.size());
  // No reserve: memory follows the bytes that actually arrived, not what a header claims.
}

void PayloadAssembler::add(std::uint64_t offset, std::string_view data) {
  if (data.empty()) throw ProtocolError("empty chunk");
  if (data.size() > kMaxChunkBytes) throw ProtocolError("chunk of " + std::to_string(data.size()) + " bytes exceeds 1 MiB");
  if (offset != buffer_.size())
    throw ProtocolError("chunk at offset " + std::to_string(offset) + ", expected " + std::to_string(buffer_.size()) +
                        " (gap, replayed or reordered chunk)");
  if (data.size() > size_ - buffer_.size()) throw ProtocolError("chunk runs past the announced payload size");
  buffer_.append(data);
}

std::string PayloadAssembler::take() {
  if (!complete())
    throw ProtocolError("payload incomplete: " + std::to_string(buffer_.size()) + " of " + std::to_string(size_) +
                        " bytes");
  if (sha256_of(buffer_) != expected_) throw ProtocolError("payload SHA-256 does not match its header");
  return std::move(buffer_);
}

}  // namespace fedlora::protocol
