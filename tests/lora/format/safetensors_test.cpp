// safetensors reader/writer against the reference implementation's published byte
// vectors (huggingface/safetensors, safetensors/src/tensor.rs tests), hand-written files
// per the README, malformed input, and seeded random mutations.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include "lora/format/safetensors.h"
#include "tests/lora/format/byte_builder.h"
#include "tests/lora/format/expect_error.h"
#include "tests/lora/format/temp_dir.h"

namespace fedlora::lora::safetensors {
namespace {

using test::ByteBuilder;

std::vector<std::byte> span_vec(std::span<const std::byte> s) { return {s.begin(), s.end()}; }

// 8-byte little-endian N, then the header text, then the data.
std::vector<std::byte> file_with_header(std::string_view header, const std::vector<std::byte>& data = {}) {
  ByteBuilder b;
  b.u64(header.size()).raw(header).raw(data);
  return b.bytes();
}

std::vector<std::byte> f32_bytes(std::initializer_list<float> values) {
  ByteBuilder b;
  for (float v : values) b.f32(v);
  return b.bytes();
}

std::string format_error_of(const std::vector<std::byte>& bytes) {
  return test::error_message_of<FormatError>([&] { SafetensorsFile::from_bytes(bytes, "bad.safetensors"); });
}


// --- reference vectors (safetensors/src/tensor.rs: test_serialization, test_empty,
// test_serialization_forced_alignement) ---

TEST(SafetensorsReference, SerializationVector) {
  // Published bytes: N = 64, the JSON below, then f32 0..5.
  const std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(header.size(), 64u);
  const std::vector<std::byte> expected = file_with_header(header, f32_bytes({0, 1, 2, 3, 4, 5}));
  ASSERT_EQ(expected[0], std::byte{64});
  ASSERT_EQ(expected.size(), 8u + 64u + 24u);

  SafetensorsWriter w;
  w.add_tensor("attn.0", Dtype::F32, {1, 2, 3}, f32_bytes({0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(w.serialize(), expected);

  const SafetensorsFile f = SafetensorsFile::from_bytes(expected);
  ASSERT_EQ(f.tensors().size(), 1u);
  const TensorInfo& t = f.tensors()[0];
  EXPECT_EQ(t.name, "attn.0");
  EXPECT_EQ(t.dtype, Dtype::F32);
  EXPECT_EQ(t.shape, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(t.n_elements(), 6u);
  float v[6];
  std::memcpy(v, f.tensor_bytes("attn.0").data(), 24);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(v[i], static_cast<float>(i));
}

TEST(SafetensorsReference, EmptyAndMetadataVectors) {
  ByteBuilder empty;
  empty.u64(8).raw("{}      ");
  EXPECT_EQ(SafetensorsWriter().serialize(), empty.bytes());
  EXPECT_TRUE(SafetensorsFile::from_bytes(empty.bytes()).tensors().empty());

  ByteBuilder meta;
  meta.u64(40).raw(R"({"__metadata__":{"framework":"pt"}})").raw("     ");
  SafetensorsWriter w;
  w.set_metadata("framework", "pt");
  EXPECT_EQ(w.serialize(), meta.bytes());
  const SafetensorsFile f = SafetensorsFile::from_bytes(meta.bytes());
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"framework", "pt"}}));
}

TEST(SafetensorsReference, ForcedAlignmentVector) {
  const std::string header = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(header.size(), 65u);
  const std::vector<std::byte> expected = file_with_header(header + std::string(7, ' '), f32_bytes({0, 1, 2, 3, 4, 5}));
  ASSERT_EQ(expected[0], std::byte{72});
  SafetensorsWriter w;
  w.add_tensor("attn0", Dtype::F32, {1, 1, 2, 3}, f32_bytes({0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(w.serialize(), expected);
  const SafetensorsFile f = SafetensorsFile::from_bytes(expected);
  EXPECT_EQ(f.data_offset() % 8, 0u);
}

TEST(SafetensorsReader, HandWrittenFile) {
  // Keys in arbitrary order, whitespace, no padding (N = odd), metadata last: all legal.
  const std::string header =
      "{ \"b\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [0, 16]},\n"
      "  \"a\": {\"shape\": [3, 1], \"dtype\": \"F16\", \"data_offsets\": [16, 22], \"extra\": 1},\n"
      "  \"s\": {\"dtype\": \"BF16\", \"shape\": [], \"data_offsets\": [22, 24]},\n"
      "  \"z\": {\"dtype\": \"U8\", \"shape\": [0, 4], \"data_offsets\": [24, 24]},\n"
      "  \"__metadata__\": {\"format\": \"pt\", \"note\": \"h\\u00e9\"} }";
  ByteBuilder data;
  data.i64(5).i64(-7);                      // b: I64 [5, -7]
  data.u16(0x3C00).u16(0xC000).u16(0x0000);  // a: F16 [1, -2, 0]
  data.u16(0x3F80);                         // s: BF16 scalar 1.0
  const SafetensorsFile f = SafetensorsFile::from_bytes(file_with_header(header, data.bytes()));
  EXPECT_EQ(f.header_size(), header.size());
  ASSERT_EQ(f.tensors().size(), 4u);
  // Data-buffer order: b [0,16), a [16,22), s [22,24), z [24,24).
  EXPECT_EQ(f.tensors()[0].name, "b");
  EXPECT_EQ(f.tensors()[1].name, "a");
  EXPECT_EQ(f.tensors()[2].name, "s");
  EXPECT_EQ(f.tensors()[3].name, "z");
  const TensorInfo* b = f.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, Dtype::I64);
  EXPECT_EQ(b->shape, std::vector<uint64_t>{2});
  int64_t ints[2];
  std::memcpy(ints, f.tensor_bytes(*b).data(), 16);
  EXPECT_EQ(ints[0], 5);
  EXPECT_EQ(ints[1], -7);
  const TensorInfo* a = f.find("a");
  EXPECT_EQ(a->dtype, Dtype::F16);
  EXPECT_EQ(a->shape, (std::vector<uint64_t>{3, 1}));
  EXPECT_EQ(a->begin, 16u);
  EXPECT_EQ(a->end, 22u);
  const auto a_bytes = f.tensor_bytes("a");
  EXPECT_EQ(static_cast<uint8_t>(a_bytes[3]), 0xC0);  // high byte of -2.0 half
  EXPECT_TRUE(f.find("s")->shape.empty());
  EXPECT_EQ(f.find("s")->n_elements(), 1u);
  EXPECT_EQ(f.find("z")->n_elements(), 0u);
  EXPECT_EQ(f.tensor_bytes("z").size(), 0u);
  EXPECT_EQ(f.metadata().at("note"), "h\xC3\xA9");
  EXPECT_EQ(f.find("__metadata__"), nullptr);
  EXPECT_THROW(f.tensor_bytes("missing"), std::out_of_range);
}

TEST(SafetensorsRoundTrip, AllDtypesMetadataAndOrder) {
  SafetensorsWriter w;
  std::mt19937_64 rng(11);
  std::map<std::string, std::vector<std::byte>> data;
  const std::vector<std::pair<std::string, Dtype>> specs = {
      {"m.bool", Dtype::BOOL}, {"m.u8", Dtype::U8},     {"m.i8", Dtype::I8},   {"m.f8a", Dtype::F8_E5M2},
      {"m.f8b", Dtype::F8_E4M3}, {"m.i16", Dtype::I16}, {"m.u16", Dtype::U16}, {"m.f16", Dtype::F16},
      {"m.bf16", Dtype::BF16}, {"m.i32", Dtype::I32},   {"m.u32", Dtype::U32}, {"m.f32", Dtype::F32},
      {"m.f64", Dtype::F64},   {"m.i64", Dtype::I64},   {"m.u64", Dtype::U64}, {"b.f32", Dtype::F32},
  };
  for (const auto& [name, dtype] : specs) {
    std::vector<std::byte> bytes(3 * 5 * dtype_size(dtype));
    for (auto& x : bytes) x = static_cast<std::byte>(rng() & 0xFF);
    w.add_tensor(name, dtype, {3, 5}, bytes);
    data[name] = bytes;
  }
  w.add_tensor("empty", Dtype::F32, {0}, std::vector<std::byte>{});
  w.set_metadata("format", "pt");
  w.set_metadata("fedlora.round", "12");

  const std::vector<std::byte> image = w.serialize();
  const SafetensorsFile f = SafetensorsFile::from_bytes(image);
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata().at("fedlora.round"), "12");
  ASSERT_EQ(f.tensors().size(), specs.size() + 1);
  for (const auto& [name, bytes] : data) {
    EXPECT_EQ(span_vec(f.tensor_bytes(name)), bytes) << name;
    EXPECT_EQ(f.find(name)->shape, (std::vector<uint64_t>{3, 5}));
    // Largest dtypes first, so every tensor starts aligned to its element size.
    EXPECT_EQ((f.data_offset() + f.find(name)->begin) % dtype_size(f.find(name)->dtype), 0u) << name;
  }
  // Reference order: dtype descending (U64, I64, F64, F32 ...), then name.
  EXPECT_EQ(f.tensors()[0].name, "m.u64");
  EXPECT_EQ(f.tensors()[1].name, "m.i64");
  EXPECT_EQ(f.tensors()[2].name, "m.f64");
  EXPECT_EQ(f.tensors()[3].name, "b.f32");
  EXPECT_EQ(f.tensors()[4].name, "empty");
  EXPECT_EQ(f.tensors()[5].name, "m.f32");
  EXPECT_EQ(f.tensors().back().name, "m.bool");
  EXPECT_EQ(f.header_size() % 8, 0u);
}

TEST(SafetensorsFileIo, WriteOpenMoveAndNoTempLeft) {
  test::TempDir dir;
  const auto path = dir / "adapter_model.safetensors";
  SafetensorsWriter w;
  w.add_tensor("base_model.model.layers.0.self_attn.q_proj.lora_A.weight", Dtype::F32, {2, 2},
               f32_bytes({1, 2, 3, 4}));
  w.write(path);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"adapter_model.safetensors"});
  SafetensorsFile f = SafetensorsFile::open(path);
  const std::byte* p = f.tensor_bytes(f.tensors()[0]).data();
  SafetensorsFile g = std::move(f);
  EXPECT_EQ(g.tensor_bytes(g.tensors()[0]).data(), p);
  EXPECT_EQ(span_vec(g.tensor_bytes(g.tensors()[0])), f32_bytes({1, 2, 3, 4}));
  EXPECT_THROW(SafetensorsFile::open(dir / "absent"), IoError);
}

TEST(SafetensorsWriter, RejectsInvalidInput) {
  SafetensorsWriter w;
  EXPECT_THROW(w.add_tensor("__metadata__", Dtype::U8, {1}, std::vector<std::byte>(1)), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("x", Dtype::F32, {3}, std::vector<std::byte>(8)), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("bad\xFF", Dtype::U8, {1}, std::vector<std::byte>(1)), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("x", Dtype::U8, {UINT64_MAX, 2}, std::vector<std::byte>(1)), std::invalid_argument);
  EXPECT_THROW(w.set_metadata("k", "\xC3"), std::invalid_argument);
  w.add_tensor("x", Dtype::U8, {1}, std::vector<std::byte>(1));
  EXPECT_THROW(w.add_tensor("x", Dtype::U8, {1}, std::vector<std::byte>(1)), std::invalid_argument);
}

// --- malformed input ---

TEST(SafetensorsMalformed, HeaderLength) {
  EXPECT_MSG_HAS(format_error_of({}), "fewer than the 8-byte header size");
  ByteBuilder huge;
  huge.u64(UINT64_MAX).raw("{}");
  EXPECT_MSG_HAS(format_error_of(huge.bytes()), "over the 100 MB limit");
  ByteBuilder over;
  over.u64(100'000'001).raw("{}");
  EXPECT_MSG_HAS(format_error_of(over.bytes()), "over the 100 MB limit");
  ByteBuilder past_end;
  past_end.u64(9).raw("{}      ");  // claims 9 header bytes, has 8
  EXPECT_MSG_HAS(format_error_of(past_end.bytes()), "only 8 bytes follow");
  ByteBuilder zero;
  zero.u64(0);
  EXPECT_MSG_HAS(format_error_of(zero.bytes()), "must start with '{'");
}

TEST(SafetensorsMalformed, TruncationAtEveryByteOffset) {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  w.add_tensor("w", Dtype::F32, {2, 3}, f32_bytes({1, 2, 3, 4, 5, 6}));
  w.add_tensor("b", Dtype::F16, {3}, std::vector<std::byte>(6, std::byte{1}));
  const std::vector<std::byte> full = w.serialize();
  ASSERT_NO_THROW(SafetensorsFile::from_bytes(full));
  for (std::size_t len = 0; len < full.size(); ++len) {
    const std::vector<std::byte> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    try {
      SafetensorsFile::from_bytes(prefix);
      ADD_FAILURE() << "prefix of " << len << " bytes parsed";
    } catch (const FormatError&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "prefix of " << len << " bytes: wrong exception: " << e.what();
    }
  }
  test::TempDir dir;
  for (std::size_t len : {std::size_t{0}, std::size_t{7}, std::size_t{30}, full.size() - 1}) {
    const auto path = dir / ("t" + std::to_string(len));
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(full.data()), static_cast<std::streamsize>(len));
    EXPECT_THROW(SafetensorsFile::open(path), FormatError) << len;
  }
}

