// Fuzz body of the coordinator's gRPC handlers (FederationService over RoundService): a
// service on the committed base model, in this process on an ephemeral loopback port, with
// a virtual clock, four bearer-token devices and a plain job (cohort 2). The input is a
// script of calls; tokens, device ids, the base hash and round tokens can be patched in so
// that mutated calls get past authentication and reach the round.
//
// Script: repeated [op][len][len bytes of body]. op bits 0-2 = call, bits 3-4 = device,
// bits 5-7 = flags (per call below). The service persists across inputs, as a deployed one
// does; every call must end with a precise status: INTERNAL or UNKNOWN from a handler means
// bad input reached code that did not expect it (the handlers' "never throw" contract).
#include <grpcpp/generic/generic_stub.h>
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "coordinator/protocol/payload.h"
#include "coordinator/service/federation_service.h"
#include "coordinator/service/round_service.h"
#include "fuzz/targets/fuzz_targets.h"
#include "fuzz/targets/fuzz_util.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/random.h"

namespace fedlora::fuzz {
namespace {

namespace fs = std::filesystem;
constexpr int kDevices = 4;

std::string token_of(int i) { return "fuzz-token-of-device-" + std::to_string(i); }

std::string identity_of(int i) {
  secagg::crypto::DeterministicRandom rng(static_cast<std::uint64_t>(i), "identity");
  const auto pk = secagg::crypto::Ed25519PrivateKey::generate(rng).public_key();
  return std::string(pk.begin(), pk.end());
}

struct Service {
  std::atomic<std::int64_t> now_ms{1'700'000'000'000};
  std::unique_ptr<coordinator::RoundService> rounds;
  std::unique_ptr<coordinator::FederationService> service;
  std::unique_ptr<grpc::Server> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Federation::Stub> stub;
  std::string base_sha;
  std::array<v1::TaskAssignment, kDevices> task;  // the last task each device was given

  Service() {
    // Every refused call is logged; at fuzzing rates that is all the output would show.
    spdlog::set_level(spdlog::level::off);
    google::protobuf::SetLogHandler(nullptr);
    const auto dir = scratch_dir() / "service";
    fs::create_directories(dir);
    const auto base = fs::absolute("models/base.gguf");
    {
      std::ofstream tokens(dir / "devices.tokens");
      for (int i = 0; i < kDevices; ++i) tokens << "dev" << i << " " << token_of(i) << "\n";
      std::ofstream conf(dir / "serve.toml");
      conf << "[model]\nbase = \"" << base.string() << "\"\n[lora]\nrank = 2\ntarget_modules = [\"q\"]\n"
           << "[federation]\nrounds = 1000000\ncohort_size = 2\n[serve]\ntokens_file = \""
           << (dir / "devices.tokens").string() << "\"\nstate_dir = \"" << (dir / "state").string() << "\"\n"
           << "over_selection = 1.0\ncheckin_retry_ms = 10\navailable_ttl_ms = 60000\n"
           << "train_deadline_ms = 30000\nstage_deadline_ms = 10000\n";
    }
    rounds = std::make_unique<coordinator::RoundService>(coordinator::load_serve_config(dir / "serve.toml", {}),
                                                         [this] { return now_ms.load(); });
    service = std::make_unique<coordinator::FederationService>(*rounds, coordinator::AuthPolicy{true, false});
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service.get());
    server = b.BuildAndStart();
    if (!server || port == 0) fail("cannot start the fuzzed gRPC service on 127.0.0.1");
    channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
    stub = v1::Federation::NewStub(channel);
    const auto d = protocol::sha256_of_file(base);
    base_sha.assign(d.begin(), d.end());
  }

  void authorise(grpc::ClientContext& ctx, int dev, bool bad_token) const {
    ctx.AddMetadata("authorization", "Bearer " + (bad_token ? token_of(dev) + "x" : token_of(dev)));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  }
};

// A handler's answer must be a precise status, never INTERNAL (an exception it did not
// expect) or UNKNOWN.
void check(const grpc::Status& st, const char* rpc) {
  if (st.error_code() == grpc::StatusCode::INTERNAL || st.error_code() == grpc::StatusCode::UNKNOWN) {
    std::fprintf(stderr, "%s: status %d: %s\n", rpc, static_cast<int>(st.error_code()), st.error_message().c_str());
    fail("a handler answered INTERNAL/UNKNOWN: bad input reached code that did not expect it");
  }
}

template <class Msg>
Msg parse_or_empty(std::string_view bytes) {
  Msg m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) m.Clear();
  return m;
}

