#include "lora/tokenizer/spm_model_file.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include "lora/tokenizer/tokenizer_error.h"

namespace fedlora::lora {

namespace {

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// Bounds-checked reader over one message's bytes.
class WireReader {
 public:
  WireReader(std::string_view buf, std::string context) : buf_(buf), ctx_(std::move(context)) {}

  bool done() const noexcept { return pos_ >= buf_.size(); }

  [[noreturn]] void fail(const std::string& what) const {
    throw TokenizerError("SentencePiece model " + ctx_ + ": " + what + " at byte " +
                         std::to_string(pos_) + "; the file is truncated or not a .model file");
  }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos_ >= buf_.size()) fail("truncated varint");
      const auto byte = static_cast<std::uint8_t>(buf_[pos_++]);
      if (shift == 63 && byte > 1) fail("varint longer than 64 bits");
      v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    fail("varint longer than 10 bytes");
  }

  // Returns {field number, wire type}.
  std::pair<std::uint64_t, std::uint32_t> tag() {
    const std::uint64_t t = varint();
    const std::uint64_t field = t >> 3;
    const auto wire = static_cast<std::uint32_t>(t & 7);
    if (field == 0) fail("field number 0");
    if (wire != kVarint && wire != kFixed64 && wire != kLen && wire != kFixed32) {
      fail("unsupported wire type " + std::to_string(wire));
    }
    return {field, wire};
  }

  std::string_view len_delimited() {
    const std::uint64_t n = varint();
    if (n > buf_.size() - pos_) fail("length " + std::to_string(n) + " runs past the end");
    const std::string_view out = buf_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }

  std::uint32_t fixed32() {
    if (buf_.size() - pos_ < 4) fail("truncated 32-bit field");
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(buf_[pos_ + i]);
    pos_ += 4;
    return v;
  }

  void skip(std::uint32_t wire) {
    switch (wire) {
      case kVarint: varint(); return;
      case kFixed64:
        if (buf_.size() - pos_ < 8) fail("truncated 64-bit field");
        pos_ += 8;
        return;
      case kLen: len_delimited(); return;
      case kFixed32: fixed32(); return;
      default: fail("unsupported wire type");
    }
  }

  void expect(std::uint32_t wire, std::uint32_t expected, const char* field) {
    if (wire != expected) {
      fail(std::string("field ") + field + " has wire type " + std::to_string(wire) +
           ", expected " + std::to_string(expected));
    }
  }

  // int32 fields are varints of the sign-extended 64-bit value.
  std::int32_t int32(const char* field) {
    const auto v = static_cast<std::int64_t>(varint());
    if (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max()) {
      fail(std::string("field ") + field + " does not fit int32");
    }
    return static_cast<std::int32_t>(v);
  }

  bool boolean() { return varint() != 0; }

 private:
  std::string_view buf_;
  std::string ctx_;
  std::size_t pos_ = 0;
};

struct TrainerSpec {
  std::int32_t model_type = 1;  // UNIGRAM
  bool treat_whitespace_as_suffix = false;
  bool byte_fallback = false;
  std::int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
};

struct NormalizerSpec {
  std::string name;
  std::size_t charsmap_bytes = 0;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

void parse_piece(std::string_view bytes, const std::string& ctx, SpmVocabSpec& spec) {
  WireReader r(bytes, ctx);
  std::string piece;
  float score = 0.0f;
  std::int32_t type = 1;
  while (!r.done()) {
    const auto [field, wire] = r.tag();
    switch (field) {
      case 1: r.expect(wire, kLen, "piece"); piece = std::string(r.len_delimited()); break;
      case 2: r.expect(wire, kFixed32, "score"); score = std::bit_cast<float>(r.fixed32()); break;
      case 3: r.expect(wire, kVarint, "type"); type = r.int32("type"); break;
      default: r.skip(wire);
    }
  }
  spec.pieces.push_back(std::move(piece));
  spec.scores.push_back(score);
  spec.types.push_back(token_type_from_id(type, ctx));
}

TrainerSpec parse_trainer(std::string_view bytes, const std::string& ctx) {
  WireReader r(bytes, ctx);
  TrainerSpec t;
  while (!r.done()) {
    const auto [field, wire] = r.tag();
    const bool varint = wire == kVarint;
    if (field == 3 && varint) t.model_type = r.int32("model_type");
    else if (field == 24 && varint) t.treat_whitespace_as_suffix = r.boolean();
    else if (field == 35 && varint) t.byte_fallback = r.boolean();
    else if (field == 40 && varint) t.unk_id = r.int32("unk_id");
    else if (field == 41 && varint) t.bos_id = r.int32("bos_id");
    else if (field == 42 && varint) t.eos_id = r.int32("eos_id");
    else if (field == 43 && varint) t.pad_id = r.int32("pad_id");
    else if (field == 3 || field == 24 || field == 35 || (field >= 40 && field <= 43)) {
      r.expect(wire, kVarint, "trainer_spec scalar");
    } else {
      r.skip(wire);
    }
  }
  return t;
}

NormalizerSpec parse_normalizer(std::string_view bytes, const std::string& ctx) {
  WireReader r(bytes, ctx);
  NormalizerSpec n;
  while (!r.done()) {
    const auto [field, wire] = r.tag();
    switch (field) {
      case 1: r.expect(wire, kLen, "name"); n.name = std::string(r.len_delimited()); break;
      case 2: r.expect(wire, kLen, "precompiled_charsmap"); n.charsmap_bytes = r.len_delimited().size(); break;
      case 3: r.expect(wire, kVarint, "add_dummy_prefix"); n.add_dummy_prefix = r.boolean(); break;
      case 4: r.expect(wire, kVarint, "remove_extra_whitespaces"); n.remove_extra_whitespaces = r.boolean(); break;
      case 5: r.expect(wire, kVarint, "escape_whitespaces"); n.escape_whitespaces = r.boolean(); break;
      default: r.skip(wire);
    }
  }
  return n;
}

}  // namespace

