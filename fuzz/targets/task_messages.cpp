// Fuzz body of the deployment protocol's payload handling: the task a device downloads
// (fedlora.v1.RoundInstructions, validated by from_proto) and the chunked payload reassembly
// both sides run on downloads and uploads (PayloadAssembler).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "coordinator/protocol/errors.h"
#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/protocol/payload.h"
#include "fuzz/targets/fuzz_targets.h"

namespace fedlora::fuzz {
namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

// from_proto promises ProtocolError and nothing else; what it accepts must survive to_proto.
void instructions(const std::uint8_t* data, std::size_t size) {
  v1::RoundInstructions wire;
  if (!wire.ParseFromArray(data, static_cast<int>(size))) return;
  protocol::RoundInstructions in;
  try {
    in = protocol::from_proto(wire);
  } catch (const protocol::ProtocolError&) {
    return;
  }
  try {
    (void)protocol::to_proto(in);
  } catch (const protocol::ProtocolError&) {
    fail("from_proto accepted instructions that to_proto refuses");
  }
}

// Input: u16 announced size, 32-byte digest, then chunks (u16 length, u8 offset choice, bytes).
void payload(const std::uint8_t* data, std::size_t size) {
  if (size < 34) return;
  const std::uint64_t announced = data[0] | (data[1] << 8);
  std::optional<protocol::PayloadAssembler> a;
  try {
    a.emplace(announced, std::string_view(reinterpret_cast<const char*>(data + 2), 32), 1 << 16);
  } catch (const protocol::ProtocolError&) {
    return;
  }
  std::size_t pos = 34;
  while (pos + 3 <= size) {
    const std::size_t len = std::min<std::size_t>(data[pos] | (data[pos + 1] << 8), size - pos - 3);
    const std::uint8_t choice = data[pos + 2];
    pos += 3;
    const std::uint64_t next = a->received();
    const std::uint64_t offset = choice % 4 == 0 ? next : choice % 4 == 1 ? next + 1 : choice % 4 == 2 ? next - 1 : 0;
    try {
      a->add(offset, std::string_view(reinterpret_cast<const char*>(data + pos), len));
    } catch (const protocol::ProtocolError&) {
    }
    pos += len;
    if (a->received() > announced) fail("assembler holds more than the announced size");
  }
  if (a->complete()) {
    try {
      (void)a->take();
    } catch (const protocol::ProtocolError&) {
    }
  }
}

}  // namespace

void task_messages(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return;
  if (data[0] & 1) payload(data + 1, size - 1);
  else instructions(data + 1, size - 1);
}

}  // namespace fedlora::fuzz
