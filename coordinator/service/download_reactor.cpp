// DownloadAdapter: θ_t of the device's round, in chunks of ≤ 1 MiB from the requested offset.
#include <spdlog/spdlog.h>

#include "coordinator/protocol/payload.h"
#include "coordinator/service/reactors.h"

namespace fedlora::coordinator::reactors {
namespace {

class DownloadReactor final : public grpc::ServerWriteReactor<v1::Chunk> {
 public:
  DownloadReactor(FederationService& svc, grpc::CallbackServerContext* ctx, const v1::DownloadRequest* req) {
    std::string device;
    grpc::Status st = svc.authenticate(*ctx, device);
    if (!st.ok()) {
      Finish(svc.refuse("DownloadAdapter", "", st.error_code(), st.error_message()));
      return;
    }
    try {
      payload_ = svc.rounds().adapter_payload(device, req->round(), req->round_token(), req->offset());
    } catch (const ServiceError& e) {
      Finish(svc.refuse("DownloadAdapter", device, grpc_code(e.code), e.what()));
      return;
    }
    if (req->offset() > payload_->size()) {
      Finish(svc.refuse("DownloadAdapter", device, grpc::StatusCode::OUT_OF_RANGE,
                        "offset " + std::to_string(req->offset()) + " is past the adapter's " +
                            std::to_string(payload_->size()) + " bytes"));
      return;
    }
    offset_ = req->offset();
    svc.rounds().count("DownloadAdapter");
    // Send once a slot is free: a thousand devices downloading at once would otherwise each
    // hold a copy of θ in gRPC's send buffers.
    slot_ = svc.download_slots().acquire([this] { next(); });
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the device stopped reading"));
      return;
    }
    next();
  }
  void OnDone() override {
    slot_.reset();
    delete this;
  }

 private:
  void next() {
    if (offset_ >= payload_->size()) {
      Finish(grpc::Status::OK);
      return;
    }
    const std::size_t n = std::min<std::size_t>(protocol::kMaxChunkBytes, payload_->size() - offset_);
    chunk_.set_offset(offset_);
    chunk_.set_data(payload_->data() + offset_, n);
    offset_ += n;
    StartWrite(&chunk_);
  }
  std::shared_ptr<const std::string> payload_;
  std::unique_ptr<PayloadSlots::Ticket> slot_;
  std::size_t offset_ = 0;
  v1::Chunk chunk_;
};

}  // namespace

grpc::ServerWriteReactor<v1::Chunk>* make_download(FederationService& svc, grpc::CallbackServerContext* ctx,
                                                   const v1::DownloadRequest* request) {
  return new DownloadReactor(svc, ctx, request);
}

}  // namespace fedlora::coordinator::reactors
