// SecAggExchange: one bidirectional stream per device and round. Up: each ClientToServer
// message as a BlobHeader (size, SHA-256) then its chunks. Down: each ServerToClient message
// the same way, with the stage deadline. The stream ending early counts as a dropout.
#include <deque>
#include <mutex>
#include <optional>

#include "coordinator/protocol/errors.h"
#include "coordinator/protocol/payload.h"
#include "coordinator/service/reactors.h"

namespace fedlora::coordinator::reactors {
namespace {

class SecAggReactor;

// What the RoundService holds: it outlives the reactor and forgets it in OnDone.
struct SinkProxy final : SecAggSink {
  std::mutex mu;
  SecAggReactor* reactor = nullptr;
  void deliver(const secagg::pb::ServerToClient& message, std::uint64_t deadline_unix_ms) override;
  void close(const std::string& reason) override;
};

class SecAggReactor final : public grpc::ServerBidiReactor<v1::SecAggUp, v1::SecAggDown> {
 public:
  SecAggReactor(FederationService& svc, grpc::CallbackServerContext* ctx) : svc_(svc), proxy_(std::make_shared<SinkProxy>()) {
    proxy_->reactor = this;
    grpc::Status st = svc.authenticate(*ctx, device_);
    if (!st.ok()) {
      fail(svc.refuse("SecAggExchange", "", st.error_code(), st.error_message()));
      return;
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the device closed its side (or the call broke)
      finish_when_idle(grpc::Status::OK);
      return;
    }
    try {
      if (receive()) StartRead(&in_);
    } catch (const ServiceError& e) {
      fail(svc_.refuse("SecAggExchange", device_, grpc_code(e.code), e.what()));
    } catch (const protocol::ProtocolError& e) {
      fail(svc_.refuse("SecAggExchange", device_, grpc::StatusCode::INVALID_ARGUMENT, e.what()));
    } catch (const std::exception& e) {
      fail(svc_.refuse("SecAggExchange", device_, grpc::StatusCode::INTERNAL, e.what()));
    }
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard g(mu_);
      writing_ = false;
      if (!ok) {
        queue_.clear();
        if (!finish_status_) finish_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write to the device failed");
      }
    }
    pump();
  }

  void OnDone() override {
    slot_.reset();
    {
      std::lock_guard g(proxy_->mu);
      proxy_->reactor = nullptr;
    }
    if (attached_) svc_.rounds().detach_secagg(device_, round_, proxy_.get());
    delete this;
  }

  // From the RoundService (under its lock, through the proxy).
  void enqueue(const secagg::pb::ServerToClient& message, std::uint64_t deadline) {
    const std::string bytes = message.SerializeAsString();
    const auto digest = protocol::sha256_of(bytes);
    {
      std::lock_guard g(mu_);
      if (finish_status_) return;
      v1::SecAggDown head;
      head.set_round(round_);
      head.mutable_header()->set_size_bytes(bytes.size());
      head.mutable_header()->set_sha256(digest.data(), digest.size());
      head.set_stage_deadline_unix_ms(deadline);
      queue_.push_back(std::move(head));
      for (const auto& c : protocol::split_chunks(bytes)) {
        v1::SecAggDown d;
        d.set_round(round_);
        d.mutable_chunk()->set_offset(c.offset);
        d.mutable_chunk()->set_data(c.data.data(), c.data.size());
        d.set_stage_deadline_unix_ms(deadline);
        queue_.push_back(std::move(d));
      }
    }
    pump();
  }
  void finish_when_idle(const grpc::Status& st) {
    {
      std::lock_guard g(mu_);
      if (!finish_status_) finish_status_ = st;
    }
    pump();
  }

 private:
  // Handles one frame; false when reading must wait for a payload slot.
  bool receive() {
    if (!attached_) {
      round_ = in_.round();
      token_ = in_.round_token();
      max_bytes_ = svc_.rounds().max_secagg_message_bytes(device_, round_, token_);
      svc_.rounds().attach_secagg(device_, round_, token_, proxy_);
      attached_ = true;
    } else if (in_.round() != round_ || in_.round_token() != token_) {
      throw ServiceError(ServiceError::Code::kInvalidArgument, "one SecAgg stream carries one round");
    }
    if (in_.has_header()) {
      if (assembler_) throw ServiceError(ServiceError::Code::kInvalidArgument, "a new message before the last one was complete");
      assembler_.emplace(in_.header().size_bytes(), in_.header().sha256(), max_bytes_);
      if (in_.header().size_bytes() > kSmallMessageBytes) {  // a masked input: wait for a slot
        slot_ = svc_.slots().acquire([this] { StartRead(&in_); });
        return false;
      }
    } else if (in_.has_chunk()) {
      if (!assembler_) throw ServiceError(ServiceError::Code::kInvalidArgument, "a chunk without a message header");
      assembler_->add(in_.chunk().offset(), in_.chunk().data());
      // Free the chunk now: the stream then idles until the next stage, and a thousand idle
      // streams each keeping its last masked-input chunk held 622 MB at n = 1000.
      in_.Clear();
    } else {
      throw ServiceError(ServiceError::Code::kInvalidArgument, "SecAggUp carries neither a header nor a chunk");
    }
    if (assembler_ && assembler_->complete()) {
      const std::string bytes = assembler_->take();
      assembler_.reset();
      secagg::pb::ClientToServer msg;
      if (!msg.ParseFromString(bytes))
        throw ServiceError(ServiceError::Code::kInvalidArgument, "the SecAgg message does not parse");
      slot_.reset();
      svc_.rounds().count("SecAggExchange.message");
      svc_.rounds().submit_secagg(device_, round_, token_, std::move(msg));
    }
    return true;
  }
  static constexpr std::uint64_t kSmallMessageBytes = 64 * 1024;

  void fail(const grpc::Status& st) { finish_when_idle(st); }

  // Starts the next write, or finishes once nothing is left to write.
  void pump() {
    std::unique_lock g(mu_);
    if (writing_ || finished_) return;
    if (!queue_.empty()) {
      out_ = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      g.unlock();
      StartWrite(&out_);
      return;
    }
    if (finish_status_) {
      finished_ = true;
      const grpc::Status st = *finish_status_;
      g.unlock();
      Finish(st);
    }
  }

  FederationService& svc_;
  std::shared_ptr<SinkProxy> proxy_;
  std::string device_;
  v1::SecAggUp in_;
  v1::SecAggDown out_;
  std::optional<protocol::PayloadAssembler> assembler_;
  std::unique_ptr<PayloadSlots::Ticket> slot_;
  bool attached_ = false;
  std::uint64_t round_ = 0, token_ = 0, max_bytes_ = 0;
  std::mutex mu_;
  std::deque<v1::SecAggDown> queue_;
  bool writing_ = false, finished_ = false;
  std::optional<grpc::Status> finish_status_;
};

void SinkProxy::deliver(const secagg::pb::ServerToClient& message, std::uint64_t deadline_unix_ms) {
  std::lock_guard g(mu);
  if (reactor) reactor->enqueue(message, deadline_unix_ms);
}

void SinkProxy::close(const std::string&) {
  std::lock_guard g(mu);
  if (reactor) reactor->finish_when_idle(grpc::Status::OK);
}

}  // namespace

grpc::ServerBidiReactor<v1::SecAggUp, v1::SecAggDown>* make_secagg(FederationService& svc,
                                                                   grpc::CallbackServerContext* ctx) {
  return new SecAggReactor(svc, ctx);
}

}  // namespace fedlora::coordinator::reactors
