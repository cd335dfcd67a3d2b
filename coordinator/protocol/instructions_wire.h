#pragma once
// RoundInstructions ↔ fedlora.v1.RoundInstructions (proto/fedlora.proto).
#include "coordinator/protocol/round_instructions.h"
#include "proto/fedlora.pb.h"

namespace fedlora::protocol {

/// The wire form. Throws ProtocolError if the instructions are invalid (validate()).
v1::RoundInstructions to_proto(const RoundInstructions& instructions);

/// Parses untrusted wire instructions: every field is range-checked (validate()), unknown
/// enum strings are rejected. Throws ProtocolError naming the field; never anything else.
RoundInstructions from_proto(const v1::RoundInstructions& wire);

}  // namespace fedlora::protocol
