#pragma once
// The device's gRPC connection to the coordinator (proto/fedlora.proto): TLS by default
// (server verified against --ca), device identity by client certificate or bearer token,
// chunked payloads with size and SHA-256 checked, and the SecAgg stream. Each call has a
// deadline; failures throw LinkError with the gRPC status.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "coordinator/protocol/payload.h"
#include "proto/fedlora.grpc.pb.h"
#include "proto/secagg.pb.h"

namespace fedlora::client {

struct LinkError : std::runtime_error {
  LinkError(grpc::StatusCode c, const std::string& what) : std::runtime_error(what), code(c) {}
  grpc::StatusCode code;
  /// Transient (worth retrying after a backoff): UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED,
  /// RESOURCE_EXHAUSTED, CANCELLED, INTERNAL, UNKNOWN.
  bool transient() const;
};

struct LinkOptions {
  std::string address;                 ///< host:port
  std::filesystem::path ca;            ///< CA that signed the coordinator's certificate (TLS)
  std::filesystem::path cert, key;     ///< client certificate and key (mTLS)
  std::string token;                   ///< bearer token (instead of a certificate)
  std::string server_name_override;    ///< TLS name to verify, if not the host (tests)
  bool insecure = false;               ///< plaintext (test deployments only)
  std::chrono::milliseconds call_timeout{30'000};
};

/// One SecAgg session: the device's stream for one round.
class SecAggStream {
 public:
  virtual ~SecAggStream() = default;
  virtual void send(const secagg::pb::ClientToServer& message) = 0;
  /// The next message, or nullopt when the coordinator ended the stream. The stage deadline
  /// comes with it (Unix ms).
  virtual std::optional<std::pair<secagg::pb::ServerToClient, std::uint64_t>> receive() = 0;
  /// Half-closes and returns the final status (throws LinkError if not OK).
  virtual void finish() = 0;
};

class CoordinatorLink {
 public:
  /// Throws LinkError (INVALID_ARGUMENT) if a credential file cannot be read.
  explicit CoordinatorLink(const LinkOptions& options);

  v1::CheckInResponse check_in(const v1::CheckInRequest& request);
  /// θ of the task: streamed, reassembled, size and SHA-256 checked against `adapter`.
  std::string download(std::uint64_t round, std::uint64_t token, const v1::PayloadInfo& adapter);
  v1::UploadAck upload(std::uint64_t round, std::uint64_t token, const protocol::PlainUpload& upload);
  /// Opens the SecAgg stream; the stream lives until the round's deadline `deadline`.
  std::unique_ptr<SecAggStream> open_secagg(std::uint64_t round, std::uint64_t token,
                                            std::chrono::system_clock::time_point deadline);
  v1::RoundResult round_result(std::uint64_t round);

 private:
  void prepare(grpc::ClientContext& ctx, std::chrono::milliseconds timeout) const;
  LinkOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Federation::Stub> stub_;
};

}  // namespace fedlora::client
