#pragma once
// Hand-assembles file images for the format tests, independently of the library's own
// writers: every multi-byte value is spelled out byte by byte in little-endian order.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace fedlora::lora::test {

class ByteBuilder {
 public:
  ByteBuilder& u8(uint8_t v) {
    bytes_.push_back(static_cast<std::byte>(v));
    return *this;
  }
  ByteBuilder& u16(uint16_t v) { return le(v, 2); }
  ByteBuilder& u32(uint32_t v) { return le(v, 4); }
  ByteBuilder& u64(uint64_t v) { return le(v, 8); }
  ByteBuilder& i8(int8_t v) { return u8(static_cast<uint8_t>(v)); }
  ByteBuilder& i16(int16_t v) { return le(static_cast<uint16_t>(v), 2); }
  ByteBuilder& i32(int32_t v) { return le(static_cast<uint32_t>(v), 4); }
  ByteBuilder& i64(int64_t v) { return le(static_cast<uint64_t>(v), 8); }
  ByteBuilder& f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return u32(bits);
  }
  ByteBuilder& f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return u64(bits);
  }
  ByteBuilder& raw(std::string_view s) {
    for (char c : s) u8(static_cast<uint8_t>(c));
    return *this;
  }
  ByteBuilder& raw(const std::vector<std::byte>& b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  /// GGUF string: u64 length then the bytes.
  ByteBuilder& gguf_str(std::string_view s) { return u64(s.size()).raw(s); }
  /// Zero bytes up to the next multiple of `alignment`.
  ByteBuilder& pad_to(std::size_t alignment) {
    while (bytes_.size() % alignment != 0) u8(0);
    return *this;
  }
  std::size_t size() const { return bytes_.size(); }
  const std::vector<std::byte>& bytes() const { return bytes_; }

 private:
  ByteBuilder& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) u8(static_cast<uint8_t>((v >> (8 * i)) & 0xFF));
    return *this;
  }
  std::vector<std::byte> bytes_;
};

inline std::vector<std::byte> to_bytes(std::string_view s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

}  // namespace fedlora::lora::test
