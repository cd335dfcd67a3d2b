#pragma once
// The streaming handlers of FederationService (internal): one reactor class per streaming
// RPC. Each owns its call until OnDone and never holds its own lock while calling gRPC or
// the RoundService.
#include <grpcpp/grpcpp.h>

#include "coordinator/service/federation_service.h"

namespace fedlora::coordinator::reactors {

grpc::ServerWriteReactor<v1::Chunk>* make_download(FederationService& svc, grpc::CallbackServerContext* ctx,
                                                   const v1::DownloadRequest* request);
grpc::ServerReadReactor<v1::UploadMessage>* make_upload(FederationService& svc, grpc::CallbackServerContext* ctx,
                                                        v1::UploadAck* response);
grpc::ServerBidiReactor<v1::SecAggUp, v1::SecAggDown>* make_secagg(FederationService& svc,
                                                                   grpc::CallbackServerContext* ctx);

}  // namespace fedlora::coordinator::reactors
