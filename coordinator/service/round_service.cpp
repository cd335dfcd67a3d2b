#include "coordinator/service/round_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "coordinator/protocol/seeds.h"
#include "coordinator/round/job_setup.h"
#include "coordinator/round/epsilon_json.h"
#include "coordinator/round/round_report_json.h"
#include "coordinator/protocol/failpoint.h"
#include "coordinator/service/token_file.h"
#include "lora/adapter/adapter_init.h"
#include "lora/format/atomic_file.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/llama_config.h"
#include "secure-agg/crypto/random.h"

namespace fedlora::coordinator {
namespace fs = std::filesystem;
using nlohmann::json;
using Code = ServiceError::Code;

namespace {

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string job_fingerprint(const ServeConfig& c) {
  json j = json::object();
  for (const auto& [k, v] : config::describe_job(c)) j[k] = v;
  j["serve.seed"] = c.serve.seed;
  return j.dump();
}

json privacy_state_json(const UserDpServer::State& s) {
  json users = json::array();
  for (const auto& u : s.participation.users) users.push_back({u.user_id, u.sum_inverse_sigma2, u.participations});
  const auto& p = s.participation;
  return json{{"rounds", s.rounds},
              {"rdp", s.rdp},
              {"clip_norm", s.clip_norm},
              {"participation",
               {{"delta", p.delta},
                {"max_participations", p.max_participations},
                {"orders", p.orders},
                {"round_inverse_sigma2", p.round_inverse_sigma2},
                {"users", users}}}};
}

// Infinite σ^-2 (central rounds) do not survive JSON numbers: they are written as null.
UserDpServer::State privacy_state_from(const std::string& text) {
  const auto j = json::parse(text);
  UserDpServer::State s;
  s.rounds = j.at("rounds").get<std::int64_t>();
  s.rdp = j.at("rdp").get<std::vector<double>>();
  s.clip_norm = j.at("clip_norm").get<double>();
  const auto& p = j.at("participation");
  auto num = [](const json& v) { return v.is_null() ? std::numeric_limits<double>::infinity() : v.get<double>(); };
  s.participation.delta = p.at("delta").get<double>();
  s.participation.max_participations = p.at("max_participations").get<std::int64_t>();
  s.participation.orders = p.at("orders").get<std::vector<double>>();
  for (const auto& v : p.at("round_inverse_sigma2")) s.participation.round_inverse_sigma2.push_back(num(v));
  for (const auto& u : p.at("users"))
    s.participation.users.push_back({u.at(0).get<std::uint64_t>(), num(u.at(1)), u.at(2).get<std::int64_t>()});
  return s;
}

}  // namespace

RoundService::RoundService(const ServeConfig& config, Clock clock)
    : config_(config),
      clock_(clock ? std::move(clock) : Clock(system_now_ms)),
      private_(config.user_dp.enabled && !config.serve.reproducible_noise),
      store_(StateStore::open(config.serve.state_dir, job_fingerprint(config))),
      checkpoints_(config.serve.state_dir) {
  config_.validate();
  // Devices: the token file's, in file order (their ids are the enrolment order), then
  // whoever the store already knows (certificate devices of earlier runs).
  if (!config_.serve.tokens_file.empty())
    for (const auto& e : read_token_file(config_.serve.tokens_file)) {
      store_.enrol(e.device, e.token_sha256);
      token_owner_[e.token_sha256] = e.device;
    }
  for (const auto& d : store_.devices()) {
    known_[d.name].id = d.id;
    name_of_[d.id] = d.name;
    if (d.identity_key.size() == 32) {
      secagg::crypto::Ed25519PublicKey k{};
      std::copy(d.identity_key.begin(), d.identity_key.end(), k.begin());
      known_[d.name].identity = k;
    }
  }

  // The base: only its metadata and hash (the coordinator never loads weights).
  const auto file = lora::gguf::GgufFile::open(config_.model.base);
  const auto model = lora::read_llama_config(file);
  base_sha256_ = protocol::sha256_of_file(config_.model.base);
  const auto layout = lora::make_adapter_layout(model, config_.lora.rank, config_.lora.alpha, config_.lora.target_modules);
  const auto seed = config_.serve.seed;
  const auto theta0 = lora::init_adapter_vector(layout, protocol::derive_seed(seed, {0xADA9}));
  const std::int64_t population = config_.serve.population > 0 ? config_.serve.population
                                                                : static_cast<std::int64_t>(known_.size());
  if (config_.user_dp.enabled && population < config_.federation.cohort_size)
    throw config::ConfigError("config: user_dp needs the population N (q = K/N): enrol the devices in "
                              "serve.tokens_file or set serve.population (now " + std::to_string(population) + ")");
  const Eigen::Index d = layout.size();
  coordinator_ = std::make_unique<Coordinator>(
      layout, Eigen::Map<const Eigen::VectorXf>(theta0.data(), d),
      std::make_unique<FedOptStrategy>(
          strategy_config_for(config_, protocol::derive_seed(seed, {0xC0407}), config_.serve.over_selection,
                              config_.user_dp.enabled ? population : 0,
                              std::make_shared<privacy::NoiseSource>(
                                  private_ ? privacy::NoiseSource::from_os_entropy()
                                           : privacy::NoiseSource::from_seed(seed, {0xC0407, privacy::noise_stream::kCohortSampling}))),
          d),
      CoordinatorOptions{{}, config_.model.base.filename().string()});
  const std::uint64_t committed = store_.committed_round();
  checkpoints_.restore(*coordinator_, committed);
  std::optional<UserDpServer> dp;
  if (config_.user_dp.enabled) {
    const auto us = user_dp_settings_for(config_, population);
    user_delta_ = us.delta;
    dp.emplace(us,
               private_ ? privacy::NoiseSource::from_os_entropy()
                        : privacy::NoiseSource::from_seed(seed, {0xC0DE, privacy::noise_stream::kCentralNoise}),
               update_dimension(config_, layout));
    if (committed > 0) {
      const auto row = store_.round(committed);
      if (!row || row->privacy_state_json.empty())
        throw StoreError("round " + std::to_string(committed) + " has no privacy state; the store is damaged");
      dp->restore(privacy_state_from(row->privacy_state_json));
    }
  }
  RoundPolicy policy;
  static_cast<config::JobConfig&>(policy.job) = config_;
  policy.base_model_sha256 = base_sha256_;
  policy.deadlines = protocol::Deadlines{static_cast<std::uint64_t>(config_.serve.train_deadline_ms),
                                         static_cast<std::uint64_t>(config_.serve.stage_deadline_ms)};
  policy.run_seed = seed;
  driver_ = std::make_unique<RoundDriver>(*coordinator_, std::move(dp), policy,
                                          std::make_unique<secagg::crypto::SystemRandom>());
  checkpoints_.prune(committed, config_.serve.keep_checkpoints);
  if (committed > 0) spdlog::info("resumed after round {} (state in {})", committed, config_.serve.state_dir.string());
  std::lock_guard g(mu_);
  commit_metrics_file_locked();
  write_progress_locked();
}

RoundService::~RoundService() = default;

std::int64_t RoundService::now() const { return clock_(); }

void RoundService::count(const std::string& event) {
  std::lock_guard g(counters_mu_);
  ++counters_[event];
}

std::map<std::string, std::uint64_t> RoundService::counters() const {
  std::lock_guard g(counters_mu_);
  return counters_;
}

std::optional<std::string> RoundService::device_for_token(std::string_view token) const {
  const auto it = token_owner_.find(token_sha256_hex(token));
  if (it == token_owner_.end()) return std::nullopt;
  return it->second;
}

void RoundService::enrol_certificate_device(const std::string& name) {
  std::lock_guard g(mu_);
  if (known_.contains(name)) return;
  const auto d = store_.enrol(name);
  known_[name].id = d.id;
  name_of_[d.id] = name;
  spdlog::info("enrolled device {} (certificate) as id {}", name, d.id);
}

bool RoundService::known_device(const std::string& name) const {
  std::lock_guard g(mu_);
  return known_.contains(name);
}

bool RoundService::done() const {
  std::lock_guard g(mu_);
  return !driver_->round_open() && store_.committed_round() >= static_cast<std::uint64_t>(config_.federation.rounds);
}

std::uint64_t RoundService::committed_round() const {
  std::lock_guard g(mu_);
  return store_.committed_round();
}

CheckInAnswer RoundService::check_in(const std::string& device, const CheckIn& info) {
  if (info.num_examples < 0) throw ServiceError(Code::kInvalidArgument, "num_examples must be >= 0");
  std::unique_lock g(mu_);
  const auto it = known_.find(device);
  if (it == known_.end()) throw ServiceError(Code::kPermissionDenied, "device " + device + " is not enrolled");
  if (info.base_model_sha256 != base_sha256_)
    throw ServiceError(Code::kFailedPrecondition, "this coordinator trains base model sha256 " + protocol::to_hex(base_sha256_) +
                                                      "; the device holds another base");
  Known& k = it->second;
  if (info.identity_public_key) {
    if (!k.identity) {
      store_.register_identity(k.id, std::string(info.identity_public_key->begin(), info.identity_public_key->end()));
      k.identity = info.identity_public_key;
    } else if (*k.identity != *info.identity_public_key) {
      throw ServiceError(Code::kPermissionDenied, "device " + device + " registered another identity key; a device "
                                                  "identity never changes (re-enrol the device to replace it)");
    }
  } else if (config_.secagg.enabled) {
    throw ServiceError(Code::kFailedPrecondition, "this job uses secure aggregation: check in with the device's "
                                                  "identity_public_key (Ed25519)");
  }
  const bool first = k.last_checkin_ms < 0;
  k.last_checkin_ms = now();
  k.num_examples = info.num_examples;
  k.runtime_version = info.runtime_version;
  k.dirty = true;
  const auto retry = static_cast<std::uint32_t>(config_.serve.checkin_retry_ms);
  if (draining_) return RetryOffer{retry, "the coordinator is shutting down"};
  if (driver_->round_open() && !driver_->opened().setup_failure) {
    if (const auto m = driver_->member_of(static_cast<std::uint64_t>(k.id))) {
      Member& mem = members_[*m];
      if (mem.reported) return RetryOffer{retry, "already reported in round " + std::to_string(driver_->opened().round)};
      // A SecAgg member cannot rejoin once its stream opened (the channel keeps or drops it), and
      // training again would spend its privacy budget twice: it waits for the next round.
      if (mem.joined_secagg)
        return RetryOffer{retry, "already took part in round " + std::to_string(driver_->opened().round) + "'s secure aggregation"};
      mem.task_sent = true;
      const auto& o = driver_->opened();
      return TaskOffer{o.round, round_token_, o.instructions[*m], theta_bytes_->size(), theta_sha256_};
    }
  }
  if (store_.committed_round() >= static_cast<std::uint64_t>(config_.federation.rounds))
    return RetryOffer{3'600'000, "the job is finished"};
  g.unlock();
  if (first) wake_.notify_all();  // a new device may complete the selection
  return RetryOffer{retry, driver_->round_open() ? "not selected for this round" : "waiting for the next round"};
}

std::size_t RoundService::member_index(const std::string& device, std::uint64_t round, std::uint64_t token) const {
  if (!driver_->round_open() || driver_->opened().setup_failure)
    throw ServiceError(Code::kFailedPrecondition, "no round is open");
  const auto& o = driver_->opened();
  if (round != o.round) throw ServiceError(Code::kFailedPrecondition, "round " + std::to_string(round) + " is not open (round " + std::to_string(o.round) + " is)");
  if (token != round_token_)
    throw ServiceError(Code::kFailedPrecondition, "stale round token: the task belongs to an earlier incarnation of round " +
                                                      std::to_string(round) + "; check in again");
  const auto it = known_.find(device);
  if (it == known_.end()) throw ServiceError(Code::kPermissionDenied, "device " + device + " is not enrolled");
  const auto m = driver_->member_of(static_cast<std::uint64_t>(it->second.id));
  if (!m) throw ServiceError(Code::kPermissionDenied, "device " + device + " is not in round " + std::to_string(round) + "'s cohort");
  return *m;
}

std::shared_ptr<const std::string> RoundService::adapter_payload(const std::string& device, std::uint64_t round,
                                                                 std::uint64_t token, std::uint64_t offset) {
  std::lock_guard g(mu_);
  member_index(device, round, token);
  if (offset <= theta_bytes_->size()) driver_->add_download_bytes(static_cast<std::int64_t>(theta_bytes_->size() - offset));
  return theta_bytes_;
}

std::uint64_t RoundService::expected_upload_bytes(const std::string& device, std::uint64_t round, std::uint64_t token) {
  std::lock_guard g(mu_);
  const auto m = member_index(device, round, token);
  const auto& in = driver_->opened().instructions[m];
  if (in.secagg) throw ServiceError(Code::kFailedPrecondition, "round " + std::to_string(round) + " uses secure aggregation: a plain upload is refused");
  if (members_[m].reported) throw ServiceError(Code::kAlreadyExists, "this device already reported in round " + std::to_string(round));
  return static_cast<std::uint64_t>(in.upload_length()) * sizeof(float);
}

std::uint32_t RoundService::submit_plain(const std::string& device, std::uint64_t round, std::uint64_t token,
                                         protocol::PlainUpload upload) {
  std::unique_lock g(mu_);
  const auto m = member_index(device, round, token);
  const auto r = driver_->channel()->receive_plain(static_cast<MemberIndex>(m), std::move(upload));
  switch (r.status) {
    case ReceiptStatus::kAccepted:
      members_[m].reported = true;
      ++reported_;
      break;
    case ReceiptStatus::kRejected: throw ServiceError(Code::kInvalidArgument, "upload rejected: " + r.detail);
    case ReceiptStatus::kDuplicate: throw ServiceError(Code::kAlreadyExists, r.detail);
    case ReceiptStatus::kWrongKind:
    case ReceiptStatus::kNotParticipating: throw ServiceError(Code::kFailedPrecondition, r.detail);
  }
  const auto n = reported_;
  g.unlock();
  wake_.notify_all();
  return n;
}

std::uint64_t RoundService::max_secagg_message_bytes(const std::string& device, std::uint64_t round, std::uint64_t token) {
  std::lock_guard g(mu_);
  const auto m = member_index(device, round, token);
  const auto& sa = driver_->opened().instructions[m].secagg;
  if (!sa) throw ServiceError(Code::kFailedPrecondition, "round " + std::to_string(round) + " has no secure aggregation");
  // The masked input dominates: m words, plus framing; other messages carry O(n) keys/shares.
  return sa->config->vector_length * sa->config->word_bytes() + 1024 + 256ull * sa->config->num_clients;
}

void RoundService::attach_secagg(const std::string& device, std::uint64_t round, std::uint64_t token,
                                 std::shared_ptr<SecAggSink> sink) {
  std::lock_guard g(mu_);
  const auto m = member_index(device, round, token);
  if (!driver_->opened().instructions[m].secagg)
    throw ServiceError(Code::kFailedPrecondition, "round " + std::to_string(round) + " has no secure aggregation");
  Member& mem = members_[m];
  mem.joined_secagg = true;
  mem.sink = std::move(sink);
  while (!mem.pending.empty()) {
    mem.sink->deliver(mem.pending.front(), static_cast<std::uint64_t>(stage_deadline_ms_));
    mem.pending.pop_front();
  }
}

void RoundService::submit_secagg(const std::string& device, std::uint64_t round, std::uint64_t token,
                                 secagg::pb::ClientToServer message) {
  std::unique_lock g(mu_);
  const auto m = member_index(device, round, token);
  const auto r = driver_->channel()->receive_secagg(static_cast<MemberIndex>(m), std::move(message));
  switch (r.status) {
    case ReceiptStatus::kAccepted:
    case ReceiptStatus::kDuplicate: break;
    case ReceiptStatus::kRejected: throw ServiceError(Code::kInvalidArgument, "SecAgg message rejected: " + r.detail);
    case ReceiptStatus::kWrongKind:
    case ReceiptStatus::kNotParticipating: throw ServiceError(Code::kFailedPrecondition, r.detail);
  }
  g.unlock();
  wake_.notify_all();
}

void RoundService::detach_secagg(const std::string& device, std::uint64_t round, const SecAggSink* sink) {
  std::lock_guard g(mu_);
  if (!driver_->round_open() || driver_->opened().round != round || !driver_->channel()) return;
  const auto it = known_.find(device);
  if (it == known_.end()) return;
  const auto m = driver_->member_of(static_cast<std::uint64_t>(it->second.id));
  if (!m || members_[*m].sink.get() != sink) return;  // a newer stream replaced this one
  members_[*m].sink.reset();
  driver_->channel()->drop(static_cast<MemberIndex>(*m), "stream closed");
}

RoundResultInfo RoundService::round_result(std::uint64_t round) const {
  std::lock_guard g(mu_);
  RoundResultInfo info;
  info.round = round;
  if (driver_->round_open() && driver_->opened().round == round) {
    info.status = RoundResultInfo::Status::kOpen;
    info.cohort = static_cast<int>(members_.size());
    return info;
  }
  const auto row = store_.round(round);
  if (!row) return info;
  info.status = row->aborted ? RoundResultInfo::Status::kAborted : RoundResultInfo::Status::kCompleted;
  info.cohort = row->cohort;
  info.contributors = row->contributors;
  info.abort_reason = row->abort_reason;
  info.adapter_sha256 = row->adapter_sha256;
  return info;
}

// ---- the round loop ----

void RoundService::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    if (!tick()) return;
    std::unique_lock g(mu_);
    wake_.wait_for(g, std::chrono::milliseconds(50));
  }
}

