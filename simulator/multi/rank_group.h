#pragma once
// One simulation across several processes: the ranks' rendezvous and collectives, on
// LibTorch's own distributed runtime (c10d: a TCPStore for rendezvous and small messages,
// ProcessGroupGloo for the vector collectives; the runtime torchrun uses). Only this file
// includes c10d, so nothing else depends on its headers.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

namespace fedlora::sim {

/// A rank could not join, a peer did not answer in time, or the connection broke.
class RankError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where and who: `fedlora-sim run CONFIG --world-size N --rank R --master HOST:PORT`.
struct RankSpec {
  int world_size = 1;
  int rank = 0;
  std::string master_host = "127.0.0.1";  ///< rank 0's address; rank 0 listens on PORT
  std::uint16_t master_port = 29500;
  /// How long a rank waits for a peer's message or a collective (rank 0 evaluating or
  /// checkpointing keeps the others waiting this long at most).
  std::chrono::seconds timeout{3600};

  /// Parses "HOST:PORT" into master_host / master_port; throws std::invalid_argument
  /// naming the problem.
  void set_master(const std::string& host_port);
  /// Throws std::invalid_argument unless 1 ≤ world_size and 0 ≤ rank < world_size.
  void validate() const;
};

class RankGroup {
 public:
  /// Joins the group: rank 0 hosts the TCPStore on master_port, every rank connects to it
  /// and builds a Gloo process group. Gloo binds the interface named by GLOO_SOCKET_IFNAME
  /// when set, 127.0.0.1 when the master is a loopback address, and the host name's
  /// address otherwise. Throws RankError (naming master and rank) if the rendezvous fails
  /// within the timeout.
  explicit RankGroup(const RankSpec& spec);
  ~RankGroup();
  RankGroup(const RankGroup&) = delete;
  RankGroup& operator=(const RankGroup&) = delete;

  int rank() const noexcept { return rank_; }
  int world_size() const noexcept { return world_size_; }

  /// Small messages through the store (rank 0's TCPStore keeps them until erased).
  void put(const std::string& key, const std::string& bytes);
  /// Waits for `key` (up to the timeout) and returns its bytes; throws RankError naming
  /// the key if it does not appear or the store is gone.
  std::string take(const std::string& key);
  void erase(const std::string& key);

  /// Collectives over every rank, in place. All ranks call them in the same order with the
  /// same lengths. Throw RankError if a peer fails.
  void broadcast(std::span<float> values, int root);
  void allreduce_sum(std::span<double> values);
  void allreduce_sum(std::span<std::int64_t> values);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, world_size_ = 1;
};

}  // namespace fedlora::sim
