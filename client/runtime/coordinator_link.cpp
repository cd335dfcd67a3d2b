#include "client/runtime/coordinator_link.h"

#include <fstream>
#include <sstream>

#include "coordinator/protocol/errors.h"

namespace fedlora::client {
namespace {

std::string read_file(const std::filesystem::path& p, const char* what) {
  std::ifstream in(p);
  if (!in) throw LinkError(grpc::StatusCode::INVALID_ARGUMENT, std::string("cannot read ") + what + " " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

[[noreturn]] void raise(const grpc::Status& st, const char* call) {
  throw LinkError(st.error_code(), std::string(call) + ": " + st.error_message() + " (gRPC code " +
                                       std::to_string(static_cast<int>(st.error_code())) + ")");
}

class GrpcSecAggStream final : public SecAggStream {
 public:
  GrpcSecAggStream(v1::Federation::Stub& stub, std::unique_ptr<grpc::ClientContext> ctx, std::uint64_t round,
                   std::uint64_t token)
      : ctx_(std::move(ctx)), stream_(stub.SecAggExchange(ctx_.get())), round_(round), token_(token) {}

  void send(const secagg::pb::ClientToServer& message) override {
    const std::string bytes = message.SerializeAsString();
    const auto digest = protocol::sha256_of(bytes);
    v1::SecAggUp head;
    head.set_round(round_);
    head.set_round_token(token_);
    head.mutable_header()->set_size_bytes(bytes.size());
    head.mutable_header()->set_sha256(digest.data(), digest.size());
    if (!stream_->Write(head)) closed();
    for (const auto& c : protocol::split_chunks(bytes)) {
      v1::SecAggUp up;
      up.set_round(round_);
      up.set_round_token(token_);
      up.mutable_chunk()->set_offset(c.offset);
      up.mutable_chunk()->set_data(c.data.data(), c.data.size());
      if (!stream_->Write(up)) closed();
    }
  }

  std::optional<std::pair<secagg::pb::ServerToClient, std::uint64_t>> receive() override {
    std::optional<protocol::PayloadAssembler> assembler;
    std::uint64_t deadline = 0;
    v1::SecAggDown d;
    while (stream_->Read(&d)) {
      deadline = d.stage_deadline_unix_ms();
      if (d.has_header()) {
        if (assembler) throw LinkError(grpc::StatusCode::INTERNAL, "coordinator started a message before finishing one");
        assembler.emplace(d.header().size_bytes(), d.header().sha256(), std::uint64_t{1} << 31);
      } else if (d.has_chunk() && assembler) {
        assembler->add(d.chunk().offset(), d.chunk().data());
      } else {
        throw LinkError(grpc::StatusCode::INTERNAL, "malformed SecAgg frame from the coordinator");
      }
      if (assembler->complete()) {
        secagg::pb::ServerToClient msg;
        if (!msg.ParseFromString(assembler->take()))
          throw LinkError(grpc::StatusCode::INTERNAL, "SecAgg message from the coordinator does not parse");
        return std::make_pair(std::move(msg), deadline);
      }
    }
    return std::nullopt;
  }

  [[noreturn]] void closed() {
    finish();
    throw LinkError(grpc::StatusCode::UNAVAILABLE, "SecAggExchange: the coordinator closed the stream");
  }

  void finish() override {
    if (done_) return;
    done_ = true;
    stream_->WritesDone();
    const grpc::Status st = stream_->Finish();
    if (!st.ok()) raise(st, "SecAggExchange");
  }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SecAggUp, v1::SecAggDown>> stream_;
  std::uint64_t round_, token_;
  bool done_ = false;
};

}  // namespace

bool LinkError::transient() const {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN: return true;
    default: return false;
  }
}

CoordinatorLink::CoordinatorLink(const LinkOptions& o) : options_(o) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.insecure) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!o.ca.empty()) ssl.pem_root_certs = read_file(o.ca, "--ca");
    if (!o.cert.empty()) {
      ssl.pem_cert_chain = read_file(o.cert, "--cert");
      ssl.pem_private_key = read_file(o.key, "--key");
    }
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  if (!o.server_name_override.empty()) args.SetSslTargetNameOverride(o.server_name_override);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);  // the runtime retries with its own backoff
  channel_ = grpc::CreateCustomChannel(o.address, creds, args);
  stub_ = v1::Federation::NewStub(channel_);
}