bool RoundService::tick() {
  std::lock_guard g(mu_);
  if (draining_) return false;
  if (!driver_->round_open()) {
    if (store_.committed_round() >= static_cast<std::uint64_t>(config_.federation.rounds)) return false;
    if (now() >= next_selection_ms_) open_round_locked();
    return true;
  }
  AggregationChannel* ch = driver_->channel();
  if (ch->stage_complete() || now() >= stage_deadline_ms_) close_stage_locked();
  return true;
}

void RoundService::flush_seen_locked() {
  std::vector<StateStore::Seen> seen;
  for (auto& [name, k] : known_)
    if (k.dirty) {
      seen.push_back({k.id, k.last_checkin_ms, k.num_examples, k.runtime_version});
      k.dirty = false;
    }
  store_.record_seen(seen);  // one transaction for all of them
}

void RoundService::open_round_locked() {
  const std::int64_t t = now();
  std::vector<std::uint64_t> available;
  for (const auto& [name, k] : known_)
    if (k.last_checkin_ms >= 0 && t - k.last_checkin_ms <= config_.serve.available_ttl_ms)
      available.push_back(static_cast<std::uint64_t>(k.id));
  std::sort(available.begin(), available.end());
  const int selection = static_cast<int>(std::ceil(config_.federation.cohort_size * config_.serve.over_selection));
  const int needed = config_.serve.min_devices > 0 ? config_.serve.min_devices : selection;
  if (static_cast<int>(available.size()) < needed) return;
  flush_seen_locked();
  DeviceFacts facts;
  facts.examples = [&](std::uint64_t id) { return known_.at(name_of_.at(static_cast<std::int64_t>(id))).num_examples; };
  facts.identity = [&](std::uint64_t id) { return known_.at(name_of_.at(static_cast<std::int64_t>(id))).identity; };
  const auto& o = driver_->open_round(available, {}, facts);
  opened_at_ms_ = t;
  round_token_ = secagg::crypto::SystemRandom().next_u64();
  members_.assign(o.cohort.size(), Member{});
  for (std::size_t i = 0; i < o.cohort.size(); ++i) members_[i].name = name_of_.at(static_cast<std::int64_t>(o.cohort[i]));
  reported_ = 0;
  if (o.setup_failure) {
    spdlog::warn("round {}: cannot run: {}", o.round, *o.setup_failure);
    finish_round_locked(driver_->finish_round());
    return;
  }
  auto bytes = std::make_shared<std::string>(protocol::encode_floats(
      std::span<const float>(o.theta->data(), static_cast<std::size_t>(o.theta->size()))));
  theta_sha256_ = protocol::sha256_of(*bytes);
  theta_bytes_ = std::move(bytes);
  stage_deadline_ms_ = t + config_.serve.train_deadline_ms;
  protocol::failpoint("round_opened");
  spdlog::info("round {} open: {} devices selected of {} available{}", o.round, o.cohort.size(), available.size(),
               driver_->channel()->secure() ? ", secure aggregation" : "");
  write_progress_locked();
}

