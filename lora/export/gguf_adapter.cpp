#include "lora/export/gguf_adapter.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "lora/model/gguf_names.h"
#include "lora/quant/quantized_tensor.h"

namespace fedlora::lora {

void write_gguf_lora_adapter(const std::filesystem::path& out, const AdapterLayout& layout, std::span<const float> flat,
                             const gguf::GgufFile& base, GgmlType type) {
  if (type != GgmlType::F32 && type != GgmlType::F16)
    throw std::invalid_argument("GGUF LoRA adapter: tensor type must be f32 or f16");
  layout.check_size(flat);
  gguf::GgufWriter w;
  w.set("general.architecture", base.find_string("general.architecture").value_or("llama"));
  w.set("general.type", std::string("adapter"));
  w.set("general.name", base.find_string("general.name").value_or("fedlora") + " LoRA");
  w.set("adapter.type", std::string("lora"));
  w.set("adapter.lora.alpha", layout.alpha());
  for (const auto& t : layout.tensors()) {
    const std::string target = gguf_projection_name(t.layer, t.module);
    const gguf::TensorInfo* b = base.find_tensor(target);
    // ggml ne of the base weight: [in, out].
    const int64_t in = t.is_b ? -1 : t.cols, out_features = t.is_b ? t.rows : -1;
    if (!b || b->dims.size() != 2 || (in >= 0 && static_cast<int64_t>(b->dims[0]) != in) ||
        (out_features >= 0 && static_cast<int64_t>(b->dims[1]) != out_features))
      throw AdapterError("GGUF LoRA adapter: the base has no tensor " + target + " of the adapter's shape (" +
                         t.name + " is [" + std::to_string(t.rows) + ", " + std::to_string(t.cols) + "])");
    const float* src = flat.data() + t.offset;
    for (int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(src[i])) throw std::invalid_argument("GGUF LoRA adapter: " + t.name + " holds NaN or Inf");
    auto q = QuantizedTensor::quantize(src, t.rows, t.cols, type);
    // Row-major [rows, cols] is ggml ne = [cols, rows]: lora_a [r, in] -> ne [in, r], lora_b [out, r] -> ne [r, out].
    w.add_tensor(target + (t.is_b ? ".lora_b" : ".lora_a"), type,
                 {static_cast<uint64_t>(t.cols), static_cast<uint64_t>(t.rows)},
                 std::vector<std::byte>(q.bytes().begin(), q.bytes().end()));
  }
  w.write(out);
}

}  // namespace fedlora::lora