// Body = repeated [u8 length][message bytes].
template <class Msg>
std::vector<Msg> parse_list(std::string_view body) {
  std::vector<Msg> out;
  for (std::size_t p = 0; p < body.size();) {
    const std::size_t n = std::min<std::size_t>(static_cast<unsigned char>(body[p]), body.size() - p - 1);
    out.push_back(parse_or_empty<Msg>(body.substr(p + 1, n)));
    p += 1 + n;
  }
  return out;
}

// flags: 1 = patch device id, base hash and identity to valid ones, 2 = wrong token.
void check_in(Service& s, int dev, int flags, std::string_view body) {
  auto req = parse_or_empty<v1::CheckInRequest>(body);
  if (flags & 1) {
    req.set_device_id("dev" + std::to_string(dev));
    req.set_base_model_sha256(s.base_sha);
    req.set_identity_public_key(identity_of(dev));
    if (req.runtime_version().size() > 64) req.set_runtime_version("fuzz");
  }
  grpc::ClientContext ctx;
  s.authorise(ctx, dev, flags & 2);
  v1::CheckInResponse resp;
  const auto st = s.stub->CheckIn(&ctx, req, &resp);
  check(st, "CheckIn");
  if (st.ok() && resp.has_task()) s.task[dev] = resp.task();
}

// flags: 1 = this device's round and token, 2 = wrong token.
void download(Service& s, int dev, int flags, std::string_view body) {
  auto req = parse_or_empty<v1::DownloadRequest>(body);
  if (flags & 1) {
    req.set_round(s.task[dev].round());
    req.set_round_token(s.task[dev].round_token());
  }
  grpc::ClientContext ctx;
  s.authorise(ctx, dev, flags & 2);
  auto reader = s.stub->DownloadAdapter(&ctx, req);
  v1::Chunk c;
  std::uint64_t next = req.offset();
  while (reader->Read(&c)) {
    if (c.offset() != next) fail("DownloadAdapter sent chunks out of order");
    next += c.data().size();
  }
  const auto st = reader->Finish();
  check(st, "DownloadAdapter");
  if (st.ok() && (flags & 1) && req.offset() <= s.task[dev].adapter().size_bytes() &&
      next != s.task[dev].adapter().size_bytes())
    fail("DownloadAdapter ended OK before the adapter's last byte");
}

grpc::Status send_upload(Service& s, int dev, bool bad_token, const std::vector<v1::UploadMessage>& msgs) {
  grpc::ClientContext ctx;
  s.authorise(ctx, dev, bad_token);
  v1::UploadAck ack;
  auto w = s.stub->UploadUpdate(&ctx, &ack);
  for (const auto& m : msgs)
    if (!w->Write(m)) break;
  w->WritesDone();
  return w->Finish();
}

// Raw messages. flags: 1 = patch the header's round and token, 2 = wrong token.
void upload_raw(Service& s, int dev, int flags, std::string_view body) {
  auto msgs = parse_list<v1::UploadMessage>(body);
  if (flags & 1)
    for (auto& m : msgs)
      if (m.has_header()) {
        m.mutable_header()->set_round(s.task[dev].round());
        m.mutable_header()->set_round_token(s.task[dev].round_token());
      }
  check(send_upload(s, dev, flags & 2, msgs), "UploadUpdate");
}

