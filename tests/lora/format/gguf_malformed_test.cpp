// Malformed GGUF input: every case must throw FormatError with a useful message, never
// crash, hang or allocate without bound. Files are hand-assembled per ggml docs/gguf.md.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "tests/lora/format/byte_builder.h"
#include "tests/lora/format/expect_error.h"
#include "tests/lora/format/gguf_fixture.h"
#include "tests/lora/format/temp_dir.h"

namespace fedlora::lora::gguf {
namespace {

using test::ByteBuilder;

// Parses `bytes` and returns the FormatError message (see expect_error.h).
std::string format_error_of(const std::vector<std::byte>& bytes) {
  return test::error_message_of<FormatError>([&] { GgufFile::from_bytes(bytes, "bad.gguf"); });
}


ByteBuilder header(uint64_t n_tensors, uint64_t n_kv) {
  ByteBuilder b;
  b.raw("GGUF").u32(3).u64(n_tensors).u64(n_kv);
  return b;
}

// A file with one F32 tensor info whose offset and dims are given, plus `data_bytes` of data.
std::vector<std::byte> one_tensor_file(uint64_t offset, uint64_t ne0, std::size_t data_bytes, uint32_t type = 0) {
  ByteBuilder b = header(1, 0);
  b.gguf_str("t").u32(1).u64(ne0).u32(type).u64(offset);
  b.pad_to(32);
  for (std::size_t i = 0; i < data_bytes; ++i) b.u8(0);
  return b.bytes();
}

TEST(GgufMalformed, BadMagic) {
  ByteBuilder b;
  b.raw("GGML").u32(3).u64(0).u64(0).pad_to(32);
  const std::string msg = format_error_of(b.bytes());
  EXPECT_MSG_HAS(msg, "magic at byte offset 0");
  EXPECT_MSG_HAS(msg, "not a GGUF file");
  EXPECT_MSG_HAS(msg, "bad.gguf");
}

TEST(GgufMalformed, TooShortForMagic) {
  EXPECT_MSG_HAS(format_error_of({}), "magic");
  EXPECT_MSG_HAS(format_error_of(test::to_bytes("GGU")), "truncated");
}

TEST(GgufMalformed, Version1IsExplained) {
  ByteBuilder b;
  b.raw("GGUF").u32(1).u32(0).u32(0);
  const std::string msg = format_error_of(b.bytes());
  EXPECT_MSG_HAS(msg, "version at byte offset 4");
  EXPECT_MSG_HAS(msg, "version 1");
  EXPECT_MSG_HAS(msg, "version 3");
}

TEST(GgufMalformed, UnknownVersionAndBigEndian) {
  ByteBuilder future;
  future.raw("GGUF").u32(4).u64(0).u64(0).pad_to(32);
  EXPECT_MSG_HAS(format_error_of(future.bytes()), "GGUF version 4 is not supported");
  ByteBuilder be;  // big-endian writers store version 3 as 00 00 00 03
  be.raw("GGUF").u8(0).u8(0).u8(0).u8(3).u64(0).u64(0).pad_to(32);
  EXPECT_MSG_HAS(format_error_of(be.bytes()), "big-endian");
}

TEST(GgufMalformed, TruncationAtEveryByteOffset) {
  const std::vector<std::byte> full = test::make_hand_gguf().file;
  ASSERT_NO_THROW(GgufFile::from_bytes(full));
  for (std::size_t len = 0; len < full.size(); ++len) {
    const std::vector<std::byte> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    try {
      GgufFile::from_bytes(prefix);
      ADD_FAILURE() << "prefix of " << len << " bytes parsed";
    } catch (const FormatError&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "prefix of " << len << " bytes: wrong exception: " << e.what();
    }
  }
}

TEST(GgufMalformed, TruncatedFilesOnDisk) {
  // Same through the mmap path, including an empty file (no mapping at all).
  test::TempDir dir;
  const std::vector<std::byte> full = test::make_hand_gguf().file;
  for (std::size_t len : {std::size_t{0}, std::size_t{3}, std::size_t{23}, std::size_t{100}, full.size() - 1}) {
    const auto path = dir / ("t" + std::to_string(len) + ".gguf");
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(full.data()), static_cast<std::streamsize>(len));
    EXPECT_THROW(GgufFile::open(path), FormatError) << len;
  }
}

TEST(GgufMalformed, TruncationMessageNamesFieldAndOffset) {
  // A string value that claims 100 bytes where 3 remain.
  ByteBuilder b = header(0, 1);
  b.gguf_str("abcdefgh").u32(8).u64(100).raw("xyz");
  const std::string msg = format_error_of(b.bytes());
  EXPECT_MSG_HAS(msg, "metadata 'abcdefgh' value (100 bytes)");
  EXPECT_MSG_HAS(msg, "byte offset 52");  // 24 header + 16 key + 4 type + 8 length
  EXPECT_MSG_HAS(msg, "only 3 left");
  EXPECT_MSG_HAS(msg, "truncated");
}

TEST(GgufMalformed, TensorOffsetOutOfRange) {
  // 16 bytes of data needed at offset 32, but only 32 data bytes exist.
  const std::string msg = format_error_of(one_tensor_file(32, 4, 32));
  EXPECT_MSG_HAS(msg, "tensor 't'");
  EXPECT_MSG_HAS(msg, "outside");
  // Huge offset that would overflow offset + size.
  EXPECT_MSG_HAS(format_error_of(one_tensor_file(UINT64_MAX - 31, 4, 64)), "outside");
  // Exactly fitting is fine.
  EXPECT_NO_THROW(GgufFile::from_bytes(one_tensor_file(32, 4, 48)));
}

TEST(GgufMalformed, MisalignedOffset) {
  const std::string msg = format_error_of(one_tensor_file(4, 4, 64));
  EXPECT_MSG_HAS(msg, "offset 4 is not a multiple of the alignment 32");
  EXPECT_MSG_HAS(msg, "byte offset 49");  // 24 header + 9 name + 4 n_dims + 8 dim + 4 type
}

TEST(GgufMalformed, HugeCountsAndLengths) {
  // Counts far beyond what the file could hold are refused before any allocation.
  EXPECT_MSG_HAS(format_error_of(header(0, uint64_t{1} << 62).pad_to(32).bytes()), "metadata_kv_count");
  EXPECT_MSG_HAS(format_error_of(header(UINT64_MAX, 0).pad_to(32).bytes()), "tensor_count");
  // Key length 2^63.
  ByteBuilder key = header(0, 1);
  key.u64(uint64_t{1} << 63).raw("abc").u32(0).u8(0);
  EXPECT_MSG_HAS(format_error_of(key.bytes()), "metadata[0] key");
  // String value length 2^63 and 2^64-1.
  for (uint64_t len : {uint64_t{1} << 63, UINT64_MAX}) {
    ByteBuilder s = header(0, 1);
    s.gguf_str("k").u32(8).u64(len).raw("xyz");
    const std::string msg = format_error_of(s.bytes());
    EXPECT_MSG_HAS(msg, "metadata 'k' value");
  }
  // Array of 2^62 u64 elements.
  ByteBuilder arr = header(0, 1);
  arr.gguf_str("k").u32(9).u32(10).u64(uint64_t{1} << 62).u64(1);
  EXPECT_MSG_HAS(format_error_of(arr.bytes()), "cannot fit");
  // Array of 2^60 strings and of 2^60 arrays.
  for (uint32_t elem : {8u, 9u}) {
    ByteBuilder a = header(0, 1);
    a.gguf_str("k").u32(9).u32(elem).u64(uint64_t{1} << 60).u64(0);
    EXPECT_MSG_HAS(format_error_of(a.bytes()), "cannot fit");
  }
  // Tensor name length 2^63.
  ByteBuilder name = header(1, 0);
  name.u64(uint64_t{1} << 63).raw("abcdefghijklmnopqrstuvwxyz");
  EXPECT_MSG_HAS(format_error_of(name.bytes()), "tensor_info[0] name");
}

TEST(GgufMalformed, DuplicateKeyAndTensorName) {
  ByteBuilder b = header(0, 2);
  b.gguf_str("a.b").u32(4).u32(1);
  b.gguf_str("a.b").u32(4).u32(2);
  b.pad_to(32);
  const std::string msg = format_error_of(b.bytes());
  EXPECT_MSG_HAS(msg, "duplicate key 'a.b'");
  EXPECT_MSG_HAS(msg, "metadata[1]");

  ByteBuilder t = header(2, 0);
  t.gguf_str("w").u32(1).u64(8).u32(0).u64(0);
  t.gguf_str("w").u32(1).u64(8).u32(0).u64(32);
  t.pad_to(32);
  for (int i = 0; i < 64; ++i) t.u8(0);
  EXPECT_MSG_HAS(format_error_of(t.bytes()), "duplicate tensor name 'w'");
}

TEST(GgufMalformed, BadValues) {
  ByteBuilder boolean = header(0, 1);
  boolean.gguf_str("k").u32(7).u8(2).pad_to(32);
  EXPECT_MSG_HAS(format_error_of(boolean.bytes()), "only 0 or 1");

  ByteBuilder type = header(0, 1);
  type.gguf_str("k").u32(13).u32(0).pad_to(32);
  EXPECT_MSG_HAS(format_error_of(type.bytes()), "value type id 13");

  ByteBuilder arr_type = header(0, 1);
  arr_type.gguf_str("k").u32(9).u32(99).u64(0).pad_to(32);
  EXPECT_MSG_HAS(format_error_of(arr_type.bytes()), "value type id 99");

  ByteBuilder empty_key = header(0, 1);
  empty_key.gguf_str("").u32(0).u8(0).pad_to(32);
  EXPECT_MSG_HAS(format_error_of(empty_key.bytes()), "empty key");

  ByteBuilder non_ascii = header(0, 1);
  non_ascii.gguf_str("k\xC3\xA9").u32(0).u8(0).pad_to(32);
  EXPECT_MSG_HAS(format_error_of(non_ascii.bytes()), "not ASCII");

  ByteBuilder long_key = header(0, 1);
  long_key.gguf_str(std::string(65536, 'k')).u32(0).u8(0).pad_to(32);
  EXPECT_MSG_HAS(format_error_of(long_key.bytes()), "exceeds the limit of 65535");
}

TEST(GgufMalformed, DeeplyNestedArrays) {
  // 9 nested levels of one-element arrays; the innermost is an empty u8 array.
  ByteBuilder b = header(0, 1);
  b.gguf_str("k").u32(9);
  for (int i = 0; i < 8; ++i) b.u32(9).u64(1);
  b.u32(0).u64(0).pad_to(32);
  EXPECT_MSG_HAS(format_error_of(b.bytes()), "nested deeper");
  // 8 levels are fine.
  ByteBuilder ok = header(0, 1);
  ok.gguf_str("k").u32(9);
  for (int i = 0; i < 7; ++i) ok.u32(9).u64(1);
  ok.u32(0).u64(0).pad_to(32);
  EXPECT_NO_THROW(GgufFile::from_bytes(ok.bytes()));
}

TEST(GgufMalformed, Alignment) {
  const auto with_alignment = [](uint32_t value_type, uint64_t value) {
    ByteBuilder b = header(0, 1);
    b.gguf_str("general.alignment").u32(value_type);
    if (value_type == 10) {
      b.u64(value);
    } else {
      b.u32(static_cast<uint32_t>(value));
    }
    b.pad_to(64);
    return b.bytes();
  };
  EXPECT_MSG_HAS(format_error_of(with_alignment(10, 32)), "has type u64, the spec requires u32");
  EXPECT_MSG_HAS(format_error_of(with_alignment(4, 0)), "power of two");
  EXPECT_MSG_HAS(format_error_of(with_alignment(4, 48)), "power of two");
  EXPECT_MSG_HAS(format_error_of(with_alignment(4, 4)), "multiple of 8");
  EXPECT_EQ(GgufFile::from_bytes(with_alignment(4, 64)).alignment(), 64u);
}

TEST(GgufMalformed, MissingPaddingBeforeData) {
  ByteBuilder b = header(0, 1);
  b.gguf_str("k").u32(0).u8(1);  // 24 + 13 = 37 bytes; data section would start at 64
  EXPECT_MSG_HAS(format_error_of(b.bytes()), "padding before tensor data");
}

TEST(GgufMalformed, TensorInfoChecks) {
  // Unsupported ggml type: message names the tensor and the id.
  {
    ByteBuilder b = header(1, 0);
    b.gguf_str("blk.0.ffn_down.weight").u32(2).u64(256).u64(1).u32(12).u64(0).pad_to(32);
    for (int i = 0; i < 144; ++i) b.u8(0);
    try {
      GgufFile::from_bytes(b.bytes());
      FAIL() << "expected UnsupportedTypeError";
    } catch (const UnsupportedTypeError& e) {
      const std::string msg = e.what();
      EXPECT_MSG_HAS(msg, "'blk.0.ffn_down.weight'");
      EXPECT_MSG_HAS(msg, "type id 12 (Q4_K)");
    }
  }
  // An id that is no ggml type at all.
  EXPECT_MSG_HAS(format_error_of(one_tensor_file(0, 4, 32, 1000)), "type id 1000 (unknown)");
  // ne[0] not a multiple of the Q8_0 block size.
  EXPECT_MSG_HAS(format_error_of(one_tensor_file(0, 33, 64, 8)), "not a multiple of the Q8_0 block size 32");
  // Five dimensions.
  {
    ByteBuilder b = header(1, 0);
    b.gguf_str("t").u32(5);
    for (int i = 0; i < 5; ++i) b.u64(1);
    b.u32(0).u64(0).pad_to(32).u32(0);
    EXPECT_MSG_HAS(format_error_of(b.bytes()), "at most 4");
  }
  // Element count overflow: 2^32 * 2^32.
  {
    ByteBuilder b = header(1, 0);
    b.gguf_str("t").u32(2).u64(uint64_t{1} << 32).u64(uint64_t{1} << 32).u32(0).u64(0).pad_to(32);
    EXPECT_MSG_HAS(format_error_of(b.bytes()), "overflows");
  }
  // Byte size overflow although the element count fits: 2^62 F32 elements.
  {
    ByteBuilder b = header(1, 0);
    b.gguf_str("t").u32(1).u64(uint64_t{1} << 62).u32(0).u64(0).pad_to(32);
    EXPECT_MSG_HAS(format_error_of(b.bytes()), "overflows");
  }
  // A dimension above 2^63-1.
  {
    ByteBuilder b = header(1, 0);
    b.gguf_str("t").u32(1).u64(UINT64_MAX).u32(0).u64(0).pad_to(32);
    EXPECT_MSG_HAS(format_error_of(b.bytes()), "exceeds 2^63-1");
  }
  // A name longer than the spec's 64 bytes.
  {
    ByteBuilder b = header(1, 0);
    b.gguf_str(std::string(65, 'n')).u32(1).u64(8).u32(0).u64(0).pad_to(32);
    for (int i = 0; i < 32; ++i) b.u8(0);
    EXPECT_MSG_HAS(format_error_of(b.bytes()), "exceeds the limit of 64");
  }
}

TEST(GgufMalformed, OverlappingTensors) {
  ByteBuilder b = header(2, 0);
  b.gguf_str("a").u32(1).u64(16).u32(0).u64(0);   // [0, 64)
  b.gguf_str("b").u32(1).u64(8).u32(0).u64(32);   // [32, 64)
  b.pad_to(32);
  for (int i = 0; i < 64; ++i) b.u8(0);
  const std::string msg = format_error_of(b.bytes());
  EXPECT_MSG_HAS(msg, "overlaps");
  EXPECT_MSG_HAS(msg, "'b'");
  EXPECT_MSG_HAS(msg, "'a'");
}

// Flips random bytes of valid files; each result must parse or throw FormatError, and
// whatever parses must be readable end to end (run under ASan/UBSan or valgrind to catch
// out-of-bounds reads that do not crash).
TEST(GgufMalformed, SeededRandomMutations) {
  std::vector<std::vector<std::byte>> seeds;
  seeds.push_back(test::make_hand_gguf().file);
  {
    GgufWriter w;
    w.set("general.alignment", uint32_t{64});
    w.set("tokenizer.ggml.tokens", std::vector<std::string>{"<unk>", "<s>", "</s>", "a", "bb"});
    w.set("tokenizer.ggml.scores", std::vector<float>{0, 0, 0, -1, -2});
    w.set("tokenizer.ggml.token_type", std::vector<int32_t>{2, 3, 3, 1, 1});
    w.set("x.nested", std::vector<Array>{Array(std::vector<bool>{true}), Array(std::vector<std::string>{"q"})});
    w.add_tensor("a", GgmlType::Q4_0, {32}, std::vector<std::byte>(18, std::byte{7}));
    w.add_tensor("b", GgmlType::F16, {3}, std::vector<std::byte>(6, std::byte{1}));
    seeds.push_back(w.serialize());
  }
  std::mt19937_64 rng(20240607);
  int parsed = 0, rejected = 0;
  constexpr int kCases = 10000;
  for (int i = 0; i < kCases; ++i) {
    std::vector<std::byte> bytes = seeds[static_cast<std::size_t>(i) % seeds.size()];
    const int kind = static_cast<int>(rng() % 4);
    const int n_flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n_flips; ++k) {
      const std::size_t pos = rng() % bytes.size();
      if (kind == 0) {
        bytes[pos] ^= static_cast<std::byte>(1u << (rng() % 8));  // single bit
      } else if (kind == 1) {
        bytes[pos] = static_cast<std::byte>(rng() & 0xFF);  // random byte
      } else if (kind == 2) {
        bytes[pos] = (rng() % 2) ? std::byte{0xFF} : std::byte{0x00};  // extremes
      } else {
        bytes.resize(pos + 1);  // truncate, then maybe grow with junk
        for (uint64_t extra = rng() % 64; extra > 0; --extra) bytes.push_back(static_cast<std::byte>(rng() & 0xFF));
        break;
      }
    }
    try {
      const GgufFile f = GgufFile::from_bytes(bytes);
      ++parsed;
      std::size_t touched = 0;
      for (const KeyValue& kv : f.metadata()) touched += describe_type(kv.value).size();
      for (const TensorInfo& t : f.tensors()) {
        for (std::byte b : f.tensor_bytes(t)) touched += static_cast<std::size_t>(b);
      }
      (void)touched;
    } catch (const FormatError&) {
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "case " << i << ": wrong exception: " << e.what();
    }
  }
  RecordProperty("parsed", parsed);
  RecordProperty("rejected", rejected);
  EXPECT_EQ(parsed + rejected, kCases);
  EXPECT_GT(rejected, kCases / 10);  // the mutations do reach the parser's checks
  EXPECT_GT(parsed, 0);              // and some land in tensor data or values
}

}  // namespace
}  // namespace fedlora::lora::gguf
