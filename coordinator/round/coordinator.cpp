#include "coordinator/round/coordinator.h"

#include <cstring>

#include "coordinator/strategy/errors.h"
#include "coordinator/strategy/update_aggregate.h"
#include "lora/adapter/adapter_io.h"
#include "lora/format/safetensors.h"

namespace fedlora::coordinator {
namespace fs = std::filesystem;

Coordinator::Coordinator(lora::AdapterLayout layout, Eigen::VectorXf theta0, std::unique_ptr<Strategy> strategy,
                         CoordinatorOptions options)
    : layout_(std::move(layout)), strategy_(std::move(strategy)), options_(std::move(options)) {
  layout_.check_size(std::span<const float>(theta0.data(), static_cast<size_t>(theta0.size())));
  theta_ = std::make_shared<const Eigen::VectorXf>(std::move(theta0));
}

RoundTask Coordinator::open_round(std::span<const std::uint64_t> available,
                                         const std::unordered_set<std::uint64_t>& ineligible) {
  if (open_) throw RoundStateError("open_round: round " + std::to_string(open_->round) + " is still open");
  FitPlan plan = strategy_->configure_fit(next_round_, available, ineligible);
  open_ = RoundTask{next_round_, std::move(plan.cohort), theta_, plan.client_config};
  return *open_;
}

RoundRecord Coordinator::close_round(const UpdateAggregate& aggregate) {
  if (!open_) throw RoundStateError("close_round: no round is open");
  RoundRecord rec;
  rec.round = open_->round;
  rec.cohort_size = static_cast<int>(open_->cohort.size());
  // θ is shared with devices of the round as a snapshot; update a copy, then swap it in.
  Eigen::VectorXf next = *theta_;
  try {
    rec.outcome = strategy_->aggregate_fit(rec.round, aggregate, next);
  } catch (const InvalidAggregateError& e) {
    open_.reset();
    ++next_round_;
    rec.aborted = true;
    rec.abort_reason = e.what();
    return rec;
  }
  theta_ = std::make_shared<const Eigen::VectorXf>(std::move(next));
  open_.reset();
  ++next_round_;
  if (!options_.checkpoint_dir.empty()) write_checkpoint(options_.checkpoint_dir);
  return rec;
}

RoundRecord Coordinator::abort_round(const std::string& reason) {
  if (!open_) throw RoundStateError("abort_round: no round is open");
  RoundRecord rec;
  rec.round = open_->round;
  rec.cohort_size = static_cast<int>(open_->cohort.size());
  rec.aborted = true;
  rec.abort_reason = reason;
  open_.reset();
  ++next_round_;
  return rec;
}

void Coordinator::write_checkpoint(const fs::path& dir) const {
  const std::uint64_t completed = next_round_ - 1;
  lora::save_adapter(dir, layout_, std::span<const float>(theta_->data(), static_cast<size_t>(theta_->size())),
                     options_.base_model_name,
                     // θ as the decoder holds it: q/k rows in the base's GGUF order (lora/export/adapter_for_base.h).
                     {{"fedlora.round", std::to_string(completed)}, {"fedlora.qk_row_order", "gguf"}});
  const OptimizerState st = strategy_->state();
  lora::safetensors::SafetensorsWriter w;
  w.set_metadata("fedlora.round", std::to_string(completed));
  w.set_metadata("fedlora.optimizer", st.optimizer);
  for (const auto& [k, v] : st.scalars) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    w.set_metadata("scalar." + k, buf);
  }
  for (const auto& [k, v] : st.vectors)
    w.add_tensor(k, lora::safetensors::Dtype::F32, {static_cast<uint64_t>(v.size())},
                 std::as_bytes(std::span<const float>(v.data(), static_cast<size_t>(v.size()))));
  w.write(dir / "server_state.safetensors");
}

void Coordinator::restore_checkpoint(const fs::path& dir) {
  if (open_) throw RoundStateError("restore_checkpoint: a round is open");
  auto flat = lora::read_adapter_weights(dir, layout_);
  auto file = lora::safetensors::SafetensorsFile::open(dir / "server_state.safetensors");
  const auto& md = file.metadata();
  auto need = [&](const std::string& k) {
    auto it = md.find(k);
    if (it == md.end()) throw OptimizerStateError((dir / "server_state.safetensors").string() + ": missing " + k);
    return it->second;
  };
  // Metadata values are strings: parse them strictly, naming the key on failure.
  auto number = [&](const std::string& key, const std::string& text, bool integer) -> double {
    std::size_t used = 0;
    double v = 0;
    try {
      v = integer ? static_cast<double>(std::stoull(text, &used)) : std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() || (integer && text.find('-') != std::string::npos))
      throw OptimizerStateError((dir / "server_state.safetensors").string() + ": " + key + " = '" + text +
                                "' is not a valid " + (integer ? "round number" : "number"));
    return v;
  };
  OptimizerState st;
  st.optimizer = need("fedlora.optimizer");
  const std::string round_text = need("fedlora.round");
  const auto round = static_cast<std::uint64_t>(number("fedlora.round", round_text, true));
  for (const auto& [k, v] : md)
    if (k.rfind("scalar.", 0) == 0) st.scalars[k.substr(7)] = number(k, v, false);
  for (const auto& info : file.tensors()) {
    if (info.dtype != lora::safetensors::Dtype::F32 || info.shape.size() != 1)
      throw OptimizerStateError("server state tensor " + info.name + " must be a 1-D F32 vector");
    Eigen::VectorXf v(static_cast<Eigen::Index>(info.shape[0]));
    auto bytes = file.tensor_bytes(info);
    std::memcpy(v.data(), bytes.data(), bytes.size());
    st.vectors[info.name] = std::move(v);
  }
  strategy_->restore(st);
  theta_ = std::make_shared<const Eigen::VectorXf>(Eigen::Map<const Eigen::VectorXf>(flat.data(), static_cast<Eigen::Index>(flat.size())));
  next_round_ = round + 1;
}

}  // namespace fedlora::coordinator
