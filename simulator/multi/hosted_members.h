#pragma once
// The members of one round that one rank hosts: their devices (client::DeviceRound, the
// same code a phone runs), local training on the rank's worker pool, and their messages for
// the coordinator on rank 0. Plain uploads are validated and summed here (the same
// Aggregator checks as the coordinator's channel) and leave the rank only as a sum; masked
// SecAgg inputs leave without their words, which are summed here and then across ranks.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "simulator/fleet/worker_pool.h"
#include "simulator/multi/shard_messages.h"
#include "simulator/run/inproc_transport.h"
#include "simulator/run/member_fates.h"

namespace fedlora::sim {

class HostedMembers {
 public:
  /// Tokenizes the members' windows on `pool` and builds their devices from the wire form
  /// of the round's instructions (open.instructions with each member's shuffle seed and
  /// logical id). A member whose device refuses the task is reported with the reason.
  /// Throws protocol::ProtocolError if the instructions do not parse.
  HostedMembers(const VirtualFleet& fleet, WorkerPool& pool, const ShardOpen& open);
  ~HostedMembers();

  /// Local training from θ_t (float32 [open.theta_length]), one device per worker, longest
  /// first; a member silent before MaskedInputCollection does not train.
  void train(std::span<const float> theta);
  /// Each member's report (cohort index order).
  std::vector<ShardReport> reports() const;
  /// The clock's cut: members silent from a stage on.
  void silence(const std::vector<ShardSilence>& silences);

  /// Plain rounds: validates the uploads of members that report (length, finite values,
  /// weight in [0, max_weight]) and sums them in cohort order: `sum` becomes
  /// [Σ w·Δ (upload_length values), Σ w] in float64.
  ShardPlain sum_plain_uploads(std::vector<double>& sum);
  /// SecAgg: AdvertiseKeys of the members that report.
  std::vector<ShardSecAgg> secagg_start();
  /// SecAgg: the members' replies to `downlinks` (messages for members that are silent at
  /// their stage are not answered). A MaskedInput leaves without its words; they stay here.
  std::vector<ShardSecAgg> secagg_handle(const std::vector<ShardSecAgg>& downlinks);
  /// Σ mod 2^word_bits of the held words of the `owed` members this rank hosts, as 2·m
  /// int64 (low 32 bits of each word, then high 32 bits), ready for an exact int64 allreduce;
  /// then forgets them. Throws std::logic_error if an owed member hosted here has no words.
  std::vector<std::int64_t> masked_word_sum(std::span<const std::uint32_t> owed);

 private:
  struct Member;
  bool reports(const Member& m) const;

  const VirtualFleet& fleet_;
  WorkerPool& pool_;
  ShardOpen open_;
  std::vector<std::unique_ptr<Member>> members_;  // stable addresses: devices point at their context
  std::map<std::uint32_t, std::size_t> local_;    // cohort index -> position in members_
  std::map<std::uint32_t, std::string> words_;    // held masked words by cohort index
};

/// Combines an allreduced masked_word_sum into m words mod 2^word_bits.
std::vector<std::uint64_t> combine_word_halves(std::span<const std::int64_t> halves, unsigned word_bits);

}  // namespace fedlora::sim
