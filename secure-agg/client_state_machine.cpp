#include "secure-agg/client_state_machine.h"

#include "secure-agg/errors.h"
#include "secure-agg/graph_seed.h"
#include "secure-agg/identity.h"
#include "secure-agg/wire.h"

namespace fedlora::secagg {

ClientStateMachine::ClientStateMachine(const RoundConfig& config, const crypto::Ed25519PrivateKey& identity,
                                       const ClientPolicy& policy, std::unique_ptr<crypto::RandomSource> rng) {
  config.validate();
  const auto id = config.logical_id_of(identity.public_key());
  if (!id) {
    throw ConfigError("this device's identity key " + crypto::to_hex(identity.public_key()) +
                      " is not in the round's roster");
  }
  policy.check(config);
  std::optional<NeighbourGraph> graph;
  if (config.params.graph == GraphKind::kComplete) graph = build_graph(config, {});
  ctx_ = std::make_shared<client::ClientContext>(client::ClientContext{
      config, config.digest(), policy, policy.min_live_neighbours(config), std::move(graph), *id, identity,
      rng ? std::move(rng) : std::make_unique<crypto::SystemRandom>(), std::nullopt});
}

ClientStateMachine::ClientStateMachine(const RoundConfig& config, const crypto::Ed25519PrivateKey& identity,
                                       std::vector<std::uint64_t> input, const ClientPolicy& policy,
                                       std::unique_ptr<crypto::RandomSource> rng)
    : ClientStateMachine(config, identity, policy, std::move(rng)) {
  set_input(std::move(input));
}

void ClientStateMachine::set_input(std::vector<std::uint64_t> input) {
  const RoundConfig& config = ctx_->config;
  const auto st = awaiting();
  if (state_ && (!st || static_cast<int>(*st) > static_cast<int>(Stage::kMaskedInputCollection))) {
    throw SecAggError("set_input after the masked input was sent (client " + std::to_string(ctx_->id) + ")");
  }
  if (input.size() != config.vector_length) {
    throw ConfigError("client input has " + std::to_string(input.size()) + " words, the round expects m = " +
                      std::to_string(config.vector_length));
  }
  const std::uint64_t mask = config.word_mask();
  for (std::size_t i = 0; i < input.size(); ++i) {
    if ((input[i] & ~mask) != 0) {
      throw ConfigError("client input word " + std::to_string(i) + " does not fit in " +
                        std::to_string(config.word_bits) + " bits; encode with FixedPointCodec");
    }
  }
  ctx_->input = std::move(input);
}

pb::ClientToServer ClientStateMachine::start() {
  if (state_) throw SecAggError("ClientStateMachine::start called twice for client " + std::to_string(ctx_->id));
  auto c_key = crypto::X25519PrivateKey::generate(*ctx_->rng);
  auto s_key = crypto::X25519PrivateKey::generate(*ctx_->rng);
  pb::ClientToServer out;
  *out.mutable_header() = make_header(ctx_->config, Stage::kAdvertiseKeys);
  const auto c_pk = c_key.public_key();
  const auto s_pk = s_key.public_key();
  const auto sig = sign_round_keys(ctx_->identity, ctx_->config_digest, ctx_->id, c_pk, s_pk);
  out.mutable_advertise_keys()->set_c_pk(c_pk.data(), c_pk.size());
  out.mutable_advertise_keys()->set_s_pk(s_pk.data(), s_pk.size());
  out.mutable_advertise_keys()->set_signature(sig.data(), sig.size());
  state_ = std::make_unique<client::ClientR1ShareKeysState>(ctx_, std::move(c_key), std::move(s_key));
  return out;
}

ClientStep ClientStateMachine::handle(const pb::ServerToClient& msg) {
  ClientStep step;
  if (!state_) {
    step.rejected = "client not started";
    return step;
  }
  const auto awaiting = state_->awaiting();
  if (auto why = session_mismatch(msg.header(), ctx_->config)) {
    step.rejected = *why;
    return step;
  }
  // A completed client still learns that the server aborted afterwards (for its logs).
  if (msg.has_abort() && completed()) {
    state_ = std::make_unique<client::ClientAbortedState>("server aborted after unmasking: " + msg.abort().reason());
    return step;
  }
  if (!awaiting) {
    step.rejected = "client is in terminal state " + std::string(state_->name());
    return step;
  }
  if (msg.has_abort()) {
    state_ = std::make_unique<client::ClientAbortedState>("server aborted: " + msg.abort().reason());
    return step;
  }
  const auto header_stage = static_cast<std::uint8_t>(msg.header().stage());
  const auto body = body_stage(msg);
  if (header_stage != static_cast<std::uint8_t>(*awaiting) || !body || *body != *awaiting) {
    step.rejected = std::string("message does not belong to stage ") + stage_name(*awaiting) +
                    " (stale, replayed or out of order)";
    return step;
  }
  try {
    client::ClientTransition tr = state_->handle(msg);
    state_ = std::move(tr.next);
    step.reply = std::move(tr.reply);
  } catch (const SecAggError& e) {
    step.reply = abort(e.what());
  }
  return step;
}

pb::ClientToServer ClientStateMachine::abort(const std::string& reason) {
  // The header names the stage the client was in; the server accepts an Abort in any stage.
  const Stage stage = awaiting().value_or(Stage::kAdvertiseKeys);
  state_ = std::make_unique<client::ClientAbortedState>(reason);
  pb::ClientToServer out;
  *out.mutable_header() = make_header(ctx_->config, stage);
  out.mutable_abort()->set_reason(reason);
  return out;
}

std::string_view ClientStateMachine::state_name() const { return state_ ? state_->name() : "NotStarted"; }

std::optional<Stage> ClientStateMachine::awaiting() const { return state_ ? state_->awaiting() : std::nullopt; }

bool ClientStateMachine::completed() const {
  return state_ && dynamic_cast<const client::ClientCompletedState*>(state_.get()) != nullptr;
}

bool ClientStateMachine::aborted() const {
  return state_ && dynamic_cast<const client::ClientAbortedState*>(state_.get()) != nullptr;
}

std::string ClientStateMachine::abort_reason() const {
  const auto* a = state_ ? dynamic_cast<const client::ClientAbortedState*>(state_.get()) : nullptr;
  return a ? a->reason() : std::string();
}

}  // namespace fedlora::secagg