void RoundService::close_stage_locked() {
  AggregationChannel* ch = driver_->channel();
  const std::string closing(ch->stage_name());
  auto downs = ch->close_stage();
  const std::int64_t t = now();
  stage_deadline_ms_ = t + config_.serve.stage_deadline_ms;
  for (auto& d : downs) {
    Member& mem = members_.at(d.to);
    if (mem.sink) mem.sink->deliver(d.message, static_cast<std::uint64_t>(stage_deadline_ms_));
    else mem.pending.push_back(std::move(d.message));
  }
  if (ch->finished()) {
    finish_round_locked(driver_->finish_round());
  } else {
    spdlog::info("round {}: {} closed, {} open", driver_->opened().round, closing, ch->stage_name());
    write_progress_locked();
    protocol::failpoint("stage_closed");
  }
}

void RoundService::finish_round_locked(RoundReport report) {
  for (auto& m : members_)
    if (m.sink) m.sink->close(report.record.aborted ? "round aborted: " + report.record.abort_reason : "round finished");
  members_.clear();
  theta_bytes_.reset();
  commit_locked(report);
  next_selection_ms_ = now() + config_.serve.round_pause_ms;
  if (report.record.aborted)
    spdlog::warn("round {} aborted: {}", report.record.round, report.record.abort_reason);
  else
    spdlog::info("round {} committed: {} contributors of {}", report.record.round, report.contributors, report.cohort);
  write_progress_locked();
}

