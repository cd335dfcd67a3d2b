#pragma once
// A small GGUF v3 file assembled by hand from the spec (ggml docs/gguf.md), with one
// metadata value of every type and one tensor of each supported ggml type. Its last
// tensor ends on an alignment boundary, so the file has no trailing padding and every
// proper prefix of it is a truncated file.
#include <cstdint>
#include <string>
#include <vector>

#include "tests/lora/format/byte_builder.h"

namespace fedlora::lora::test {

struct HandGguf {
  std::vector<std::byte> file;
  uint64_t data_offset = 0;  // where the tensor data section starts
  std::vector<std::byte> f32_data, q8_data, q4_data, f16_data;
};

inline std::vector<std::byte> bytes_of(const ByteBuilder& b) { return b.bytes(); }

inline HandGguf make_hand_gguf() {
  HandGguf h;
  // Tensor payloads.
  ByteBuilder f32;
  for (int i = 0; i < 8; ++i) f32.f32(0.5f * static_cast<float>(i));  // dims {4, 2}: 32 bytes
  ByteBuilder q8;  // one Q8_0 block: f16 scale 1.0 (0x3C00) + 32 int8 quants
  q8.u16(0x3C00);
  for (int i = 0; i < 32; ++i) q8.i8(static_cast<int8_t>(i - 16));
  ByteBuilder q4;  // two Q4_0 blocks: f16 scale 0.5 (0x3800) + 16 bytes of nibbles each
  for (int blk = 0; blk < 2; ++blk) {
    q4.u16(0x3800);
    for (int i = 0; i < 16; ++i) q4.u8(static_cast<uint8_t>((i & 15) | ((15 - i) << 4)));
  }
  ByteBuilder f16;  // 16 halves: 1.0 (0x3C00) and -2.0 (0xC000) alternating: 32 bytes
  for (int i = 0; i < 16; ++i) f16.u16(i % 2 == 0 ? 0x3C00 : 0xC000);
  h.f32_data = f32.bytes();
  h.q8_data = q8.bytes();
  h.q4_data = q4.bytes();
  h.f16_data = f16.bytes();

  ByteBuilder b;
  b.raw("GGUF").u32(3).u64(4 /*tensors*/).u64(17 /*kv pairs*/);
  b.gguf_str("t.u8").u32(0).u8(200);
  b.gguf_str("t.i8").u32(1).i8(-100);
  b.gguf_str("t.u16").u32(2).u16(60000);
  b.gguf_str("t.i16").u32(3).i16(-30000);
  b.gguf_str("t.u32").u32(4).u32(4000000000u);
  b.gguf_str("t.i32").u32(5).i32(-2000000000);
  b.gguf_str("t.f32").u32(6).f32(1.5f);
  b.gguf_str("t.bool").u32(7).u8(1);
  b.gguf_str("t.str").u32(8).gguf_str("h\xC3\xA9llo");
  b.gguf_str("t.arr_u32").u32(9).u32(4).u64(3).u32(1).u32(2).u32(3);
  b.gguf_str("t.arr_str").u32(9).u32(8).u64(2).gguf_str("a").gguf_str("");
  b.gguf_str("t.nested").u32(9).u32(9).u64(2);
  b.u32(5).u64(2).i32(-1).i32(7);   // inner arr[i32] {-1, 7}
  b.u32(8).u64(1).gguf_str("x");    // inner arr[str] {"x"}
  b.gguf_str("t.u64").u32(10).u64((uint64_t{1} << 40) + 5);
  b.gguf_str("t.i64").u32(11).i64(-(int64_t{1} << 40));
  b.gguf_str("t.f64").u32(12).f64(-0.25);
  b.gguf_str("t.empty_arr").u32(9).u32(6).u64(0);
  b.gguf_str("general.name").u32(8).gguf_str("tiny");
  // Tensor infos: offsets relative to the data section, each padded to 32.
  b.gguf_str("w.f32").u32(2).u64(4).u64(2).u32(0).u64(0);     // 32 bytes -> [0, 32)
  b.gguf_str("w.q8").u32(1).u64(32).u32(8).u64(32);           // 34 bytes -> [32, 66), pad to 96
  b.gguf_str("w.q4").u32(2).u64(32).u64(2).u32(2).u64(96);    // 36 bytes -> [96, 132), pad to 160
  b.gguf_str("w.f16").u32(1).u64(16).u32(1).u64(160);         // 32 bytes -> [160, 192)
  b.pad_to(32);
  h.data_offset = b.size();
  b.raw(h.f32_data).pad_to(32).raw(h.q8_data).pad_to(32).raw(h.q4_data).pad_to(32).raw(h.f16_data);
  h.file = b.bytes();
  return h;
}

}  // namespace fedlora::lora::test
