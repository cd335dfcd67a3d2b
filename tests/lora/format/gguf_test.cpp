// GGUF reader/writer against hand-assembled bytes (GGUF spec, ggml docs/gguf.md) and
// write -> read round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "tests/lora/format/byte_builder.h"
#include "tests/lora/format/gguf_fixture.h"
#include "tests/lora/format/temp_dir.h"

namespace fedlora::lora::gguf {
namespace {

using test::ByteBuilder;
using test::make_hand_gguf;

std::vector<std::byte> span_vec(std::span<const std::byte> s) { return {s.begin(), s.end()}; }

std::vector<std::byte> random_bytes(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xFF);
  return out;
}

// The writer fed the same content in the same order, for comparison with the hand file.
GgufWriter writer_for_hand_file(const test::HandGguf& h) {
  GgufWriter w;
  w.set("t.u8", uint8_t{200});
  w.set("t.i8", int8_t{-100});
  w.set("t.u16", uint16_t{60000});
  w.set("t.i16", int16_t{-30000});
  w.set("t.u32", uint32_t{4000000000u});
  w.set("t.i32", int32_t{-2000000000});
  w.set("t.f32", 1.5f);
  w.set("t.bool", true);
  w.set("t.str", "h\xC3\xA9llo");
  w.set("t.arr_u32", std::vector<uint32_t>{1, 2, 3});
  w.set("t.arr_str", std::vector<std::string>{"a", ""});
  w.set("t.nested", std::vector<Array>{Array(std::vector<int32_t>{-1, 7}), Array(std::vector<std::string>{"x"})});
  w.set("t.u64", (uint64_t{1} << 40) + 5);
  w.set("t.i64", -(int64_t{1} << 40));
  w.set("t.f64", -0.25);
  w.set("t.empty_arr", std::vector<float>{});
  w.set("general.name", "tiny");
  w.add_tensor("w.f32", GgmlType::F32, {4, 2}, h.f32_data);
  w.add_tensor("w.q8", GgmlType::Q8_0, {32}, h.q8_data);
  w.add_tensor("w.q4", GgmlType::Q4_0, {32, 2}, h.q4_data);
  w.add_tensor("w.f16", GgmlType::F16, {16}, h.f16_data);
  return w;
}

TEST(GgufReader, ParsesHandBuiltFile) {
  const test::HandGguf h = make_hand_gguf();
  const GgufFile f = GgufFile::from_bytes(h.file, "hand.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset(), h.data_offset);
  EXPECT_EQ(f.data_offset() % 32, 0u);

  ASSERT_EQ(f.metadata().size(), 17u);
  EXPECT_EQ(f.metadata()[0].key, "t.u8");
  EXPECT_EQ(f.metadata()[16].key, "general.name");
  EXPECT_EQ(f.get_u8("t.u8"), 200);
  EXPECT_EQ(f.get_i8("t.i8"), -100);
  EXPECT_EQ(f.get_u16("t.u16"), 60000);
  EXPECT_EQ(f.get_i16("t.i16"), -30000);
  EXPECT_EQ(f.get_u32("t.u32"), 4000000000u);
  EXPECT_EQ(f.get_i32("t.i32"), -2000000000);
  EXPECT_EQ(f.get_f32("t.f32"), 1.5f);
  EXPECT_TRUE(f.get_bool("t.bool"));
  EXPECT_EQ(f.get_string("t.str"), "h\xC3\xA9llo");
  EXPECT_EQ(std::get<std::vector<uint32_t>>(f.get_array("t.arr_u32").items), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(f.get_string_array("t.arr_str"), (std::vector<std::string>{"a", ""}));
  const auto& nested = std::get<std::vector<Array>>(f.get_array("t.nested").items);
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(std::get<std::vector<int32_t>>(nested[0].items), (std::vector<int32_t>{-1, 7}));
  EXPECT_EQ(std::get<std::vector<std::string>>(nested[1].items), (std::vector<std::string>{"x"}));
  EXPECT_EQ(f.get_u64("t.u64"), (uint64_t{1} << 40) + 5);
  EXPECT_EQ(f.get_i64("t.i64"), -(int64_t{1} << 40));
  EXPECT_EQ(f.get_f64("t.f64"), -0.25);
  EXPECT_EQ(f.get_f32_array("t.empty_arr").size(), 0u);
  EXPECT_EQ(f.get_string("general.name"), "tiny");
  EXPECT_EQ(describe_type(*f.find("t.nested")), "arr[arr[i32]]");

  ASSERT_EQ(f.tensors().size(), 4u);
  const TensorInfo* q4 = f.find_tensor("w.q4");
  ASSERT_NE(q4, nullptr);
  EXPECT_EQ(q4->dims, (std::vector<uint64_t>{32, 2}));
  EXPECT_EQ(q4->type, GgmlType::Q4_0);
  EXPECT_EQ(q4->offset, 96u);
  EXPECT_EQ(q4->n_elements(), 64u);
  EXPECT_EQ(q4->n_bytes(), 36u);
  EXPECT_EQ(f.find_tensor("w.f32")->dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(f.find_tensor("w.q8")->type, GgmlType::Q8_0);
  EXPECT_EQ(f.find_tensor("w.f16")->offset, 160u);
  EXPECT_EQ(f.find_tensor("nope"), nullptr);

  EXPECT_EQ(span_vec(f.tensor_bytes("w.f32")), h.f32_data);
  EXPECT_EQ(span_vec(f.tensor_bytes("w.q8")), h.q8_data);
  EXPECT_EQ(span_vec(f.tensor_bytes("w.q4")), h.q4_data);
  EXPECT_EQ(span_vec(f.tensor_bytes("w.f16")), h.f16_data);
  // Decode one value by hand: element 5 of w.f32 is 2.5.
  float v5;
  std::memcpy(&v5, f.tensor_bytes("w.f32").data() + 5 * 4, 4);
  EXPECT_EQ(v5, 2.5f);
  EXPECT_THROW(f.tensor_bytes("nope"), std::out_of_range);
}

TEST(GgufWriter, ProducesTheHandBuiltBytesExactly) {
  const test::HandGguf h = make_hand_gguf();
  EXPECT_EQ(writer_for_hand_file(h).serialize(), h.file);
}

TEST(GgufWriter, HeaderAndPaddingLayoutMatchesSpec) {
  // One kv and one 4-byte tensor, alignment 32: every byte checked by hand.
  GgufWriter w;
  w.set("a", uint32_t{7});
  const std::vector<std::byte> data = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  w.add_tensor("t", GgmlType::F32, {1}, data);
  ByteBuilder b;
  b.raw("GGUF").u32(3).u64(1).u64(1);
  b.gguf_str("a").u32(4).u32(7);
  b.gguf_str("t").u32(1).u64(1).u32(0).u64(0);
  ASSERT_EQ(b.size(), 24u + 17u + 33u);  // header 24, kv 8+1+4+4, info 8+1+4+8+4+8
  b.pad_to(32);                          // 74 -> 96
  b.raw(data).pad_to(32);                // llama.cpp pads after the last tensor too
  EXPECT_EQ(w.serialize(), b.bytes());
  EXPECT_EQ(w.serialize().size(), 128u);
}

TEST(GgufRoundTrip, EveryValueTypeAndTensorType) {
  GgufWriter w;
  w.set("v.u8", uint8_t{0});
  w.set("v.i8", int8_t{-128});
  w.set("v.u16", uint16_t{65535});
  w.set("v.i16", int16_t{-32768});
  w.set("v.u32", uint32_t{0xFFFFFFFFu});
  w.set("v.i32", int32_t{INT32_MIN});
  w.set("v.f32", -3.25e-20f);
  w.set("v.bool_false", false);
  w.set("v.str_empty", std::string());
  w.set("v.str_long", std::string(100000, 'z'));
  w.set("v.u64", uint64_t{UINT64_MAX});
  w.set("v.i64", int64_t{INT64_MIN});
  w.set("v.f64", 1e300);
  w.set("v.arr_u8", std::vector<uint8_t>{0, 255});
  w.set("v.arr_i8", std::vector<int8_t>{-1});
  w.set("v.arr_u16", std::vector<uint16_t>{1, 2});
  w.set("v.arr_i16", std::vector<int16_t>{-3});
  w.set("v.arr_i32", std::vector<int32_t>{-1, 0, 1});
  w.set("v.arr_f32", std::vector<float>{0.5f, -1.0f});
  w.set("v.arr_bool", std::vector<bool>{true, false, true});
  w.set("v.arr_str", std::vector<std::string>{"<s>", "</s>", "\xE2\x96\x81the"});
  w.set("v.arr_u64", std::vector<uint64_t>{UINT64_MAX});
  w.set("v.arr_i64", std::vector<int64_t>{INT64_MIN, 5});
  w.set("v.arr_f64", std::vector<double>{-0.0, 2.5});
  w.set("v.arr_arr_arr", std::vector<Array>{Array(std::vector<Array>{Array(std::vector<uint8_t>{9})}), Array()});
  w.set("v.f32", 7.0f);  // replaces the earlier value in place

  const auto f32 = random_bytes(4 * 6, 1), f16 = random_bytes(2 * 64, 2);
  const auto q8 = random_bytes(34 * 4, 3), q4 = random_bytes(18 * 6, 4);
  w.add_tensor("f32", GgmlType::F32, {3, 2}, f32);
  w.add_tensor("f16", GgmlType::F16, {8, 2, 2, 2}, f16);
  w.add_tensor("q8", GgmlType::Q8_0, {64, 2}, q8);
  w.add_tensor("q4", GgmlType::Q4_0, {96, 1, 2}, q4);

  const GgufFile f = GgufFile::from_bytes(w.serialize());
  EXPECT_EQ(f.metadata(), w.metadata());
  EXPECT_EQ(f.get_f32("v.f32"), 7.0f);
  EXPECT_EQ(f.metadata()[6].key, "v.f32");
  EXPECT_EQ(f.get_string("v.str_long").size(), 100000u);
  EXPECT_EQ(describe_type(*f.find("v.arr_arr_arr")), "arr[arr[arr[u8]]]");
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(span_vec(f.tensor_bytes("f32")), f32);
  EXPECT_EQ(span_vec(f.tensor_bytes("f16")), f16);
  EXPECT_EQ(span_vec(f.tensor_bytes("q8")), q8);
  EXPECT_EQ(span_vec(f.tensor_bytes("q4")), q4);
  EXPECT_EQ(f.find_tensor("f16")->dims, (std::vector<uint64_t>{8, 2, 2, 2}));
  EXPECT_EQ(f.find_tensor("q4")->type, GgmlType::Q4_0);
  // llama.cpp requires consecutive offsets: each previous size padded to the alignment.
  EXPECT_EQ(f.find_tensor("f32")->offset, 0u);
  EXPECT_EQ(f.find_tensor("f16")->offset, 32u);    // 24 -> 32
  EXPECT_EQ(f.find_tensor("q8")->offset, 160u);    // 32 + 128
  EXPECT_EQ(f.find_tensor("q4")->offset, 320u);    // 160 + 136 -> 160
  EXPECT_EQ(f.file_size(), f.data_offset() + 320u + 128u);  // 108 padded to 128
}

TEST(GgufRoundTrip, NaNBitsSurvive) {
  GgufWriter w;
  const float nan = std::bit_cast<float>(0x7FC01234u);
  w.set("x.nan", nan);
  const GgufFile f = GgufFile::from_bytes(w.serialize());
  EXPECT_EQ(std::bit_cast<uint32_t>(f.get_f32("x.nan")), 0x7FC01234u);
}

class GgufAlignment : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufAlignment, DataAndTensorsAlignToCustomAlignment) {
  const uint32_t align = GetParam();
  GgufWriter w;
  w.set("general.alignment", align);
  w.set("general.architecture", "llama");
  const auto a = random_bytes(34, 5), b = random_bytes(4 * 3, 6), c = random_bytes(2 * 5, 7);
  w.add_tensor("a", GgmlType::Q8_0, {32}, a);
  w.add_tensor("b", GgmlType::F32, {3}, b);
  w.add_tensor("c", GgmlType::F16, {5}, c);
  const std::vector<std::byte> image = w.serialize();
  const GgufFile f = GgufFile::from_bytes(image);
  EXPECT_EQ(f.alignment(), align);
  EXPECT_EQ(f.data_offset() % align, 0u);
  // Hand computation of the offsets: each tensor's size rounded up to `align`.
  const auto up = [align](uint64_t n) { return (n + align - 1) / align * align; };
  EXPECT_EQ(f.find_tensor("a")->offset, 0u);
  EXPECT_EQ(f.find_tensor("b")->offset, up(34));
  EXPECT_EQ(f.find_tensor("c")->offset, up(34) + up(12));
  EXPECT_EQ(image.size(), f.data_offset() + up(34) + up(12) + up(10));
  for (const TensorInfo& t : f.tensors()) {
    EXPECT_EQ(f.tensor_bytes(t).size(), t.n_bytes()) << t.name;
    EXPECT_EQ((f.data_offset() + t.offset) % align, 0u) << t.name;
  }
  EXPECT_EQ(span_vec(f.tensor_bytes("a")), a);
  EXPECT_EQ(span_vec(f.tensor_bytes("b")), b);
  EXPECT_EQ(span_vec(f.tensor_bytes("c")), c);
  // Padding bytes are zero.
  for (uint64_t i = f.data_offset() + 34; i < f.data_offset() + up(34); ++i) EXPECT_EQ(image[i], std::byte{0});
}

INSTANTIATE_TEST_SUITE_P(Alignments, GgufAlignment, ::testing::Values(8u, 16u, 32u, 64u, 4096u));

TEST(GgufFileIo, WriteThenOpenFromDiskAndMove) {
  test::TempDir dir;
  const auto path = dir / "model.gguf";
  const test::HandGguf h = make_hand_gguf();
  writer_for_hand_file(h).write(path);
  // Only the final file remains: the temporary was renamed, not left behind.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"model.gguf"});
  EXPECT_EQ(std::filesystem::file_size(path), h.file.size());

  GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.source(), path.string());
  const std::byte* before = f.tensor_bytes("w.q8").data();
  GgufFile moved = std::move(f);
  EXPECT_EQ(moved.tensor_bytes("w.q8").data(), before);  // the mapping did not move
  EXPECT_EQ(span_vec(moved.tensor_bytes("w.q8")), h.q8_data);
  GgufFile assigned = GgufFile::from_bytes(make_hand_gguf().file);
  assigned = std::move(moved);
  EXPECT_EQ(span_vec(assigned.tensor_bytes("w.f16")), h.f16_data);

  // Overwriting replaces the file atomically.
  GgufWriter small;
  small.set("general.name", "second");
  small.write(path);
  EXPECT_EQ(GgufFile::open(path).get_string("general.name"), "second");
  EXPECT_EQ(span_vec(assigned.tensor_bytes("w.f16")), h.f16_data);  // old mapping still valid
}

TEST(GgufFileIo, MissingFileIsIoError) {
  test::TempDir dir;
  EXPECT_THROW(GgufFile::open(dir / "absent.gguf"), IoError);
  EXPECT_THROW(GgufFile::open(dir.path()), IoError);  // a directory
  EXPECT_THROW(GgufWriter().write(dir / "no_such_dir" / "x.gguf"), IoError);
}

TEST(GgufLookup, TypedGettersNameKeyAndTypes) {
  const GgufFile f = GgufFile::from_bytes(make_hand_gguf().file, "hand.gguf");
  try {
    f.get_u32("t.f32");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'t.f32'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("has type f32, expected u32"), std::string::npos) << msg;
    EXPECT_NE(msg.find("hand.gguf"), std::string::npos) << msg;
  }
  try {
    f.get_string("llama.context_length");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'llama.context_length' is missing (expected type str)"), std::string::npos)
        << e.what();
  }
  try {
    f.get_f32_array("t.arr_u32");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("has type arr[u32], expected arr[f32]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(f.get_i32_array("t.arr_str"), FormatError);
  EXPECT_THROW(f.get_string_array("t.str"), FormatError);
  EXPECT_FALSE(f.find_u32("absent").has_value());
  EXPECT_FALSE(f.find_string_array("absent").has_value());
  EXPECT_EQ(f.find_u32("t.u32"), 4000000000u);
  EXPECT_EQ(f.find_string("general.name"), "tiny");
  EXPECT_EQ(f.find_f32_array("t.empty_arr"), std::vector<float>{});
  EXPECT_THROW(f.find_u32("t.i32"), FormatError);  // present with another type: not "absent"
  EXPECT_EQ(f.get_uint("t.u8"), 200u);
  EXPECT_EQ(f.get_uint("t.u16"), 60000u);
  EXPECT_EQ(f.get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(f.get_uint("t.u64"), (uint64_t{1} << 40) + 5);
  EXPECT_THROW(f.get_uint("t.i32"), FormatError);
  EXPECT_FALSE(f.find_uint("absent").has_value());
  EXPECT_EQ(f.find("absent"), nullptr);
}

TEST(GgufReader, AcceptsVersion2WithSameLayout) {
  std::vector<std::byte> file = make_hand_gguf().file;
  file[4] = std::byte{2};
  EXPECT_EQ(GgufFile::from_bytes(file).version(), 2u);
}

TEST(GgufReader, TensorBytesRejectsForeignInfo) {
  const GgufFile f = GgufFile::from_bytes(make_hand_gguf().file);
  TensorInfo fake{"fake", {1 << 20}, GgmlType::F32, 0};
  EXPECT_THROW(f.tensor_bytes(fake), std::out_of_range);
  TensorInfo unsupported{"u", {256}, static_cast<GgmlType>(12), 0};
  EXPECT_THROW(f.tensor_bytes(unsupported), std::out_of_range);
}

TEST(GgufWriter, RejectsInvalidInput) {
  GgufWriter w;
  EXPECT_THROW(w.set("", uint8_t{1}), std::invalid_argument);
  EXPECT_THROW(w.set("General.Name", "x"), std::invalid_argument);
  EXPECT_THROW(w.set("a..b", "x"), std::invalid_argument);
  EXPECT_THROW(w.set(".a", "x"), std::invalid_argument);
  EXPECT_THROW(w.set("a.", "x"), std::invalid_argument);
  EXPECT_THROW(w.set("a b", "x"), std::invalid_argument);
  EXPECT_THROW(w.set(std::string(65536, 'a'), "x"), std::invalid_argument);
  EXPECT_NO_THROW(w.set(std::string(65535, 'a'), "x"));
  EXPECT_THROW(w.set("general.alignment", uint64_t{32}), std::invalid_argument);
  EXPECT_THROW(w.set("general.alignment", uint32_t{24}), std::invalid_argument);
  EXPECT_THROW(w.set("general.alignment", uint32_t{4}), std::invalid_argument);
  EXPECT_THROW(w.set("general.alignment", uint32_t{0}), std::invalid_argument);
  Array deep(std::vector<uint8_t>{1});
  for (int i = 0; i < kMaxArrayDepth; ++i) deep = Array(std::vector<Array>{deep});
  EXPECT_THROW(w.set("x.deep", deep), std::invalid_argument);

  const auto f32 = random_bytes(16, 9);
  EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {5}, f32), std::invalid_argument);            // 16 != 20
  EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {}, f32), std::invalid_argument);             // no dims
  EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {1, 1, 1, 1, 4}, f32), std::invalid_argument); // 5 dims
  EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {4, 0}, std::vector<std::byte>{}), std::invalid_argument);  // zero dim
  EXPECT_THROW(w.add_tensor("t", GgmlType::Q8_0, {33}, random_bytes(34, 1)), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("t", static_cast<GgmlType>(12), {256}, random_bytes(144, 1)), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("", GgmlType::F32, {4}, f32), std::invalid_argument);
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), GgmlType::F32, {4}, f32), std::invalid_argument);
  EXPECT_NO_THROW(w.add_tensor(std::string(63, 'n'), GgmlType::F32, {4}, f32));
  EXPECT_NO_THROW(w.add_tensor("t", GgmlType::F32, {4}, f32));
  EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {4}, f32), std::invalid_argument);  // duplicate
}

}  // namespace
}  // namespace fedlora::lora::gguf
