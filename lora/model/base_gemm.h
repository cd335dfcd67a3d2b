#pragma once
// How a training step computes the frozen base's two products per projection (x·Wᵀ and
// δ·W): float32 sgemm on the dequantized weight (with the LoRA update merged in), or int8
// with fp32 rescaling (lora/int8/int8_linear.h, SwitchBack) with the LoRA path computed on its own in fp32.
#include <stdexcept>
#include <string>

namespace fedlora::lora {

enum class BaseGemm { fp32, int8 };

/// "fp32" or "int8"; throws std::invalid_argument naming the accepted values.
inline BaseGemm parse_base_gemm(const std::string& name) {
  if (name == "fp32") return BaseGemm::fp32;
  if (name == "int8") return BaseGemm::int8;
  throw std::invalid_argument("unknown base matmul '" + name + "': use fp32 or int8");
}

inline const char* to_string(BaseGemm g) { return g == BaseGemm::int8 ? "int8" : "fp32"; }

}  // namespace fedlora::lora
