#include "coordinator/service/federation_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "coordinator/protocol/errors.h"
#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/service/reactors.h"
#include "coordinator/service/token_file.h"

namespace fedlora::coordinator {

grpc::StatusCode grpc_code(ServiceError::Code code) {
  switch (code) {
    case ServiceError::Code::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case ServiceError::Code::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case ServiceError::Code::kPermissionDenied: return grpc::StatusCode::PERMISSION_DENIED;
    case ServiceError::Code::kAlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case ServiceError::Code::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case ServiceError::Code::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
  }
  return grpc::StatusCode::INTERNAL;
}

FederationService::FederationService(RoundService& rounds, AuthPolicy auth, std::size_t payload_slots,
                                     std::size_t download_slots)
    : rounds_(rounds), auth_(auth), slots_(payload_slots), download_slots_(download_slots) {}

grpc::Status FederationService::refuse(const char* rpc, const std::string& device, grpc::StatusCode code,
                                       const std::string& why) {
  rounds_.count(std::string(rpc) + ".refused");
  spdlog::warn("{} from {}: {} ({})", rpc, device.empty() ? "?" : device, why, static_cast<int>(code));
  return grpc::Status(code, why.substr(0, 1024));
}

grpc::Status FederationService::authenticate(const grpc::CallbackServerContext& ctx, std::string& device) const {
  if (auth_.bearer_tokens) {
    const auto& md = ctx.client_metadata();
    const auto it = md.find("authorization");
    if (it != md.end()) {
      const std::string value(it->second.data(), it->second.size());
      constexpr std::string_view kBearer = "Bearer ";
      if (value.size() > kBearer.size() && value.compare(0, kBearer.size(), kBearer) == 0) {
        if (auto d = rounds_.device_for_token(std::string_view(value).substr(kBearer.size()))) {
          device = *d;
          return grpc::Status::OK;
        }
      }
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown bearer token");
    }
  }
  if (auth_.client_certificates) {
    const auto ac = ctx.auth_context();
    if (ac && ac->IsPeerAuthenticated()) {
      const auto cn = ac->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
      if (!cn.empty()) {
        const std::string name(cn.front().data(), cn.front().size());
        if (!valid_device_id(name))
          return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "certificate CN is not a valid device id");
        rounds_.enrol_certificate_device(name);
        device = name;
        return grpc::Status::OK;
      }
    }
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "no valid client certificate or bearer token; see fedlora-client --cert/--key or --token");
}

grpc::ServerUnaryReactor* FederationService::CheckIn(grpc::CallbackServerContext* ctx, const v1::CheckInRequest* req,
                                                     v1::CheckInResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  std::string device;
  grpc::Status st = authenticate(*ctx, device);
  if (!st.ok()) {
    reactor->Finish(refuse("CheckIn", "", st.error_code(), st.error_message()));
    return reactor;
  }
  try {
    if (req->device_id() != device)
      throw ServiceError(ServiceError::Code::kPermissionDenied,
                         "device_id \"" + req->device_id().substr(0, 128) + "\" is not the authenticated device " + device);
    if (req->runtime_version().size() > 64) throw ServiceError(ServiceError::Code::kInvalidArgument, "runtime_version exceeds 64 bytes");
    if (req->base_model_sha256().size() != 32) throw ServiceError(ServiceError::Code::kInvalidArgument, "base_model_sha256 must be 32 bytes");
    if (!req->identity_public_key().empty() && req->identity_public_key().size() != 32)
      throw ServiceError(ServiceError::Code::kInvalidArgument, "identity_public_key must be 32 bytes (Ed25519)");
    coordinator::CheckIn info;
    info.runtime_version = req->runtime_version();
    std::copy(req->base_model_sha256().begin(), req->base_model_sha256().end(), info.base_model_sha256.begin());
    info.num_examples = req->num_examples();
    if (req->identity_public_key().size() == 32) {
      secagg::crypto::Ed25519PublicKey k{};
      std::copy(req->identity_public_key().begin(), req->identity_public_key().end(), k.begin());
      info.identity_public_key = k;
    }
    const auto answer = rounds_.check_in(device, info);
    rounds_.count("CheckIn");
    if (const auto* task = std::get_if<TaskOffer>(&answer)) {
      auto* t = resp->mutable_task();
      t->set_round(task->round);
      t->set_round_token(task->round_token);
      *t->mutable_instructions() = protocol::to_proto(task->instructions);
      t->mutable_adapter()->set_size_bytes(task->adapter_bytes);
      t->mutable_adapter()->set_sha256(task->adapter_sha256.data(), task->adapter_sha256.size());
      rounds_.count("CheckIn.task");
    } else {
      const auto& r = std::get<RetryOffer>(answer);
      resp->mutable_retry()->set_retry_after_ms(r.retry_after_ms);
      resp->mutable_retry()->set_reason(r.reason);
    }
    reactor->Finish(grpc::Status::OK);
  } catch (const ServiceError& e) {
    reactor->Finish(refuse("CheckIn", device, grpc_code(e.code), e.what()));
  } catch (const std::exception& e) {
    reactor->Finish(refuse("CheckIn", device, grpc::StatusCode::INTERNAL, e.what()));
  }
  return reactor;
}

grpc::ServerUnaryReactor* FederationService::GetRoundResult(grpc::CallbackServerContext* ctx,
                                                            const v1::RoundResultRequest* req, v1::RoundResult* resp) {
  auto* reactor = ctx->DefaultReactor();
  std::string device;
  grpc::Status st = authenticate(*ctx, device);
  if (!st.ok()) {
    reactor->Finish(refuse("GetRoundResult", "", st.error_code(), st.error_message()));
    return reactor;
  }
  try {
    const auto info = rounds_.round_result(req->round());
    resp->set_round(info.round);
    switch (info.status) {
      case RoundResultInfo::Status::kUnknown:
        reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "round " + std::to_string(req->round()) + " has not run"));
        return reactor;
      case RoundResultInfo::Status::kOpen: resp->set_status(v1::RoundResult::OPEN); break;
      case RoundResultInfo::Status::kCompleted: resp->set_status(v1::RoundResult::COMPLETED); break;
      case RoundResultInfo::Status::kAborted: resp->set_status(v1::RoundResult::ABORTED); break;
    }
    resp->set_cohort(static_cast<std::uint32_t>(info.cohort));
    resp->set_contributors(static_cast<std::uint32_t>(info.contributors));
    resp->set_abort_reason(info.abort_reason);
    if (info.status != RoundResultInfo::Status::kOpen)
      resp->set_adapter_sha256(info.adapter_sha256.data(), info.adapter_sha256.size());
    reactor->Finish(grpc::Status::OK);
  } catch (const std::exception& e) {
    reactor->Finish(refuse("GetRoundResult", device, grpc::StatusCode::INTERNAL, e.what()));
  }
  return reactor;
}

grpc::ServerWriteReactor<v1::Chunk>* FederationService::DownloadAdapter(grpc::CallbackServerContext* ctx,
                                                                        const v1::DownloadRequest* request) {
  return reactors::make_download(*this, ctx, request);
}

grpc::ServerReadReactor<v1::UploadMessage>* FederationService::UploadUpdate(grpc::CallbackServerContext* ctx,
                                                                            v1::UploadAck* response) {
  return reactors::make_upload(*this, ctx, response);
}

grpc::ServerBidiReactor<v1::SecAggUp, v1::SecAggDown>* FederationService::SecAggExchange(grpc::CallbackServerContext* ctx) {
  return reactors::make_secagg(*this, ctx);
}

}  // namespace fedlora::coordinator
