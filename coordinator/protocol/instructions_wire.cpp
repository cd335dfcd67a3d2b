#include "coordinator/protocol/instructions_wire.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "coordinator/protocol/errors.h"
#include "secure-agg/errors.h"

namespace fedlora::protocol {
namespace {

int to_int(std::uint64_t v, const char* field) {
  if (v > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
    throw ProtocolError(std::string("round instructions: ") + field + " is out of range");
  return static_cast<int>(v);
}

const char* optimizer_name(LocalOptimizerKind k) { return k == LocalOptimizerKind::kSgd ? "sgd" : "adam"; }

}  // namespace

v1::RoundInstructions to_proto(const RoundInstructions& in) {
  in.validate();
  v1::RoundInstructions p;
  p.set_round(in.round);
  p.set_base_model_sha256(in.base_model_sha256.data(), in.base_model_sha256.size());
  auto* a = p.mutable_adapter();
  a->set_rank(static_cast<std::uint32_t>(in.adapter.rank));
  a->set_alpha(in.adapter.alpha);
  for (auto m : in.adapter.target_modules) {
    std::string name(lora::peft_module_name(m));
    a->add_target_modules(name.substr(0, name.find("_proj")));
  }
  a->set_dimension(static_cast<std::uint64_t>(in.adapter.dimension));
  a->set_freeze_a(in.adapter.freeze_a);
  a->set_b_dimension(static_cast<std::uint64_t>(in.adapter.b_dimension));
  auto* t = p.mutable_train();
  t->set_epochs(static_cast<std::uint32_t>(in.train.epochs));
  t->set_batch_size(static_cast<std::uint32_t>(in.train.batch_size));
  t->set_lr(in.train.lr);
  t->set_optimizer(optimizer_name(in.train.optimizer));
  t->set_max_steps(static_cast<std::uint32_t>(in.train.max_steps));
  t->set_fedprox_mu(in.train.fedprox_mu);
  t->set_shuffle_seed(in.train.shuffle_seed);
  auto* w = p.mutable_weighting();
  w->set_by_examples(in.weighting.kind == Weighting::kExampleCount);
  w->set_max_weight(in.weighting.max_weight);
  w->set_kind(std::string(to_string(in.weighting.kind)));
  w->set_weight_cap_examples(in.weighting.weight_cap_examples);
  if (in.dp_sgd) {
    auto* d = p.mutable_dp_sgd();
    d->set_noise_multiplier(in.dp_sgd->noise_multiplier);
    d->set_l2_norm_clip(in.dp_sgd->l2_norm_clip);
    d->set_sampling_rate(in.dp_sgd->sampling_rate);
    d->set_steps(static_cast<std::uint32_t>(in.dp_sgd->steps));
    d->set_per_example_loss(in.dp_sgd->per_example_loss);
  }
  if (in.user_dp) {
    auto* u = p.mutable_user_dp();
    const auto& c = in.user_dp->update;
    u->set_l2_norm_clip(c.l2_norm_clip);
    u->set_noise_multiplier(c.noise_multiplier);
    u->set_distributed(c.mode == privacy::NoiseMode::kDistributed);
    u->set_noise_contributors(c.min_contributors);
    u->set_expected_cohort(c.expected_cohort);
    u->set_report_clip_indicator(in.user_dp->report_clip_indicator);
    u->set_clip_indicator_noise_stddev(in.user_dp->clip_indicator_noise_stddev);
    u->set_max_corrupt_clients(c.max_corrupt_clients);
    u->set_min_survivors(c.min_survivors);
  }
  if (in.secagg) {
    auto* s = p.mutable_secagg();
    *s->mutable_config() = in.secagg->config->to_proto();
    s->set_logical_id(in.secagg->logical_id);
    auto* f = s->mutable_fixed_point();
    const auto& fp = in.secagg->fixed_point;
    f->set_clip(fp.clip);
    f->set_bits(fp.bits);
    f->set_max_contributors(fp.max_contributors);
    f->set_word_bits(fp.word_bits);
    f->set_weight_clip(fp.weight_clip.value_or(0.0));
  }
  p.mutable_deadlines()->set_train_ms(in.deadlines.train_ms);
  p.mutable_deadlines()->set_secagg_stage_ms(in.deadlines.secagg_stage_ms);
  return p;
}

RoundInstructions from_proto(const v1::RoundInstructions& p) {
  RoundInstructions in;
  in.round = p.round();
  if (p.base_model_sha256().size() != in.base_model_sha256.size())
    throw ProtocolError("round instructions: base_model_sha256 must be 32 bytes");
  std::copy(p.base_model_sha256().begin(), p.base_model_sha256().end(), in.base_model_sha256.begin());
  if (!p.has_adapter() || !p.has_train() || !p.has_weighting() || !p.has_deadlines())
    throw ProtocolError("round instructions: adapter, train, weighting and deadlines are required");
  in.adapter.rank = to_int(p.adapter().rank(), "adapter.rank");
  in.adapter.alpha = p.adapter().alpha();
  if (p.adapter().target_modules_size() > 7) throw ProtocolError("round instructions: more than 7 target modules");
  for (const auto& name : p.adapter().target_modules()) {
    try {
      in.adapter.target_modules.push_back(lora::parse_target_module(name));
    } catch (const std::invalid_argument&) {
      throw ProtocolError("round instructions: unknown target module \"" + name.substr(0, 32) + "\"");
    }
  }
  if (p.adapter().dimension() > (std::uint64_t{1} << 28)) throw ProtocolError("round instructions: adapter.dimension too large");
  in.adapter.dimension = static_cast<std::int64_t>(p.adapter().dimension());
  if (p.adapter().b_dimension() > (std::uint64_t{1} << 28)) throw ProtocolError("round instructions: adapter.b_dimension too large");
  in.adapter.freeze_a = p.adapter().freeze_a();
  in.adapter.b_dimension = static_cast<std::int64_t>(p.adapter().b_dimension());

  const auto& t = p.train();
  in.train.epochs = to_int(t.epochs(), "train.epochs");
  in.train.batch_size = to_int(t.batch_size(), "train.batch_size");
  in.train.lr = t.lr();
  if (t.optimizer() == "sgd") in.train.optimizer = LocalOptimizerKind::kSgd;
  else if (t.optimizer() == "adam") in.train.optimizer = LocalOptimizerKind::kAdam;
  else throw ProtocolError("round instructions: train.optimizer must be sgd or adam");
  in.train.max_steps = to_int(t.max_steps(), "train.max_steps");
  in.train.fedprox_mu = t.fedprox_mu();
  in.train.shuffle_seed = t.shuffle_seed();

  const auto& w = p.weighting();
  in.weighting.kind = parse_weighting(w.kind());
  if (w.by_examples() != (in.weighting.kind == Weighting::kExampleCount))
    throw ProtocolError("round instructions: weighting.by_examples contradicts weighting.kind");
  in.weighting.max_weight = w.max_weight();
  in.weighting.weight_cap_examples = w.weight_cap_examples();

  if (p.has_dp_sgd()) {
    const auto& d = p.dp_sgd();
    in.dp_sgd = DpSgdInstructions{d.noise_multiplier(), d.l2_norm_clip(), d.sampling_rate(),
                                  to_int(d.steps(), "dp_sgd.steps"), d.per_example_loss()};
  }
  if (p.has_user_dp()) {
    const auto& u = p.user_dp();
    UserDpInstructions ud;
    ud.update.l2_norm_clip = u.l2_norm_clip();
    ud.update.noise_multiplier = u.noise_multiplier();
    ud.update.mode = u.distributed() ? privacy::NoiseMode::kDistributed : privacy::NoiseMode::kCentral;
    ud.update.min_contributors = u.noise_contributors();
    ud.update.expected_cohort = u.expected_cohort();
    ud.report_clip_indicator = u.report_clip_indicator();
    ud.clip_indicator_noise_stddev = u.clip_indicator_noise_stddev();
    ud.update.max_corrupt_clients = u.max_corrupt_clients();
    ud.update.min_survivors = u.min_survivors();
    in.user_dp = ud;
  }
  if (p.has_secagg()) {
    const auto& s = p.secagg();
    if (!s.has_config() || !s.has_fixed_point()) throw ProtocolError("round instructions: secagg needs config and fixed_point");
    SecAggInstructions si;
    try {
      si.config = std::make_shared<const secagg::RoundConfig>(secagg::RoundConfig::from_proto(s.config()));
    } catch (const secagg::SecAggError& e) {
      throw ProtocolError(std::string("round instructions: ") + e.what());
    }
    si.logical_id = s.logical_id();
    const auto& f = s.fixed_point();
    si.fixed_point.clip = f.clip();
    si.fixed_point.bits = f.bits();
    si.fixed_point.max_contributors = f.max_contributors();
    si.fixed_point.word_bits = f.word_bits();
    if (f.weight_clip() != 0.0) si.fixed_point.weight_clip = f.weight_clip();
    in.secagg = std::move(si);
  }
  in.deadlines.train_ms = p.deadlines().train_ms();
  in.deadlines.secagg_stage_ms = p.deadlines().secagg_stage_ms();
  in.validate();
  return in;
}

}  // namespace fedlora::protocol
