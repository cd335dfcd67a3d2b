#pragma once
// The messages between rank 0 (the coordinator) and the ranks hosting a round's members,
// carried through the rank group's store as CBOR (nlohmann::json). Vectors (θ, update sums,
// masked-word sums) never travel here: they go through the group's collectives.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/round/device_round.h"
#include "secure-agg/round_config.h"

namespace fedlora::sim {

/// The rank that owns device `id`'s state in a group of `world_size` (its DP-SGD ledger, its
/// identity key in SecAgg runs with OS keys) and hosts it whenever it has such state.
inline int host_rank(std::uint64_t id, int world_size) { return static_cast<int>(id % static_cast<std::uint64_t>(world_size)); }

/// Rank 0 → a host: the open round, for the members it hosts.
struct ShardOpen {
  bool end = false;                   ///< no more rounds: the host exits
  bool failed = false;                ///< with end: rank 0 stopped on an error
  std::uint64_t round = 0;
  std::string instructions;           ///< wire form (proto) of member `members[0]`'s instructions, or "" if none
  struct Member {
    std::uint32_t index = 0;          ///< position in the cohort
    std::uint64_t device = 0;
    std::uint64_t shuffle_seed = 0;   ///< what differs between members' instructions
    std::optional<secagg::Stage> silent_from;  ///< simulated dropout
  };
  std::vector<Member> members;
  bool secure = false;
  std::int64_t upload_length = 0;     ///< plain: floats per upload
  double max_weight = 0;              ///< plain: the channel's weight range
  std::uint64_t vector_length = 0;    ///< SecAgg: masked words m
  unsigned word_bits = 32;            ///< SecAgg: words are mod 2^word_bits
  std::int64_t theta_length = 0;      ///< θ_t follows as a broadcast from rank 0
};

/// A host → rank 0: what a member's device did (after training, and at the round's end).
struct ShardReport {
  std::uint32_t index = 0;
  client::DeviceRoundReport report;
  std::optional<std::string> refused_task;
};

/// Rank 0 → a host, after the clock's cut: members that go silent from a stage.
struct ShardSilence {
  std::uint32_t index = 0;
  secagg::Stage from = secagg::Stage::kAdvertiseKeys;
};

/// A host → rank 0: its plain uploads, validated and summed on the host (the sum itself
/// goes through an allreduce).
struct ShardPlain {
  std::vector<std::uint32_t> accepted;  ///< sorted
  std::vector<std::pair<std::uint32_t, std::string>> rejected;  ///< member, why
  std::int64_t bytes = 0;               ///< wire bytes of the accepted uploads
};

/// A SecAgg message to or from one member (serialized proto). Host → rank 0 masked inputs
/// travel without their words; `wire_bytes` is the size with them.
struct ShardSecAgg {
  std::uint32_t index = 0;
  std::string message;
  std::int64_t wire_bytes = 0;
};

/// Rank 0 → a host: one SecAgg stage's messages for its members.
struct ShardStage {
  std::vector<ShardSecAgg> downlinks;
  bool masked_stage = false;  ///< the stage now collecting is MaskedInputCollection
  bool finished = false;      ///< the session is over after these messages
};

std::string encode(const ShardOpen& m);
std::string encode(const std::vector<ShardReport>& m);
std::string encode(const std::vector<ShardSilence>& m);
std::string encode(const ShardPlain& m);
std::string encode(const std::vector<ShardSecAgg>& m);
std::string encode(const ShardStage& m);
std::string encode(const std::vector<std::uint32_t>& m);

/// Decoders; throw std::runtime_error naming the message on malformed bytes (a peer of a
/// different build, or corruption).
ShardOpen decode_open(const std::string& bytes);
std::vector<ShardReport> decode_reports(const std::string& bytes);
std::vector<ShardSilence> decode_silences(const std::string& bytes);
ShardPlain decode_plain(const std::string& bytes);
std::vector<ShardSecAgg> decode_secagg(const std::string& bytes);
ShardStage decode_stage(const std::string& bytes);
std::vector<std::uint32_t> decode_members(const std::string& bytes);

}  // namespace fedlora::sim