TEST(SafetensorsMalformed, OverlapsHolesAndCoverage) {
  const std::vector<std::byte> data12(12);
  EXPECT_MSG_HAS(format_error_of(file_with_header(
                     R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})",
                     data12)),
                 "(overlap)");
  EXPECT_MSG_HAS(format_error_of(file_with_header(
                     R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}})",
                     data12)),
                 "(hole)");
  EXPECT_MSG_HAS(format_error_of(file_with_header(
                     R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}})",
                     data12)),
                 "(hole)");  // nothing at the start
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", data12)),
                 "fully covered");  // 4 trailing bytes unaccounted for
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"U8","shape":[16],"data_offsets":[0,16]}})", data12)),
                 "run past the data buffer");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}})", data12)),
                 "end before they begin");
  // Two identical ranges: the second overlaps the first.
  EXPECT_MSG_HAS(format_error_of(file_with_header(
                     R"({"a":{"dtype":"U8","shape":[12],"data_offsets":[0,12]},"b":{"dtype":"U8","shape":[12],"data_offsets":[0,12]}})",
                     data12)),
                 "(overlap)");
}

TEST(SafetensorsMalformed, ShapeDtypeOffsetMismatch) {
  const std::vector<std::byte> data8(8);
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8)),
                 "but data_offsets span 8 bytes");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}})", data8)),
                 "unknown dtype 'F99'");
  EXPECT_MSG_HAS(
      format_error_of(file_with_header(
          R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data8)),
      "overflows");
  EXPECT_MSG_HAS(
      format_error_of(file_with_header(R"({"a":{"dtype":"U64","shape":[4611686018427387904],"data_offsets":[0,8]}})", data8)),
      "overflows");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"U8","shape":[-8],"data_offsets":[0,8]}})", data8)),
                 "expected an unsigned integer");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"U8","shape":[8.0],"data_offsets":[0,8]}})", data8)),
                 "expected an unsigned integer");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8,8]}})", data8)),
                 "exactly [begin, end]");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"U8","shape":8,"data_offsets":[0,8]}})", data8)),
                 "shape must be an array");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"U8","data_offsets":[0,8]}})", data8)),
                 "needs the fields");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":[1,2]})", data8)), "entry must be an object");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":8,"shape":[8],"data_offsets":[0,8]}})", data8)),
                 "dtype must be a string");
}

