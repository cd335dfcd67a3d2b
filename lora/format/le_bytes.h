#pragma once
// Little-endian scalar loads and stores for the file formats in this folder.
// GGUF (ggml docs/gguf.md) and safetensors (huggingface/safetensors README) are both
// little-endian on disk; these helpers keep the byte order explicit on any host.
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace fedlora::lora::detail {

template <class T>
concept LeScalar = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

template <class U>
constexpr U byteswap_unsigned(U v) noexcept {
  U out = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) {
    out = static_cast<U>((out << 8) | ((v >> (8 * i)) & 0xFF));
  }
  return out;
}

template <std::size_t N> struct UnsignedOfSize;
template <> struct UnsignedOfSize<1> { using type = uint8_t; };
template <> struct UnsignedOfSize<2> { using type = uint16_t; };
template <> struct UnsignedOfSize<4> { using type = uint32_t; };
template <> struct UnsignedOfSize<8> { using type = uint64_t; };

/// Reads a little-endian T from `p` (no alignment needed). The caller checks bounds.
template <LeScalar T>
T load_le(const std::byte* p) noexcept {
  using U = typename UnsignedOfSize<sizeof(T)>::type;
  U bits;
  std::memcpy(&bits, p, sizeof(U));
  if constexpr (std::endian::native == std::endian::big) bits = byteswap_unsigned(bits);
  return std::bit_cast<T>(bits);
}

/// Appends `v` to `out` as little-endian bytes.
template <LeScalar T>
void append_le(std::vector<std::byte>& out, T v) {
  using U = typename UnsignedOfSize<sizeof(T)>::type;
  U bits = std::bit_cast<U>(v);
  if constexpr (std::endian::native == std::endian::big) bits = byteswap_unsigned(bits);
  std::array<std::byte, sizeof(U)> raw;
  std::memcpy(raw.data(), &bits, sizeof(U));
  out.insert(out.end(), raw.begin(), raw.end());
}

}  // namespace fedlora::lora::detail
