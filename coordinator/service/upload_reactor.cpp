// UploadUpdate: a header (round, token, payload size and SHA-256, weight), then the payload's
// chunks in order. The payload is assembled, checked against its header, decoded and offered
// to the round's sum; nothing reaches the round before every check passed.
#include <cmath>
#include <optional>

#include "coordinator/protocol/errors.h"
#include "coordinator/protocol/payload.h"
#include "coordinator/service/reactors.h"

namespace fedlora::coordinator::reactors {
namespace {

class UploadReactor final : public grpc::ServerReadReactor<v1::UploadMessage> {
 public:
  UploadReactor(FederationService& svc, grpc::CallbackServerContext* ctx, v1::UploadAck* ack) : svc_(svc), ack_(ack) {
    grpc::Status st = svc.authenticate(*ctx, device_);
    if (!st.ok()) {
      Finish(svc.refuse("UploadUpdate", "", st.error_code(), st.error_message()));
      return;
    }
    StartRead(&msg_);
  }

  void OnReadDone(bool ok) override {
    try {
      if (!ok) {
        complete();
        return;
      }
      if (!assembler_) {
        if (!msg_.has_header()) throw ServiceError(ServiceError::Code::kInvalidArgument, "the first message must be the upload header");
        start(msg_.header());
        // Read the payload once a slot is free; until then flow control holds the device.
        slot_ = svc_.slots().acquire([this] { StartRead(&msg_); });
        return;
      } else {
        if (!msg_.has_chunk()) throw ServiceError(ServiceError::Code::kInvalidArgument, "a second header in one upload");
        assembler_->add(msg_.chunk().offset(), msg_.chunk().data());
        msg_.Clear();  // the assembler holds the bytes; do not keep a second copy per stream
      }
      StartRead(&msg_);
    } catch (const ServiceError& e) {
      Finish(svc_.refuse("UploadUpdate", device_, grpc_code(e.code), e.what()));
    } catch (const protocol::ProtocolError& e) {
      Finish(svc_.refuse("UploadUpdate", device_, grpc::StatusCode::INVALID_ARGUMENT, e.what()));
    } catch (const std::exception& e) {
      Finish(svc_.refuse("UploadUpdate", device_, grpc::StatusCode::INTERNAL, e.what()));
    }
  }
  void OnDone() override {
    slot_.reset();  // before the reactor goes: a grant must never reach a deleted reactor
    delete this;
  }

 private:
  void start(const v1::UploadHeader& h) {
    round_ = h.round();
    token_ = h.round_token();
    weight_ = h.weight();
    if (!std::isfinite(weight_) || weight_ < 0)
      throw ServiceError(ServiceError::Code::kInvalidArgument, "weight must be finite and >= 0");
    const std::uint64_t expected = svc_.rounds().expected_upload_bytes(device_, round_, token_);
    if (h.payload().size_bytes() != expected)
      throw ServiceError(ServiceError::Code::kInvalidArgument, "upload of " + std::to_string(h.payload().size_bytes()) +
                                                                   " bytes; this round's uploads have " +
                                                                   std::to_string(expected) + " (wrong adapter length)");
    assembler_.emplace(h.payload().size_bytes(), h.payload().sha256(), expected);
    values_ = expected / sizeof(float);
  }
  void complete() {
    if (!assembler_) throw ServiceError(ServiceError::Code::kInvalidArgument, "empty upload stream");
    protocol::PlainUpload up;
    {
      const std::string bytes = assembler_->take();  // size and SHA-256 checked here
      up.values = protocol::decode_floats(bytes, values_);
    }
    up.weight = weight_;
    assembler_.reset();
    const std::uint32_t n = svc_.rounds().submit_plain(device_, round_, token_, std::move(up));
    slot_.reset();
    svc_.rounds().count("UploadUpdate.accepted");
    ack_->set_round(round_);
    ack_->set_accepted_uploads(n);
    Finish(grpc::Status::OK);
  }

  FederationService& svc_;
  v1::UploadAck* ack_;
  std::string device_;
  v1::UploadMessage msg_;
  std::optional<protocol::PayloadAssembler> assembler_;
  std::unique_ptr<PayloadSlots::Ticket> slot_;
  std::uint64_t round_ = 0, token_ = 0;
  double weight_ = 0;
  std::size_t values_ = 0;
};

}  // namespace

grpc::ServerReadReactor<v1::UploadMessage>* make_upload(FederationService& svc, grpc::CallbackServerContext* ctx,
                                                        v1::UploadAck* response) {
  return new UploadReactor(svc, ctx, response);
}

}  // namespace fedlora::coordinator::reactors
