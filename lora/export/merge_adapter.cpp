#include "lora/export/merge_adapter.h"

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "lora/model/gguf_names.h"
#include "lora/quant/quantized_tensor.h"

namespace fedlora::lora {
namespace {

// W[out, in] += scale · B[out, r] · A[r, in], row by row so a 1B-class projection stays cheap.
void add_lora_delta(std::vector<float>& w, const float* a, const float* b, int64_t out, int64_t in, int64_t r,
                    float scale) {
  for (int64_t o = 0; o < out; ++o) {
    float* row = w.data() + o * in;
    for (int64_t k = 0; k < r; ++k) {
      const float s = scale * b[o * r + k];
      const float* ak = a + k * in;
      for (int64_t i = 0; i < in; ++i) row[i] += s * ak[i];
    }
  }
}

}  // namespace

MergeReport merge_adapter_into_base(const std::filesystem::path& base_path, const BoundAdapter& adapter,
                                    const std::filesystem::path& out, GgmlType type) {
  if (type != GgmlType::F32 && type != GgmlType::F16 && type != GgmlType::Q8_0 && type != GgmlType::Q4_0)
    throw std::invalid_argument("merge: output type must be f32, f16, q8_0 or q4_0");
  const uint32_t file_type = llama_file_type(type);
  auto base = gguf::GgufFile::open(base_path);
  const auto& layout = adapter.layout;
  layout.check_size(adapter.flat);
  std::map<std::string, std::pair<int, TargetModule>> targeted;
  for (int l = 0; l < layout.n_layers(); ++l)
    for (auto m : layout.targets()) targeted[gguf_projection_name(l, m)] = {l, m};

  gguf::GgufWriter w;
  for (const auto& kv : base.metadata())
    if (kv.key != "general.alignment") w.set(kv.key, kv.value);
  w.set("general.file_type", file_type);
  w.set("general.name", base.find_string("general.name").value_or("fedlora") + " + LoRA");

  MergeReport rep;
  for (const auto& t : base.tensors()) {
    const auto bytes = base.tensor_bytes(t);
    if (t.dims.size() == 1) {  // norms: kept exactly
      w.add_tensor(t.name, t.type, t.dims, bytes);
      continue;
    }
    if (t.dims.size() != 2) throw std::invalid_argument("merge: tensor " + t.name + " is not 1-D or 2-D");
    const int64_t cols = static_cast<int64_t>(t.dims[0]), rows = static_cast<int64_t>(t.dims[1]);
    auto src = QuantizedTensor::view(t.type, rows, cols, bytes, nullptr);  // base outlives src
    std::vector<float> f(static_cast<size_t>(rows * cols));
    src.dequantize_rows(0, rows, f.data());
    if (auto it = targeted.find(t.name); it != targeted.end()) {
      const auto [layer, m] = it->second;
      const auto& A = layout.tensors()[layout.index_of(layer, m, false)];
      const auto& B = layout.tensors()[layout.index_of(layer, m, true)];
      if (A.cols != cols || B.rows != rows)
        throw AdapterError("merge: " + t.name + " is [" + std::to_string(rows) + ", " + std::to_string(cols) +
                           "] but the adapter's " + B.name + " · " + A.name + " is [" + std::to_string(B.rows) +
                           ", " + std::to_string(A.cols) + "]");
      add_lora_delta(f, adapter.flat.data() + A.offset, adapter.flat.data() + B.offset, rows, cols, layout.rank(),
                     layout.scale());
      ++rep.merged_tensors;
      targeted.erase(it);
    }
    auto q = QuantizedTensor::quantize(f.data(), rows, cols, type);
    w.add_tensor(t.name, type, t.dims, std::vector<std::byte>(q.bytes().begin(), q.bytes().end()));
  }
  if (!targeted.empty())
    throw AdapterError("merge: the base has no tensor " + targeted.begin()->first + " for the adapter");
  w.write(out);
  rep.file_bytes = std::filesystem::file_size(out);
  return rep;
}

}  // namespace fedlora::lora