// A well-formed upload of this device's task (values from the body), then damaged on
// request. flags: 1 = wrong SHA-256, 2 = last chunk dropped, 4 = chunk of 1 byte replayed.
void upload_built(Service& s, int dev, int flags, std::string_view body) {
  const auto& t = s.task[dev];
  const std::uint64_t n = t.adapter().size_bytes() / 4;
  if (n == 0 || n > (1u << 22)) return;
  std::vector<float> values(n);
  for (std::uint64_t i = 0; i < n; ++i)
    values[i] = body.empty() ? 0.0f : static_cast<float>(static_cast<signed char>(body[i % body.size()])) / 512.0f;
  const std::string payload = protocol::encode_floats(values);
  auto digest = protocol::sha256_of(payload);
  if (flags & 1) digest[0] ^= 1;
  std::vector<v1::UploadMessage> msgs(1);
  auto* h = msgs[0].mutable_header();
  h->set_round(t.round());
  h->set_round_token(t.round_token());
  h->set_weight(body.empty() ? 1.0 : static_cast<unsigned char>(body[0]) / 16.0);
  h->mutable_payload()->set_size_bytes(payload.size());
  h->mutable_payload()->set_sha256(digest.data(), digest.size());
  for (const auto& c : protocol::split_chunks(payload, 64 * 1024)) {
    v1::UploadMessage m;
    m.mutable_chunk()->set_offset(c.offset);
    m.mutable_chunk()->set_data(c.data.data(), c.data.size());
    msgs.push_back(std::move(m));
  }
  if (flags & 2) msgs.pop_back();
  if ((flags & 4) && msgs.size() > 1) {
    v1::UploadMessage m;
    m.mutable_chunk()->set_offset(0);
    m.mutable_chunk()->set_data(payload.substr(0, 1));
    msgs.push_back(std::move(m));
  }
  check(send_upload(s, dev, false, msgs), "UploadUpdate");
}

// Raw SecAggUp frames. flags: 1 = patch round and token, 2 = wrong token.
void secagg(Service& s, int dev, int flags, std::string_view body) {
  auto msgs = parse_list<v1::SecAggUp>(body);
  if (flags & 1)
    for (auto& m : msgs) {
      m.set_round(s.task[dev].round());
      m.set_round_token(s.task[dev].round_token());
    }
  grpc::ClientContext ctx;
  s.authorise(ctx, dev, flags & 2);
  auto stream = s.stub->SecAggExchange(&ctx);
  for (const auto& m : msgs)
    if (!stream->Write(m)) break;
  stream->WritesDone();
  v1::SecAggDown down;
  while (stream->Read(&down)) {
  }
  check(stream->Finish(), "SecAggExchange");
}

void round_result(Service& s, int dev, int flags, std::string_view body) {
  auto req = parse_or_empty<v1::RoundResultRequest>(body);
  grpc::ClientContext ctx;
  s.authorise(ctx, dev, flags & 2);
  v1::RoundResult resp;
  check(s.stub->GetRoundResult(&ctx, req, &resp), "GetRoundResult");
}

// Any bytes as a request of any method (the server's own parsing); no status is required.
void raw_bytes(Service& s, int dev, int flags, std::string_view body) {
  static const char* methods[] = {"/fedlora.v1.Federation/CheckIn", "/fedlora.v1.Federation/GetRoundResult",
                                  "/fedlora.v1.Federation/DownloadAdapter", "/fedlora.v1.Federation/UploadUpdate"};
  grpc::GenericStub generic(s.channel);
  grpc::ClientContext ctx;
  s.authorise(ctx, dev, false);
  grpc::CompletionQueue cq;
  grpc::Slice slice(body.data(), body.size());
  grpc::ByteBuffer req(&slice, 1), resp;
  grpc::Status st;
  auto call = generic.PrepareUnaryCall(&ctx, methods[flags & 3], req, &cq);
  call->StartCall();
  call->Finish(&resp, &st, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace

void grpc_service(const std::uint8_t* data, std::size_t size) {
  static Service& s = *new Service;  // never destroyed: gRPC must not shut down in static destructors
  for (std::size_t p = 0; p + 2 <= size;) {
    const std::uint8_t op = data[p];
    const std::size_t len = std::min<std::size_t>(data[p + 1], size - p - 2);
    const auto body = as_text(data + p + 2, len);
    p += 2 + len;
    const int dev = (op >> 3) & 3, flags = op >> 5;
    switch (op & 7) {
      case 0: check_in(s, dev, flags, body); break;
      case 1: download(s, dev, flags, body); break;
      case 2: upload_raw(s, dev, flags, body); break;
      case 3: upload_built(s, dev, flags, body); break;
      case 4: secagg(s, dev, flags, body); break;
      case 5: round_result(s, dev, flags, body); break;
      case 6:  // time passes (body[0] seconds), then one step of the round loop
        s.now_ms += 1000 * (body.empty() ? 1 : static_cast<unsigned char>(body[0]));
        s.rounds->tick();
        break;
      default: raw_bytes(s, dev, flags, body); break;
    }
  }
}

}  // namespace fedlora::fuzz
