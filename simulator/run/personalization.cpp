#include "simulator/run/personalization.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "coordinator/protocol/seeds.h"

namespace fedlora::sim {
using nlohmann::json;

namespace {

constexpr std::uint64_t kPersonalizeTag = 0x9E25;  // seed path: (run seed, tag, device)

double quantile_of_sorted(const std::vector<double>& x, double p) {
  const double h = p * static_cast<double>(x.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, x.size() - 1);
  return x[lo] + (h - static_cast<double>(lo)) * (x[hi] - x[lo]);
}

json quartiles_json(const Quartiles& q) { return json{{"q25", q.q25}, {"median", q.median}, {"q75", q.q75}}; }

json metrics_json(const client::EvalMetrics& m) {
  return json{{"accuracy", m.accuracy()}, {"loss", m.loss()}, {"tokens", m.n_targets}};
}

}  // namespace

Quartiles quartiles(std::vector<double> values) {
  if (values.empty()) throw std::invalid_argument("quartiles: no values");
  for (double v : values)
    if (std::isnan(v)) throw std::invalid_argument("quartiles: a value is NaN");
  std::sort(values.begin(), values.end());
  return Quartiles{quantile_of_sorted(values, 0.25), quantile_of_sorted(values, 0.5), quantile_of_sorted(values, 0.75)};
}

PersonalizationReport personalize(WorkerPool& pool, const std::shared_ptr<const lora::BaseModel>& base,
                                  const lora::AdapterLayout& layout, std::span<const float> theta, const Fleet& fleet,
                                  client::LocalTrainConfig train, int steps, std::uint64_t seed) {
  if (steps < 1) throw std::invalid_argument("personalize: steps must be >= 1");
  const auto& users = fleet.eval_devices;
  if (users.empty()) throw std::invalid_argument("personalize: the fleet has no evaluation users");
  train.dp.reset();
  train.max_steps = steps;
  train.validate();
  layout.check_size(theta);
  const auto t0 = std::chrono::steady_clock::now();

  PersonalizationReport rep;
  rep.steps = steps;
  rep.users.resize(users.size());
  std::vector<std::size_t> order(users.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {  // longest first
    return fleet.meta(users[a]).train_examples > fleet.meta(users[b]).train_examples;
  });
  pool.run(order, [&](std::size_t i, int) {
    const auto held = fleet.examples(users[i]);
    const auto& dev = *held;
    auto& u = rep.users[i];
    u.device = users[i];
    u.user_id = dev.user_id;
    u.train_examples = static_cast<std::int64_t>(dev.train.size());
    u.before = client::evaluate_adapter(base, layout, theta, dev.test, 16);
    if (dev.train.empty()) {
      u.after = u.before;  // nothing to adapt on
      return;
    }
    client::LocalTrainConfig c = train;
    // Enough passes for exactly `steps` batches on a small user; max_steps stops the rest.
    const auto batches = static_cast<int>((dev.train.size() + static_cast<std::size_t>(c.batch_size) - 1) /
                                          static_cast<std::size_t>(c.batch_size));
    c.epochs = std::max(c.epochs, (steps + batches - 1) / batches);
    c.seed = protocol::derive_seed(seed, {kPersonalizeTag, u.device});
    client::LocalUpdate up;
    try {
      up = client::train_local(base, layout, theta, dev.train, c);
    } catch (const client::TrainingDiverged& e) {
      throw client::TrainingDiverged("personalisation of user " + dev.user_id + ": " + e.what());
    }
    std::vector<float> own(theta.begin(), theta.end());
    for (std::size_t k = 0; k < own.size(); ++k) own[k] += up.delta[k];
    u.steps = up.steps;
    u.train_loss = up.train_loss;
    u.after = client::evaluate_adapter(base, layout, own, dev.test, 16);
  });

  // Sums and statistics in evaluation-user order: independent of which worker ran whom.
  std::vector<double> dloss, dacc;
  for (const auto& u : rep.users) {
    rep.pooled_before += u.before;
    rep.pooled_after += u.after;
    if (u.after.loss() < u.before.loss()) ++rep.improved;
    dloss.push_back(u.after.loss() - u.before.loss());
    dacc.push_back(u.after.accuracy() - u.before.accuracy());
  }
  rep.loss_change = quartiles(dloss);
  rep.accuracy_change = quartiles(dacc);
  rep.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

json personalization_json(const PersonalizationReport& r, bool per_user) {
  auto pooled = [](const client::EvalMetrics& m) {
    json j = metrics_json(m);
    j["perplexity"] = m.perplexity();
    return j;
  };
  json j{{"steps", r.steps},
         {"users", r.users.size()},
         {"improved", r.improved},
         {"loss_change", quartiles_json(r.loss_change)},
         {"accuracy_change", quartiles_json(r.accuracy_change)},
         {"pooled", {{"before", pooled(r.pooled_before)}, {"after", pooled(r.pooled_after)}}},
         {"wall_s", r.wall_s}};
  if (per_user) {
    json list = json::array();
    for (const auto& u : r.users)
      list.push_back(json{{"user", u.user_id},
                          {"device", u.device},
                          {"train_examples", u.train_examples},
                          {"steps", u.steps},
                          {"train_loss", u.train_loss},
                          {"before", metrics_json(u.before)},
                          {"after", metrics_json(u.after)}});
    j["per_user"] = std::move(list);
  }
  return j;
}

std::string personalization_line(const PersonalizationReport& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "personalisation: %d steps on %zu users, %d improved; test loss change median %+.4f [q25 %+.4f, q75 "
                "%+.4f], accuracy change median %+.4f [q25 %+.4f, q75 %+.4f]; pooled acc %.4f -> %.4f, ppl %.2f -> %.2f",
                r.steps, r.users.size(), r.improved, r.loss_change.median, r.loss_change.q25, r.loss_change.q75,
                r.accuracy_change.median, r.accuracy_change.q25, r.accuracy_change.q75, r.pooled_before.accuracy(),
                r.pooled_after.accuracy(), r.pooled_before.perplexity(), r.pooled_after.perplexity());
  return buf;
}

json run_personalization(const SimConfig& cfg, const SimSetup& setup, WorkerPool& pool, std::span<const float> theta,
                         const std::filesystem::path& run_dir, const ProgressFn& progress) {
  const int steps = cfg.federation.personalize_steps;
  const auto path = run_dir / "personalization.json";
  if (steps <= 0) {
    std::filesystem::remove(path);  // an earlier run's, under the same name
    return nullptr;
  }
  const auto rep = personalize(pool, setup.base, *setup.layout, theta, *setup.fleet, client_train_config(cfg, 0), steps,
                               cfg.run.seed);
  std::ofstream out(path);
  out << personalization_json(rep, true).dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path.string());
  if (progress) progress(personalization_line(rep));
  return personalization_json(rep, false);
}

}  // namespace fedlora::sim