void RoundService::commit_locked(const RoundReport& report) {
  const std::uint64_t round = report.record.round;
  // 1. θ and optimizer state, fsync'ed; 2. one SQLite transaction; 3. metrics.jsonl.
  checkpoints_.write(*coordinator_, round);
  protocol::failpoint("checkpoint_written");
  StoredRound row;
  row.round = round;
  row.aborted = report.record.aborted;
  row.abort_reason = report.record.abort_reason;
  row.cohort = report.cohort;
  row.contributors = report.contributors;
  const auto& theta = coordinator_->theta();
  row.adapter_sha256 = protocol::sha256_of(protocol::encode_floats(
      std::span<const float>(theta.data(), static_cast<std::size_t>(theta.size()))));
  json line = round_report_json(report, driver_->user_dp() ? &driver_->user_dp()->settings() : nullptr, private_);
  line["private"] = private_;
  if (opened_at_ms_ > 0) line["wall_s"] = static_cast<double>(now() - opened_at_ms_) / 1000.0;  // open → commit
  row.metrics_json = line.dump();
  if (driver_->user_dp()) row.privacy_state_json = privacy_state_json(driver_->user_dp()->state()).dump();
  store_.commit_round(row);
  protocol::failpoint("round_committed");
  commit_metrics_file_locked();
  checkpoints_.prune(round, config_.serve.keep_checkpoints);
}