void CoordinatorLink::prepare(grpc::ClientContext& ctx, std::chrono::milliseconds timeout) const {
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!options_.token.empty()) ctx.AddMetadata("authorization", "Bearer " + options_.token);
}

v1::CheckInResponse CoordinatorLink::check_in(const v1::CheckInRequest& request) {
  grpc::ClientContext ctx;
  prepare(ctx, options_.call_timeout);
  v1::CheckInResponse resp;
  const grpc::Status st = stub_->CheckIn(&ctx, request, &resp);
  if (!st.ok()) raise(st, "CheckIn");
  return resp;
}

std::string CoordinatorLink::download(std::uint64_t round, std::uint64_t token, const v1::PayloadInfo& adapter) {
  try {
    protocol::PayloadAssembler assembler(adapter.size_bytes(), adapter.sha256(), std::uint64_t{1} << 32);
    grpc::ClientContext ctx;
    prepare(ctx, options_.call_timeout * 4);
    v1::DownloadRequest req;
    req.set_round(round);
    req.set_round_token(token);
    auto reader = stub_->DownloadAdapter(&ctx, req);
    v1::Chunk chunk;
    while (reader->Read(&chunk)) assembler.add(chunk.offset(), chunk.data());
    const grpc::Status st = reader->Finish();
    if (!st.ok()) raise(st, "DownloadAdapter");
    return assembler.take();  // size and SHA-256 checked
  } catch (const protocol::ProtocolError& e) {
    throw LinkError(grpc::StatusCode::DATA_LOSS, std::string("DownloadAdapter: ") + e.what());
  }
}

v1::UploadAck CoordinatorLink::upload(std::uint64_t round, std::uint64_t token, const protocol::PlainUpload& upload) {
  const std::string bytes = protocol::encode_floats(upload.values);
  const auto digest = protocol::sha256_of(bytes);
  grpc::ClientContext ctx;
  prepare(ctx, options_.call_timeout * 4);
  v1::UploadAck ack;
  auto writer = stub_->UploadUpdate(&ctx, &ack);
  v1::UploadMessage head;
  auto* h = head.mutable_header();
  h->set_round(round);
  h->set_round_token(token);
  h->set_weight(upload.weight);
  h->mutable_payload()->set_size_bytes(bytes.size());
  h->mutable_payload()->set_sha256(digest.data(), digest.size());
  bool ok = writer->Write(head);
  for (const auto& c : protocol::split_chunks(bytes)) {
    if (!ok) break;
    v1::UploadMessage m;
    m.mutable_chunk()->set_offset(c.offset);
    m.mutable_chunk()->set_data(c.data.data(), c.data.size());
    ok = writer->Write(m);
  }
  writer->WritesDone();
  const grpc::Status st = writer->Finish();
  if (!st.ok()) raise(st, "UploadUpdate");
  return ack;
}

std::unique_ptr<SecAggStream> CoordinatorLink::open_secagg(std::uint64_t round, std::uint64_t token,
                                                           std::chrono::system_clock::time_point deadline) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(deadline);
  if (!options_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options_.token);
  return std::make_unique<GrpcSecAggStream>(*stub_, std::move(ctx), round, token);
}

v1::RoundResult CoordinatorLink::round_result(std::uint64_t round) {
  grpc::ClientContext ctx;
  prepare(ctx, options_.call_timeout);
  v1::RoundResultRequest req;
  req.set_round(round);
  v1::RoundResult r;
  const grpc::Status st = stub_->GetRoundResult(&ctx, req, &r);
  if (!st.ok()) raise(st, "GetRoundResult");
  return r;
}

}  // namespace fedlora::client
