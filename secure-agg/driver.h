#pragma once
// In-process SecAgg round: the server and n clients exchange messages through function
// calls, with a dropout schedule. Used by the tests, the benchmark and the simulator;
// it drives exactly the state machines a networked deployment would.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "secure-agg/client_policy.h"
#include "secure-agg/client_state_machine.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/fixed_point.h"
#include "secure-agg/round_config.h"
#include "secure-agg/server_state_machine.h"

namespace fedlora::secagg {

/// drop_before[u] = the stage before whose message client u goes silent for good
/// (kAdvertiseKeys: never shows up); nullopt: u never drops.
struct DropoutSchedule {
  std::vector<std::optional<Stage>> drop_before;
  static DropoutSchedule none(std::uint32_t n) { return DropoutSchedule{std::vector<std::optional<Stage>>(n)}; }
  bool silent_at(ClientId u, Stage s) const {
    return u < drop_before.size() && drop_before[u] && static_cast<int>(s) >= static_cast<int>(*drop_before[u]);
  }
};

/// Identities and client policy of an in-process round.
struct DriverOptions {
  /// Policy of every client; nullopt = ClientPolicy::unchecked(): the simulated server is
  /// ours, and protocol tests exercise parameters a device would refuse.
  std::optional<ClientPolicy> policy;
  /// Device identity keys. With config.roster set: one per roster entry, in roster order.
  /// With an empty roster: any n distinct keys (the roster is built from them), or none:
  /// the driver draws n keys from DeterministicRandom(seed, "identity <i>") so that
  /// simulations are reproducible (never do this for real devices).
  std::vector<crypto::Ed25519PrivateKey> identities;
  /// With a roster built by the driver: its entries carry this authority's enrolment
  /// signatures (identity.h).
  std::optional<crypto::Ed25519PrivateKey> enrolment_authority;
};

/// Interposition points for tests of misbehaviour (tampering, replays, duplicates).
struct DriverHooks {
  /// Called on every client message before the server receives it; may modify it.
  std::function<void(ClientId, pb::ClientToServer&)> on_upload;
  /// Called on every server message before the client handles it; may modify it.
  std::function<void(ClientId, pb::ServerToClient&)> on_download;
  /// Called before each close_stage(), e.g. to inject extra messages.
  std::function<void(ServerStateMachine&, Stage)> before_close;
};

struct DriverReport {
  RoundOutcome outcome;
  std::vector<Offence> offences;
  RoundConfig config;                        ///< as run (roster filled in)
  std::optional<NeighbourGraph> graph;       ///< the server's graph (unset if aborted at stage 0)
  std::size_t max_server_buffered_bytes = 0; ///< largest ServerStateMachine::buffered_bytes() at a deadline
  std::vector<std::string> client_errors;    ///< per client: refusal / abort reason or "" (diagnostics)
  std::vector<std::uint64_t> bytes_up;       ///< per client, serialized protobuf bytes sent
  std::vector<std::uint64_t> bytes_down;     ///< per client, bytes received
  std::vector<double> client_seconds;        ///< per client: thread CPU s in its state machine
  double client_seconds_total = 0;           ///< thread CPU time in all client state machines
  double client_seconds_max = 0;             ///< slowest single client (CPU s)
  double server_seconds = 0;                 ///< CPU time in receive + close_stage
};

/// Runs one round over encoded inputs (one vector of m words < 2^w per client; input u
/// belongs to the device with logical id u, i.e. roster entry u). Client randomness comes
/// from DeterministicRandom(seed, "client <id>"). A client whose policy refuses the round
/// never shows up (client_errors says why). Throws ConfigError for inconsistent sizes or
/// identities; protocol failures are reported in outcome, never thrown.
DriverReport run_secagg_round_encoded(const RoundConfig& config, const std::vector<std::vector<std::uint64_t>>& inputs,
                                      const DropoutSchedule& schedule, std::uint64_t seed,
                                      const DriverHooks& hooks = {}, const DriverOptions& options = {});

/// Supplies client u's encoded input; called just before u handles its
/// MaskedInputCollection request, so only one input needs to exist at a time.
using InputProvider = std::function<std::vector<std::uint64_t>(ClientId)>;

/// As run_secagg_round_encoded, with inputs produced on demand (large benchmarks).
DriverReport run_secagg_round_streaming(const RoundConfig& config, const InputProvider& inputs,
                                        const DropoutSchedule& schedule, std::uint64_t seed,
                                        const DriverHooks& hooks = {}, const DriverOptions& options = {});

/// Decoded result of run_secagg_round.
struct SecAggSummary {
  bool aborted = false;
  std::string abort_reason;
  std::vector<double> sum;             ///< sum over survivors of clipped values (length dim)
  std::optional<double> weight_sum;    ///< sum of survivors' weights, if the codec has one
  std::vector<ClientId> survivors;
  DriverReport report;
};

/// Encodes each client's float vector with codec (stochastic rounding from
/// DeterministicRandom(seed, "encode <id>")), runs the round and decodes the sum of the
/// survivors. weights: empty, or one per client when the codec has a weight coordinate.
/// config.vector_length must equal codec.encoded_length(dim). Throws ConfigError.
SecAggSummary run_secagg_round(const RoundConfig& config, const FixedPointCodec& codec,
                               const std::vector<std::vector<float>>& inputs, std::span<const double> weights,
                               const DropoutSchedule& schedule, std::uint64_t seed, const DriverHooks& hooks = {},
                               const DriverOptions& options = {});

}  // namespace fedlora::secagg
