#pragma once
// The one exception type of lora/quant: wrong sizes, unsupported types, non-finite input to
// a block quantizer, out-of-range rows. The message says what was wrong and where.
#include <stdexcept>
#include <string>

namespace fedlora::lora {

class QuantError : public std::runtime_error {
 public:
  explicit QuantError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace fedlora::lora
