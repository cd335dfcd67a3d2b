#include "lora/model/dense_model.h"

#include <cmath>

#include "lora/model/gguf_names.h"

namespace fedlora::lora {

DenseModel::DenseModel(const LlamaConfig& cfg, uint64_t seed) : cfg_(cfg) {
  cfg_.validate();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto normal = [&](std::vector<int64_t> shape, double std) {
    return at::normal(0.0, std, shape, gen, at::TensorOptions().dtype(at::kFloat)).set_requires_grad(true);
  };
  const double std = 0.02, out_std = 0.02 / std::sqrt(2.0 * static_cast<double>(cfg_.n_layers));
  tok_embd_ = normal({cfg_.vocab_size, cfg_.dim}, std);
  if (!cfg_.tied_embeddings) output_ = normal({cfg_.vocab_size, cfg_.dim}, std);
  output_norm_ = at::ones({cfg_.dim}).set_requires_grad(true);
  for (int l = 0; l < cfg_.n_layers; ++l) {
    attn_norm_.push_back(at::ones({cfg_.dim}).set_requires_grad(true));
    ffn_norm_.push_back(at::ones({cfg_.dim}).set_requires_grad(true));
    std::vector<at::Tensor> p;
    for (TargetModule m : kAllTargetModules) {
      auto s = cfg_.projection(m);
      const bool residual_out = (m == TargetModule::o || m == TargetModule::down);
      p.push_back(normal({s.out_features, s.in_features}, residual_out ? out_std : std));
    }
    proj_.push_back(std::move(p));
  }
}

at::Tensor DenseModel::embed(const at::Tensor& tokens) { return at::embedding(tok_embd_, tokens); }

at::Tensor DenseModel::project(int layer, TargetModule m, const at::Tensor& x) {
  return at::matmul(x, proj_[layer][static_cast<size_t>(m)].t());
}

at::Tensor DenseModel::lm_head(const at::Tensor& x) {
  return at::matmul(x, (cfg_.tied_embeddings ? tok_embd_ : output_).t());
}

std::vector<at::Tensor> DenseModel::decayed_parameters() const {
  std::vector<at::Tensor> v{tok_embd_};
  if (output_.defined()) v.push_back(output_);
  for (const auto& layer : proj_)
    for (const auto& p : layer) v.push_back(p);
  return v;
}

std::vector<at::Tensor> DenseModel::undecayed_parameters() const {
  std::vector<at::Tensor> v{output_norm_};
  for (int l = 0; l < cfg_.n_layers; ++l) {
    v.push_back(attn_norm_[l]);
    v.push_back(ffn_norm_[l]);
  }
  return v;
}

std::vector<at::Tensor> DenseModel::layer_parameters(int layer) {
  std::vector<at::Tensor> v(proj_.at(static_cast<size_t>(layer)).begin(), proj_[static_cast<size_t>(layer)].end());
  v.push_back(attn_norm_[static_cast<size_t>(layer)]);
  v.push_back(ffn_norm_[static_cast<size_t>(layer)]);
  return v;
}

std::vector<at::Tensor> DenseModel::parameters() const {
  auto v = decayed_parameters();
  auto u = undecayed_parameters();
  v.insert(v.end(), u.begin(), u.end());
  return v;
}

std::vector<std::pair<std::string, at::Tensor>> DenseModel::named_weights() const {
  std::vector<std::pair<std::string, at::Tensor>> v;
  v.emplace_back(kTokenEmbdName, tok_embd_);
  if (output_.defined()) v.emplace_back(kOutputName, output_);
  v.emplace_back(kOutputNormName, output_norm_);
  for (int l = 0; l < cfg_.n_layers; ++l) {
    v.emplace_back(gguf_attn_norm_name(l), attn_norm_[l]);
    v.emplace_back(gguf_ffn_norm_name(l), ffn_norm_[l]);
    for (TargetModule m : kAllTargetModules) v.emplace_back(gguf_projection_name(l, m), proj_[l][static_cast<size_t>(m)]);
  }
  return v;
}

}  // namespace fedlora::lora