void RoundService::commit_metrics_file_locked() {
  std::string text;
  for (const auto& r : store_.rounds()) text += r.metrics_json + "\n";
  lora::AtomicFileWriter w(config_.serve.state_dir / "metrics.jsonl");
  w.append(std::as_bytes(std::span<const char>(text.data(), text.size())));
  w.commit();
}

void RoundService::write_progress_locked() {
  json p{{"committed_round", store_.committed_round()},
         {"rounds", config_.federation.rounds},
         {"devices_enrolled", known_.size()},
         {"updated_unix_ms", now()}};
  std::size_t seen = 0;
  for (const auto& [n, k] : known_) seen += k.last_checkin_ms >= 0 ? 1 : 0;
  p["devices_seen"] = seen;
  if (driver_->round_open() && driver_->channel()) {
    p["open_round"] = driver_->opened().round;
    p["stage"] = std::string(driver_->channel()->stage_name());
    p["cohort"] = members_.size();
    p["reported"] = reported_;
    p["stage_deadline_unix_ms"] = stage_deadline_ms_;
  }
  if (driver_->user_dp() && private_)
    p["user_epsilon"] = epsilon_json(driver_->user_dp()->epsilon(), driver_->user_dp()->settings());
  store_.set_progress(p.dump());
}

void RoundService::drain(const std::string& reason) {
  std::lock_guard g(mu_);
  if (draining_) return;
  draining_ = true;
  if (driver_->round_open()) finish_round_locked(driver_->abort_round(reason));
  flush_seen_locked();
  spdlog::info("drained: {} rounds committed", store_.committed_round());
}

}  // namespace fedlora::coordinator