TEST(SafetensorsMalformed, BadJson) {
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":)")), "header JSON");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":1)")), "invalid");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({} x)")), "invalid");
  EXPECT_MSG_HAS(format_error_of(file_with_header(" {}")), "must start with '{'");
  EXPECT_MSG_HAS(format_error_of(file_with_header("[]")), "must start with '{'");
  EXPECT_MSG_HAS(format_error_of(file_with_header(std::string("{}\0 xyz", 6))), "NUL byte at byte offset 10");
  EXPECT_MSG_HAS(format_error_of(file_with_header("{\"\xFF\":1}")), "invalid");  // not UTF-8
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"__metadata__":{"k":1}})")), "must be a string");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"__metadata__":[]})")), "__metadata__ must be an object");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"__metadata__":{"k":"a","k":"b"}})")), "key 'k' twice");
  EXPECT_MSG_HAS(format_error_of(file_with_header(
                     R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})")),
                 "key 'a' twice");
  EXPECT_MSG_HAS(format_error_of(file_with_header(R"({"a":{"dtype":"U8","shape":[[[0]]],"data_offsets":[0,0]}})")),
                 "nests deeper");
  EXPECT_MSG_HAS(format_error_of(file_with_header("{\"a\":" + std::string(200000, '['))), "nests deeper");
  // A null __metadata__ is accepted, as the reference does.
  EXPECT_TRUE(SafetensorsFile::from_bytes(file_with_header(R"({"__metadata__":null})")).metadata().empty());
}

