#include "client/train/private_round.h"

#include <stdexcept>

#include "client/train/dp_sgd.h"
#include "lora/model/lora_model.h"

namespace fedlora::client {

double epsilon_spent(const PrivateRoundResult& result) {
  return std::visit([](const auto& r) { return r.epsilon_spent(); }, result);
}

PrivateRoundResult train_local_private(privacy::PrivacyLedger& ledger, const DevicePrivacy& device,
                                       std::shared_ptr<const lora::BaseModel> base,
                                       const lora::AdapterLayout& layout, std::span<const float> global,
                                       const std::vector<lora::TokenSeq>& examples,
                                       const LocalTrainConfig& config) {
  if (!config.dp) throw std::invalid_argument("train_local_private: LocalTrainConfig::dp must be set");
  config.validate();
  if (device.device_id.empty()) throw std::invalid_argument("train_local_private: empty device id");
  if (examples.empty()) throw std::invalid_argument("train_local_private: the user has no training examples");
  layout.check_size(global);
  // Catch a layout built for another base before spending, not after (LoraModel would throw).
  if (!(lora::make_adapter_layout(base->config, layout.rank(), layout.alpha(), layout.targets()) == layout))
    throw lora::AdapterError("train_local_private: the adapter layout does not match the base model's shapes");
  const DpSgdPlan plan = plan_dp_sgd(*config.dp, config.epochs, config.batch_size, config.max_steps,
                                     static_cast<int64_t>(examples.size()));

  ledger.ensure_device(device.device_id, device.budget);
  const auto decision = ledger.spend(device.device_id, plan.steps, plan.sampling_rate, plan.noise_multiplier);
  if (!decision.accepted()) return PrivateRoundRefused{plan, decision};

  // Spent and durable: only now is the data touched.
  PrivateRoundTrained out{train_local_dp_sgd(std::move(base), layout, global, examples, config), decision};
  return out;
}

}  // namespace fedlora::client
