#pragma once
// Errors of the round protocol shared by the coordinator and the device runtime.
#include <stdexcept>
#include <string>

namespace fedlora::protocol {

/// A protocol value (round instructions, an upload, a payload) is malformed or out of its
/// documented range. The message names the field and the bound it broke.
class ProtocolError : public std::runtime_error {
 public:
  explicit ProtocolError(const std::string& what) : std::runtime_error("protocol: " + what) {}
};

}  // namespace fedlora::protocol
