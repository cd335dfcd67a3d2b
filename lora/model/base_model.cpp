#include "lora/model/base_model.h"

#include <map>

#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "lora/model/gguf_names.h"

namespace fedlora::lora {
namespace {


QuantizedTensor encode(const at::Tensor& w, GgmlType type) {
  auto c = w.detach().to(at::kFloat).contiguous();
  return QuantizedTensor::quantize(c.data_ptr<float>(), c.size(0), c.size(1), type);
}

at::Tensor to_float_tensor(const QuantizedTensor& q) {
  auto t = at::empty({q.rows(), q.cols()}, at::kFloat);
  q.dequantize_rows(0, q.rows(), t.data_ptr<float>());
  return t;
}

}  // namespace

size_t BaseModel::resident_bytes() const {
  auto qbytes = [](const QuantizedTensor& q) { return q.bytes().size(); };
  size_t n = qbytes(embedding()) + static_cast<size_t>(output_norm.numel()) * 4;
  if (!output.empty()) n += qbytes(output.front());
  for (const auto& b : blocks) {
    n += static_cast<size_t>(b.attn_norm.numel() + b.ffn_norm.numel()) * 4;
    for (const auto& p : b.proj) n += qbytes(p);
  }
  return n;
}

void write_llama_weights(gguf::GgufWriter& w, const std::vector<std::pair<std::string, at::Tensor>>& weights,
                         GgmlType weight_type) {
  for (const auto& [name, t] : weights) {
    if (t.dim() == 1) {
      auto c = t.detach().to(at::kFloat).contiguous();
      auto q = QuantizedTensor::quantize(c.data_ptr<float>(), 1, c.size(0), GgmlType::F32);
      w.add_tensor(name, GgmlType::F32, {static_cast<uint64_t>(c.size(0))},
                   std::vector<std::byte>(q.bytes().begin(), q.bytes().end()));
    } else if (t.dim() == 2) {
      auto q = encode(t, weight_type);
      w.add_tensor(name, weight_type, {static_cast<uint64_t>(t.size(1)), static_cast<uint64_t>(t.size(0))},
                   std::vector<std::byte>(q.bytes().begin(), q.bytes().end()));
    } else {
      throw ModelConfigError("weight " + name + " has " + std::to_string(t.dim()) + " dims; expected 1 or 2");
    }
  }
}

std::shared_ptr<const BaseModel> load_base_model(const std::filesystem::path& path, std::optional<GgmlType> quantize_to) {
  auto file = std::make_shared<gguf::GgufFile>(gguf::GgufFile::open(path));
  const LlamaConfig cfg = read_llama_config(*file);
  auto model = std::make_shared<BaseModel>();
  model->config = cfg;
  model->keep_alive = file;

  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) {
    const auto* info = file->find_tensor(name);
    if (!info) throw gguf::FormatError(file->source() + ": missing tensor " + name);
    if (info->dims.size() != 2 || static_cast<int64_t>(info->dims[0]) != cols ||
        static_cast<int64_t>(info->dims[1]) != rows)
      throw gguf::FormatError(file->source() + ": tensor " + name + " should have GGUF dims [" + std::to_string(cols) +
                              ", " + std::to_string(rows) + "]");
    auto stored = QuantizedTensor::view(info->type, rows, cols, file->tensor_bytes(*info), file);
    if (!quantize_to || *quantize_to == info->type) return stored;
    auto f = to_float_tensor(stored);
    return QuantizedTensor::quantize(f.data_ptr<float>(), rows, cols, *quantize_to);
  };
  auto norm = [&](const std::string& name) {
    const auto* info = file->find_tensor(name);
    if (!info) throw gguf::FormatError(file->source() + ": missing tensor " + name);
    if (info->dims.size() != 1 || static_cast<int64_t>(info->dims[0]) != cfg.dim)
      throw gguf::FormatError(file->source() + ": tensor " + name + " should have dims [" + std::to_string(cfg.dim) + "]");
    auto q = QuantizedTensor::view(info->type, 1, cfg.dim, file->tensor_bytes(*info), file);
    return to_float_tensor(q).view({cfg.dim});
  };

  model->token_embd.push_back(matrix(kTokenEmbdName, cfg.vocab_size, cfg.dim));
  if (!cfg.tied_embeddings) model->output.push_back(matrix(kOutputName, cfg.vocab_size, cfg.dim));
  model->output_norm = norm(kOutputNormName);
  for (int l = 0; l < cfg.n_layers; ++l) {
    BaseBlock b;
    b.attn_norm = norm(gguf_attn_norm_name(l));
    b.ffn_norm = norm(gguf_ffn_norm_name(l));
    for (TargetModule m : kAllTargetModules) {
      auto s = cfg.projection(m);
      b.proj.push_back(matrix(gguf_projection_name(l, m), s.out_features, s.in_features));
    }
    model->blocks.push_back(std::move(b));
  }
  return model;
}

std::shared_ptr<const BaseModel> make_base_model(const LlamaConfig& cfg,
                                                 const std::vector<std::pair<std::string, at::Tensor>>& weights,
                                                 GgmlType type) {
  cfg.validate();
  std::map<std::string, at::Tensor> by_name(weights.begin(), weights.end());
  auto get = [&](const std::string& name, std::vector<int64_t> shape) {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw ModelConfigError("make_base_model: missing weight " + name);
    if (it->second.sizes().vec() != shape) throw ModelConfigError("make_base_model: weight " + name + " has wrong shape");
    return it->second.detach().to(at::kFloat).contiguous();
  };
  auto model = std::make_shared<BaseModel>();
  model->config = cfg;
  model->token_embd.push_back(encode(get(kTokenEmbdName, {cfg.vocab_size, cfg.dim}), type));
  if (!cfg.tied_embeddings) model->output.push_back(encode(get(kOutputName, {cfg.vocab_size, cfg.dim}), type));
  model->output_norm = get(kOutputNormName, {cfg.dim}).clone();
  for (int l = 0; l < cfg.n_layers; ++l) {
    BaseBlock b;
    b.attn_norm = get(gguf_attn_norm_name(l), {cfg.dim}).clone();
    b.ffn_norm = get(gguf_ffn_norm_name(l), {cfg.dim}).clone();
    for (TargetModule m : kAllTargetModules) {
      auto s = cfg.projection(m);
      b.proj.push_back(encode(get(gguf_projection_name(l, m), {s.out_features, s.in_features}), type));
    }
    model->blocks.push_back(std::move(b));
  }
  return model;
}

}  // namespace fedlora::lora
