#pragma once
// One simulation across several processes (ranks), rank 0's side: the coordinator's
// RoundDriver runs here; every rank (this one included) hosts a share of each cohort and
// trains it on its own worker pool. Members are spread longest first onto the least loaded
// rank, except where a device's state must stay on one rank: its DP-SGD ledger, or the
// identity key only its rank holds (SecAgg runs with OS keys); then device id mod N
// (host_rank) decides. Small messages
// (instructions, reports, SecAgg key exchange) go through the rank group's store; θ_t is
// broadcast, plain update sums and SecAgg masked-word sums are allreduced, so with SecAgg
// no rank ever holds another rank's individual update, masked or not.
//
// Given the same config and seed, a run gives the metrics of the one-process simulation:
// the same members, fates, randomness and SecAgg sums (modular, so exact); plain float64
// sums differ only in the order of additions.
#include <cstdint>
#include <optional>
#include <vector>

#include "secure-agg/crypto/ed25519.h"
#include "simulator/multi/hosted_members.h"
#include "simulator/multi/rank_group.h"
#include "simulator/run/inproc_transport.h"

namespace fedlora::sim {

class ShardedTransport final : public RoundTransport {
 public:
  /// `roster`: each device's identity public key as its host rank holds it (SecAgg jobs;
  /// see exchange_identities), empty otherwise. `dropout_rate` and `run_seed` as for
  /// InprocTransport.
  ShardedTransport(RankGroup& group, WorkerPool& pool, VirtualFleet fleet,
                   std::vector<secagg::crypto::Ed25519PublicKey> roster, double dropout_rate, std::uint64_t run_seed);
  /// Tells the other ranks that the run is over (they leave serve_rounds).
  ~ShardedTransport() override;

  InprocRound run_round(coordinator::RoundDriver& driver, std::span<const std::uint64_t> available,
                        const std::unordered_set<std::uint64_t>& ineligible,
                        const RoundClockSpec* clock = nullptr) override;

 private:
  /// Which rank hosts each member (see the file comment).
  std::vector<int> assign_hosts(std::span<const std::uint64_t> cohort, int world) const;

  RankGroup& group_;
  WorkerPool& pool_;
  VirtualFleet fleet_;
  std::vector<secagg::crypto::Ed25519PublicKey> roster_;
  double dropout_rate_;
  std::uint64_t run_seed_;
  bool pin_devices_;             ///< devices keep state on their rank: host_rank decides
  std::uint64_t sequence_ = 0;  ///< rounds carried so far (message keys)
};

/// SecAgg jobs: every rank publishes the identity public keys of the devices it hosts
/// (their private keys never leave it); returns the whole fleet's keys, by device id.
/// `identities` are this rank's keys by device id (only hosted devices' are used).
std::vector<secagg::crypto::Ed25519PublicKey> exchange_identities(
    RankGroup& group, const std::vector<secagg::crypto::Ed25519PrivateKey>& identities);

/// The other ranks' side: hosts their members of each round rank 0 opens, until it ends
/// the run. Returns the number of rounds served. Throws RankError if rank 0 stops
/// answering, and the devices' errors.
int serve_rounds(RankGroup& group, WorkerPool& pool, const VirtualFleet& fleet);

}  // namespace fedlora::sim
