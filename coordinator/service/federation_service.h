#pragma once
// The gRPC face of the coordinator (proto/fedlora.proto, service fedlora.v1.Federation),
// on gRPC's callback API so that a thousand long SecAgg streams hold no thread each. Every
// handler authenticates the caller (client certificate CN, or a bearer token), validates
// every field and size limit, assembles chunked payloads (size and SHA-256 checked), and
// hands the result to RoundService. Bad input never reaches the round state: it gets a
// precise status, is logged and counted. Handlers never throw.
#include <grpcpp/grpcpp.h>

#include <string>

#include "coordinator/service/payload_slots.h"
#include "coordinator/service/round_service.h"
#include "proto/fedlora.grpc.pb.h"

namespace fedlora::coordinator {

/// How callers prove who they are.
struct AuthPolicy {
  bool bearer_tokens = false;         ///< "authorization: Bearer <token>" from the tokens file
  bool client_certificates = false;   ///< mTLS: the verified certificate's CN is the device id
};

/// ServiceError code → gRPC status code.
grpc::StatusCode grpc_code(ServiceError::Code code);

class FederationService final : public v1::Federation::CallbackService {
 public:
  /// At most `payload_slots` large payloads (uploads, masked inputs) are assembled, and at
  /// most `download_slots` adapters are being sent, at once.
  FederationService(RoundService& rounds, AuthPolicy auth, std::size_t payload_slots = 16,
                    std::size_t download_slots = 16);

  grpc::ServerUnaryReactor* CheckIn(grpc::CallbackServerContext* ctx, const v1::CheckInRequest* request,
                                    v1::CheckInResponse* response) override;
  grpc::ServerWriteReactor<v1::Chunk>* DownloadAdapter(grpc::CallbackServerContext* ctx,
                                                       const v1::DownloadRequest* request) override;
  grpc::ServerReadReactor<v1::UploadMessage>* UploadUpdate(grpc::CallbackServerContext* ctx,
                                                           v1::UploadAck* response) override;
  grpc::ServerBidiReactor<v1::SecAggUp, v1::SecAggDown>* SecAggExchange(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* GetRoundResult(grpc::CallbackServerContext* ctx, const v1::RoundResultRequest* request,
                                           v1::RoundResult* response) override;

  /// The device a call comes from. Throws ServiceError-like grpc::Status via the returned
  /// status when the caller is not authenticated (UNAUTHENTICATED).
  grpc::Status authenticate(const grpc::CallbackServerContext& ctx, std::string& device) const;

  RoundService& rounds() { return rounds_; }
  PayloadSlots& slots() { return slots_; }
  PayloadSlots& download_slots() { return download_slots_; }
  /// Logs and counts a refused call; returns the status to send.
  grpc::Status refuse(const char* rpc, const std::string& device, grpc::StatusCode code, const std::string& why);

 private:
  RoundService& rounds_;
  AuthPolicy auth_;
  PayloadSlots slots_;
  PayloadSlots download_slots_;
};

}  // namespace fedlora::coordinator
