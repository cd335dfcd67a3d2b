#include "secure-agg/server_state_machine.h"

#include <algorithm>

#include "secure-agg/errors.h"
#include "secure-agg/wire.h"

namespace fedlora::secagg {

ServerStateMachine::ServerStateMachine(const RoundConfig& config) {
  config.validate();
  data_ = std::make_shared<server::RoundData>(config);
  state_ = std::make_unique<server::ServerR0AdvertiseKeysState>(data_);
}

ReceiveResult ServerStateMachine::receive(ClientId from, pb::ClientToServer msg) {
  if (finished()) return {ReceiveStatus::kNotParticipating, "the round is finished"};
  if (from >= data_->config.num_clients || !state_->is_participant(from)) {
    return {ReceiveStatus::kNotParticipating, "client " + std::to_string(from) + " is not a participant of stage " +
                                                  stage_name(*state_->stage())};
  }
  auto drop = [&](const std::string& why, bool offence) {
    state_->drop(from, why, offence);
    // A client whose masked input already counts is never removed (see header).
    if (state_->is_participant(from)) return ReceiveResult{ReceiveStatus::kConflictIgnored, why};
    return ReceiveResult{ReceiveStatus::kClientDropped, why};
  };
  if (auto why = session_mismatch(msg.header(), data_->config)) return drop(*why, true);
  if (msg.has_abort()) return drop("client aborted: " + msg.abort().reason(), false);
  const auto current = static_cast<int>(*state_->stage());
  const int header_stage = msg.header().stage();
  if (header_stage < current && header_stage >= static_cast<int>(Stage::kAdvertiseKeys)) {
    return {ReceiveStatus::kStale, "message of an earlier stage; ignored"};
  }
  const auto body = body_stage(msg);
  if (header_stage != current || !body || static_cast<int>(*body) != current) {
    return drop(std::string("message does not belong to stage ") + stage_name(*state_->stage()), true);
  }
  return state_->receive(from, std::move(msg));
}

ReceiveResult ServerStateMachine::receive_without_words(ClientId from, pb::ClientToServer msg) {
  if (state_->stage() != Stage::kMaskedInputCollection) return receive(from, std::move(msg));
  data_->words_elsewhere = true;
  auto r = receive(from, std::move(msg));
  data_->words_elsewhere = false;
  return r;
}

void ServerStateMachine::add_external_sum(std::span<const ClientId> clients, std::span<const std::uint64_t> words) {
  server::RoundData& d = *data_;
  if (state_->stage() != Stage::kMaskedInputCollection)
    throw SecAggError("an external masked sum arrives only during MaskedInputCollection");
  if (words.size() != d.config.vector_length)
    throw SecAggError("external masked sum has " + std::to_string(words.size()) + " words, expected " +
                      std::to_string(d.config.vector_length));
  if (!std::equal(clients.begin(), clients.end(), d.words_owed.begin(), d.words_owed.end()))
    throw SecAggError("external masked sum covers " + std::to_string(clients.size()) +
                      " clients, which are not exactly the " + std::to_string(d.words_owed.size()) +
                      " whose words are owed");
  for (std::size_t i = 0; i < words.size(); ++i) d.sum[i] += words[i];
  d.words_owed.clear();
}

std::vector<ClientId> ServerStateMachine::words_owed() const {
  return {data_->words_owed.begin(), data_->words_owed.end()};
}

std::vector<Outgoing> ServerStateMachine::close_stage() {
  server::ServerTransition tr = state_->close();
  state_ = std::move(tr.next);
  return std::move(tr.outgoing);
}

const RoundOutcome& ServerStateMachine::outcome() const {
  const auto* f = dynamic_cast<const server::ServerFinishedState*>(state_.get());
  if (f == nullptr) throw SecAggError("outcome() called before the round finished (stage " + std::string(state_name()) + ")");
  return f->outcome();
}

}  // namespace fedlora::secagg