SpmVocab parse_spm_model(std::string_view bytes, std::string_view source) {
  const std::string ctx(source);
  WireReader r(bytes, ctx);
  SpmVocabSpec spec;
  TrainerSpec trainer;
  NormalizerSpec normalizer;
  bool has_trainer = false;
  bool has_normalizer = false;
  std::size_t denormalizer_charsmap = 0;
  while (!r.done()) {
    const auto [field, wire] = r.tag();
    switch (field) {
      case 1:
        r.expect(wire, kLen, "pieces");
        parse_piece(r.len_delimited(), ctx + " piece " + std::to_string(spec.pieces.size()), spec);
        break;
      case 2:
        r.expect(wire, kLen, "trainer_spec");
        trainer = parse_trainer(r.len_delimited(), ctx + " trainer_spec");
        has_trainer = true;
        break;
      case 3:
        r.expect(wire, kLen, "normalizer_spec");
        normalizer = parse_normalizer(r.len_delimited(), ctx + " normalizer_spec");
        has_normalizer = true;
        break;
      case 5:
        r.expect(wire, kLen, "denormalizer_spec");
        denormalizer_charsmap = parse_normalizer(r.len_delimited(), ctx + " denormalizer_spec").charsmap_bytes;
        break;
      default:
        r.skip(wire);
    }
  }

  const std::string where = "SentencePiece model " + ctx + ": ";
  if (spec.pieces.empty()) throw TokenizerError(where + "no pieces; is this a SentencePiece .model file?");
  if (!has_trainer || trainer.model_type != 2) {
    throw TokenizerError(where + "model_type is " +
                         (has_trainer ? std::to_string(trainer.model_type) : std::string("absent")) +
                         ", but only BPE (2) is implemented; train with --model_type=bpe");
  }
  if (!has_normalizer) throw TokenizerError(where + "normalizer_spec is missing");
  if (normalizer.charsmap_bytes != 0) {
    throw TokenizerError(where + "normalizer '" + normalizer.name +
                         "' rewrites characters, but only the identity normaliser is "
                         "implemented; train with --normalization_rule_name=identity");
  }
  if (denormalizer_charsmap != 0) {
    throw TokenizerError(where + "has a denormalizer rule, which is not implemented");
  }
  if (normalizer.remove_extra_whitespaces) {
    throw TokenizerError(where + "remove_extra_whitespaces is on, which is not implemented; "
                         "train with --remove_extra_whitespaces=false");
  }
  if (!normalizer.escape_whitespaces || trainer.treat_whitespace_as_suffix) {
    throw TokenizerError(where + "whitespace must be escaped as a prefix U+2581 "
                         "(escape_whitespaces=true, treat_whitespace_as_suffix=false)");
  }
  spec.unk_id = trainer.unk_id;
  spec.bos_id = trainer.bos_id;
  spec.eos_id = trainer.eos_id;
  spec.pad_id = trainer.pad_id;
  spec.byte_fallback = trainer.byte_fallback;
  spec.add_dummy_prefix = normalizer.add_dummy_prefix;
  spec.add_bos = true;
  spec.add_eos = false;
  try {
    return SpmVocab(std::move(spec));
  } catch (const TokenizerError& e) {
    throw TokenizerError(where + e.what());
  }
}

SpmVocab load_spm_model(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw TokenizerError("cannot open SentencePiece model '" + path.string() +
                         "': " + std::strerror(errno));
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  constexpr std::streamoff kMaxBytes = std::streamoff{1} << 30;
  if (size < 0 || size > kMaxBytes) {
    throw TokenizerError("SentencePiece model '" + path.string() + "' is larger than 1 GiB or unreadable");
  }
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  if (!in) throw TokenizerError("cannot read SentencePiece model '" + path.string() + "'");
  return parse_spm_model(bytes, path.string());
}

}  // namespace fedlora::lora
