#pragma once
// ggml tensor types as numbered in the GGUF file format (ggml `enum ggml_type`,
// docs/gguf.md in the ggml repository). Only F32, F16, Q4_0 and Q8_0 have kernels
// here; the other ids are listed so a reader can name what it refuses.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace fedlora::lora {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

/// Block geometry of a ggml type: `block_elems` weights are stored in `block_bytes`
/// bytes (ggml `ggml_blck_size` / `ggml_type_size`).
struct GgmlTypeTraits {
  std::string_view name;
  uint32_t block_elems;
  uint32_t block_bytes;
};

/// Traits of the types this project can store and compute with (F32, F16, Q4_0, Q8_0);
/// std::nullopt for any other id, including ids that are not ggml types at all.
constexpr std::optional<GgmlTypeTraits> supported_type_traits(uint32_t id) {
  switch (static_cast<GgmlType>(id)) {
    case GgmlType::F32: return GgmlTypeTraits{"F32", 1, 4};
    case GgmlType::F16: return GgmlTypeTraits{"F16", 1, 2};
    case GgmlType::Q4_0: return GgmlTypeTraits{"Q4_0", 32, 18};
    case GgmlType::Q8_0: return GgmlTypeTraits{"Q8_0", 32, 34};
    default: return std::nullopt;
  }
}

/// Bytes needed by `n_elems` elements of a supported type; std::nullopt when the type is
/// unsupported, `n_elems` is not a multiple of the block size, or the size overflows.
constexpr std::optional<uint64_t> ggml_row_bytes(GgmlType type, uint64_t n_elems) {
  auto traits = supported_type_traits(static_cast<uint32_t>(type));
  if (!traits || n_elems % traits->block_elems != 0) return std::nullopt;
  const uint64_t blocks = n_elems / traits->block_elems;
  if (blocks > UINT64_MAX / traits->block_bytes) return std::nullopt;
  return blocks * traits->block_bytes;
}

}  // namespace fedlora::lora