TEST(SafetensorsMalformed, SeededRandomMutations) {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  w.add_tensor("lora_A", Dtype::F32, {2, 4}, f32_bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  w.add_tensor("lora_B", Dtype::F16, {4, 2}, std::vector<std::byte>(16, std::byte{3}));
  w.add_tensor("s", Dtype::I64, {}, std::vector<std::byte>(8, std::byte{9}));
  const std::vector<std::byte> seed = w.serialize();
  std::mt19937_64 rng(777);
  int parsed = 0, rejected = 0;
  constexpr int kCases = 10000;
  for (int i = 0; i < kCases; ++i) {
    std::vector<std::byte> bytes = seed;
    const int n_flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n_flips; ++k) {
      // Bias toward the header, where the parsing happens.
      const std::size_t limit = (rng() % 4 != 0) ? std::min<std::size_t>(bytes.size(), 8 + 200) : bytes.size();
      const std::size_t pos = rng() % limit;
      if (rng() % 8 == 0) {
        bytes.resize(pos);
        break;
      }
      // Either a random byte or a JSON-meaningful character.
      static constexpr char kJsonChars[] = "{}[]\",:0123456789-.e \\u";
      bytes[pos] = (rng() % 2) ? static_cast<std::byte>(rng() & 0xFF)
                               : static_cast<std::byte>(kJsonChars[rng() % (sizeof(kJsonChars) - 1)]);
    }
    try {
      const SafetensorsFile f = SafetensorsFile::from_bytes(bytes);
      ++parsed;
      std::size_t touched = 0;
      for (const TensorInfo& t : f.tensors()) {
        for (std::byte b : f.tensor_bytes(t)) touched += static_cast<std::size_t>(b);
      }
      for (const auto& [k, v] : f.metadata()) touched += k.size() + v.size();
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
  EXPECT_GT(rejected, kCases / 2);
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace fedlora::lora::safetensors
