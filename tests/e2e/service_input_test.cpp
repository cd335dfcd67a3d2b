// The coordinator's gRPC service in this process, fed bad input on purpose. Every call
// authenticates; every malformed or out-of-range field, wrong length, NaN/Inf, unknown
// device, stale round or token, replayed chunk, wrong hash, oversized chunk and plain upload
// to a SecAgg round gets its precise status, and the round's sum is exactly that of the good
// uploads. Random bytes and mutated messages sent to every RPC never crash the server.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <random>
#include <thread>

#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/protocol/payload.h"
#include "coordinator/service/federation_service.h"
#include "coordinator/service/round_service.h"
#include "lora/adapter/adapter_io.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/llama_config.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/random.h"
#include "tests/e2e/tiny_model.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace fedlora::test {
namespace {
using coordinator::FederationService;
using coordinator::RoundService;

std::string token_of(int i) { return "token-of-device-" + std::to_string(i) + "-0123456789"; }

std::string identity_of(int i) {
  secagg::crypto::DeterministicRandom rng(static_cast<std::uint64_t>(i), "identity");
  const auto pk = secagg::crypto::Ed25519PrivateKey::generate(rng).public_key();
  return std::string(pk.begin(), pk.end());
}

// A coordinator service in this process on an ephemeral port. The test drives its round
// loop with tick().
struct LiveService {
  TempDir dir{"fedlora_service"};
  std::unique_ptr<RoundService> rounds;
  std::unique_ptr<FederationService> service;
  std::unique_ptr<grpc::Server> server;
  std::shared_ptr<grpc::Channel> channel;
  std::string base_sha;
  TestPki pki;

  LiveService(int devices, const std::string& job, bool mtls = false) {
    write_tiny_model(dir / "tiny.gguf", 3);
    std::ofstream tokens(dir / "devices.tokens");
    for (int i = 0; i < devices; ++i) tokens << "dev" << i << " " << token_of(i) << "\n";
    tokens.close();
    if (mtls) pki = make_test_pki(dir / "pki", {"dev0"});
    std::ofstream conf(dir / "c.toml");
    conf << "[model]\nbase = \"" << (dir / "tiny.gguf").string() << "\"\n" << job << "\n[serve]\n"
         << "tokens_file = \"" << (dir / "devices.tokens").string() << "\"\nstate_dir = \"" << (dir / "state").string()
         << "\"\nover_selection = 1.0\n";
    if (mtls)
      conf << "tls_cert = \"" << pki.server_cert.string() << "\"\ntls_key = \"" << pki.server_key.string()
           << "\"\nclient_ca = \"" << pki.ca_cert.string() << "\"\n";
    conf.close();
    const auto cfg = coordinator::load_serve_config(dir / "c.toml", {});
    rounds = std::make_unique<RoundService>(cfg);
    service = std::make_unique<FederationService>(*rounds, coordinator::AuthPolicy{true, mtls});
    grpc::ServerBuilder b;
    int port = 0;
    std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
    if (mtls) {
      grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      o.pem_key_cert_pairs.push_back({read(pki.server_key), read(pki.server_cert)});
      o.pem_root_certs = read(pki.ca_cert);
      creds = grpc::SslServerCredentials(o);
    }
    b.AddListeningPort("127.0.0.1:0", creds, &port);
    b.RegisterService(service.get());
    server = b.BuildAndStart();
    channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
    const auto d = protocol::sha256_of_file(dir / "tiny.gguf");
    base_sha.assign(d.begin(), d.end());
    address = "127.0.0.1:" + std::to_string(port);
  }
  ~LiveService() { server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1)); }

  static std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::unique_ptr<v1::Federation::Stub> stub() const { return v1::Federation::NewStub(channel); }
  static void as_device(grpc::ClientContext& ctx, int i) { ctx.AddMetadata("authorization", "Bearer " + token_of(i)); }

  grpc::Status check_in(int i, v1::CheckInResponse* resp, const std::function<void(v1::CheckInRequest&)>& edit = {}) {
    grpc::ClientContext ctx;
    as_device(ctx, i);
    v1::CheckInRequest req;
    req.set_device_id("dev" + std::to_string(i));
    req.set_base_model_sha256(base_sha);
    req.set_num_examples(10 + i);
    req.set_runtime_version("test");
    req.set_identity_public_key(identity_of(i));
    if (edit) edit(req);
    return stub()->CheckIn(&ctx, req, resp);
  }
  std::string address;
};

// Sends a header and chunks; returns the final status.
grpc::Status upload(const LiveService& s, int device, std::uint64_t round, std::uint64_t token, const std::string& payload,
                    double weight, const std::function<void(std::vector<v1::UploadMessage>&)>& edit = {}) {
  std::vector<v1::UploadMessage> msgs(1);
  auto* h = msgs[0].mutable_header();
  h->set_round(round);
  h->set_round_token(token);
  h->set_weight(weight);
  const auto d = protocol::sha256_of(payload);
  h->mutable_payload()->set_size_bytes(payload.size());
  h->mutable_payload()->set_sha256(d.data(), d.size());
  for (const auto& c : protocol::split_chunks(payload)) {
    v1::UploadMessage m;
    m.mutable_chunk()->set_offset(c.offset);
    m.mutable_chunk()->set_data(c.data.data(), c.data.size());
    msgs.push_back(m);
  }
  if (edit) edit(msgs);
  grpc::ClientContext ctx;
  LiveService::as_device(ctx, device);
  v1::UploadAck ack;
  auto w = s.stub()->UploadUpdate(&ctx, &ack);
  for (const auto& m : msgs)
    if (!w->Write(m)) break;
  w->WritesDone();
  return w->Finish();
}

const char* kPlainJob = "[lora]\nrank = 2\ntarget_modules = [\"q\"]\n[federation]\nrounds = 2\ncohort_size = 6\n";

TEST(ServiceInput, EveryRpcRefusesUnauthenticatedCalls) {
  LiveService s(2, kPlainJob);
  for (const std::string& header : {std::string(), std::string("Bearer not-a-token-0000000000"), std::string("Basic abc")}) {
    auto with = [&](grpc::ClientContext& c) {
      if (!header.empty()) c.AddMetadata("authorization", header);
    };
    grpc::ClientContext c1;
    with(c1);
    v1::CheckInResponse r;
    EXPECT_EQ(s.stub()->CheckIn(&c1, {}, &r).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext c2;
    with(c2);
    v1::RoundResult rr;
    EXPECT_EQ(s.stub()->GetRoundResult(&c2, {}, &rr).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext c3;
    with(c3);
    auto reader = s.stub()->DownloadAdapter(&c3, {});
    v1::Chunk ch;
    while (reader->Read(&ch)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext c4;
    with(c4);
    v1::UploadAck ack;
    auto w = s.stub()->UploadUpdate(&c4, &ack);
    w->WritesDone();
    EXPECT_EQ(w->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext c5;
    with(c5);
    auto bidi = s.stub()->SecAggExchange(&c5);
    bidi->WritesDone();
    v1::SecAggDown down;
    while (bidi->Read(&down)) {
    }
    EXPECT_EQ(bidi->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_GE(s.rounds->counters()["CheckIn.refused"], 3u);
}

TEST(ServiceInput, CheckInValidatesEveryField) {
  LiveService s(2, kPlainJob);
  v1::CheckInResponse r;
  EXPECT_TRUE(s.check_in(0, &r).ok());
  EXPECT_TRUE(r.has_retry());  // no round yet: come back later
  EXPECT_EQ(s.check_in(0, &r, [](auto& q) { q.set_device_id("dev1"); }).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.check_in(0, &r, [](auto& q) { q.set_base_model_sha256("xyz"); }).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.check_in(0, &r, [](auto& q) { q.set_base_model_sha256(std::string(32, 'z')); }).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);  // another base model
  EXPECT_EQ(s.check_in(0, &r, [](auto& q) { q.set_runtime_version(std::string(65, 'v')); }).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.check_in(0, &r, [](auto& q) { q.set_num_examples(-1); }).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.check_in(0, &r, [](auto& q) { q.set_identity_public_key("short"); }).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // The identity registered at first check-in never changes silently.
  EXPECT_EQ(s.check_in(0, &r, [](auto& q) { q.set_identity_public_key(identity_of(1)); }).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST(ServiceInput, BadUploadsGetTheirStatusAndTheSumHoldsOnlyTheGoodOnes) {
  LiveService s(7, kPlainJob);  // dev6 is enrolled but never selected
  v1::CheckInResponse r;
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(s.check_in(i, &r).ok());
  s.rounds->tick();  // six devices available: round 1 opens with all of them
  std::map<int, v1::TaskAssignment> task;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(s.check_in(i, &r).ok());
    ASSERT_TRUE(r.has_task()) << i;
    task[i] = r.task();
  }
  const auto in = protocol::from_proto(task[0].instructions());
  const std::size_t d = static_cast<std::size_t>(in.adapter.dimension);
  const std::uint64_t round = task[0].round(), tok = task[0].round_token();
  // θ_0, as a device downloads it.
  grpc::ClientContext dc;
  LiveService::as_device(dc, 0);
  v1::DownloadRequest dr;
  dr.set_round(round);
  dr.set_round_token(tok);
  auto reader = s.stub()->DownloadAdapter(&dc, dr);
  std::string theta_bytes;
  for (v1::Chunk c; reader->Read(&c);) theta_bytes += c.data();
  ASSERT_TRUE(reader->Finish().ok());
  const auto theta0 = protocol::decode_floats(theta_bytes, d);

  auto payload = [&](float value, double weight) {
    std::vector<float> v(d, static_cast<float>(value * weight));
    return protocol::encode_floats(v);
  };
  using C = grpc::StatusCode;
  // Refused before the channel: the device may still send a good upload afterwards.
  EXPECT_EQ(upload(s, 0, round, tok, payload(1, 1) + "xxxx", 1).error_code(), C::INVALID_ARGUMENT);  // wrong length
  EXPECT_EQ(upload(s, 0, round + 1, tok, payload(1, 1), 1).error_code(), C::FAILED_PRECONDITION);     // stale round id
  EXPECT_EQ(upload(s, 0, round, tok ^ 1, payload(1, 1), 1).error_code(), C::FAILED_PRECONDITION);     // stale token
  EXPECT_EQ(upload(s, 6, round, tok, payload(1, 1), 1).error_code(), C::PERMISSION_DENIED);           // not in the cohort
  EXPECT_EQ(upload(s, 0, round, tok, payload(1, 1), 1, [](auto& m) { m[0].mutable_header()->mutable_payload()->set_sha256(std::string(32, 'h')); })
                .error_code(),
            C::INVALID_ARGUMENT);  // wrong hash
  EXPECT_EQ(upload(s, 0, round, tok, payload(1, 1), 1, [](auto& m) { m.push_back(m[1]); }).error_code(),
            C::INVALID_ARGUMENT);  // replayed chunk
  EXPECT_EQ(upload(s, 0, round, tok, payload(1, 1), 1, [](auto& m) { m.erase(m.begin()); }).error_code(),
            C::INVALID_ARGUMENT);  // no header
  EXPECT_EQ(upload(s, 0, round, tok, payload(1, 1), std::nan(""), {}).error_code(), C::INVALID_ARGUMENT);
  EXPECT_EQ(upload(s, 0, round, tok, payload(1, 1), 1,
                   [](auto& m) { m[1].mutable_chunk()->set_data(std::string(protocol::kMaxChunkBytes + 1, 'a')); })
                .error_code(),
            C::INVALID_ARGUMENT);  // oversized chunk
  // Refused by the channel: the device is out of the round.
  std::vector<float> nan(d, 0.5f);
  nan[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(upload(s, 1, round, tok, protocol::encode_floats(nan), 1).error_code(), C::INVALID_ARGUMENT);
  std::vector<float> inf(d, 0.5f);
  inf[0] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(upload(s, 2, round, tok, protocol::encode_floats(inf), 1).error_code(), C::INVALID_ARGUMENT);
  EXPECT_EQ(upload(s, 3, round, tok, payload(1, 1000), 1000).error_code(), C::INVALID_ARGUMENT);  // weight > max
  EXPECT_EQ(upload(s, 1, round, tok, payload(1, 1), 11).error_code(), C::FAILED_PRECONDITION);   // already out
  // Good uploads: Δ = 0.1 (weight 10), 0.2 (weight 14), -0.3 (weight 15).
  ASSERT_TRUE(upload(s, 0, round, tok, payload(0.1f, 10), 10).ok());
  EXPECT_EQ(upload(s, 0, round, tok, payload(0.1f, 10), 10).error_code(), C::ALREADY_EXISTS);
  ASSERT_TRUE(upload(s, 4, round, tok, payload(0.2f, 14), 14).ok());
  ASSERT_TRUE(upload(s, 5, round, tok, payload(-0.3f, 15), 15).ok());
  s.rounds->tick();  // every member has answered: the round closes
  const auto result = s.rounds->round_result(round);
  ASSERT_EQ(result.status, coordinator::RoundResultInfo::Status::kCompleted) << result.abort_reason;
  EXPECT_EQ(result.contributors, 3);
  // FedAvg by hand: θ1 = θ0 + (10·0.1 + 14·0.2 + 15·(−0.3)) / (10 + 14 + 15).
  const double mean = (float(0.1f * 10) + float(0.2f * 14) + float(-0.3f * 15)) / 39.0;
  const auto file = lora::gguf::GgufFile::open(s.dir / "tiny.gguf");
  const auto layout = lora::make_adapter_layout(lora::read_llama_config(file), in.adapter.rank, in.adapter.alpha,
                                                in.adapter.target_modules);
  const auto theta1 = lora::read_adapter_weights(s.dir / "state" / "checkpoints" / "round-00000001", layout);
  ASSERT_EQ(theta1.size(), d);
  for (std::size_t i = 0; i < d; ++i) ASSERT_NEAR(theta1[i], theta0[i] + mean, 1e-6) << i;
}

const char* kSecAggJob =
    "[lora]\nrank = 2\n[federation]\nrounds = 1\ncohort_size = 3\n[secagg]\nenabled = true\ngraph = \"complete\"\nthreshold = 2\n";

// Enrols the 3 devices of kSecAggJob, opens its round and returns device 0's task.
v1::TaskAssignment open_secagg_round(LiveService& s) {
  v1::CheckInResponse r;
  for (int i = 0; i < 3; ++i) s.check_in(i, &r);
  s.rounds->tick();
  EXPECT_TRUE(s.check_in(0, &r).ok());
  EXPECT_TRUE(r.has_task());
  return r.task();
}

TEST(ServiceInput, PlainUploadToASecAggRoundIsRefused) {
  LiveService s(3, kSecAggJob);
  v1::CheckInResponse r;
  for (int i = 0; i < 3; ++i) s.check_in(i, &r);
  s.rounds->tick();
  ASSERT_TRUE(s.check_in(0, &r).ok());
  ASSERT_TRUE(r.has_task());
  EXPECT_TRUE(r.task().instructions().has_secagg());
  const auto status = upload(s, 0, r.task().round(), r.task().round_token(), std::string(16, '\0'), 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("secure aggregation"), std::string::npos);
}

// A SecAgg member that has opened its stream is not handed the round's task again: it
// could not rejoin the protocol, and training a second time would spend its privacy budget
// twice. (The simulator over gRPC once counted such a second local round in its metrics.)
TEST(ServiceInput, ASecAggMemberIsNotGivenItsRoundAgain) {
  LiveService s(3, kSecAggJob);
  const auto task = open_secagg_round(s);
  ASSERT_FALSE(HasFailure());
  v1::CheckInResponse r;
  ASSERT_TRUE(s.check_in(0, &r).ok());  // before its stream opens, a device may fetch its task again
  ASSERT_TRUE(r.has_task());

  grpc::ClientContext ctx;
  LiveService::as_device(ctx, 0);
  auto stream = s.stub()->SecAggExchange(&ctx);
  v1::SecAggUp up;
  up.set_round(task.round());
  up.set_round_token(task.round_token());
  up.mutable_header()->set_size_bytes(16);
  up.mutable_header()->set_sha256(std::string(32, '\0'));
  ASSERT_TRUE(stream->Write(up));
  // The service attaches the stream when it reads the first frame; poll until it has.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(s.check_in(0, &r).ok());
    if (r.has_retry()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(r.has_retry()) << "the task was offered again after the device joined SecAgg";
  EXPECT_NE(r.retry().reason().find("already took part"), std::string::npos) << r.retry().reason();
  ctx.TryCancel();
  stream->Finish();
}

// Random bytes and mutated valid messages to every method through the generic stub.
grpc::Status raw_call(const std::shared_ptr<grpc::Channel>& ch, const std::string& method,
                      const std::vector<std::string>& messages, int device) {
  grpc::GenericStub generic(ch);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (device >= 0) LiveService::as_device(ctx, device);
  auto call = generic.PrepareCall(&ctx, method, &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](void* t) {
    cq.Next(&tag, &ok);
    return ok && tag == t;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  bool alive = step(reinterpret_cast<void*>(1));
  for (const auto& m : messages) {
    if (!alive) break;
    grpc::Slice slice(m);
    grpc::ByteBuffer buf(&slice, 1);
    call->Write(buf, reinterpret_cast<void*>(2));
    alive = step(reinterpret_cast<void*>(2));
  }
  if (alive) {
    call->WritesDone(reinterpret_cast<void*>(3));
    alive = step(reinterpret_cast<void*>(3));
  }
  grpc::ByteBuffer resp;
  for (int i = 0; alive && i < 4; ++i) {
    call->Read(&resp, reinterpret_cast<void*>(4));
    alive = step(reinterpret_cast<void*>(4));
  }
  grpc::Status st;
  call->Finish(&st, reinterpret_cast<void*>(5));
  while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(5)) {
  }
  return st;
}

TEST(ServiceInput, RandomBytesAndMutatedMessagesToEveryRpcNeverCrashTheServer) {
  LiveService s(3, kSecAggJob);
  const auto task = open_secagg_round(s);
  ASSERT_FALSE(HasFailure());
  // Valid messages of every method, to mutate.
  v1::CheckInRequest ci;
  ci.set_device_id("dev0");
  ci.set_base_model_sha256(s.base_sha);
  v1::DownloadRequest dl;
  dl.set_round(task.round());
  dl.set_round_token(task.round_token());
  v1::UploadMessage uh;
  uh.mutable_header()->set_round(task.round());
  uh.mutable_header()->set_round_token(task.round_token());
  uh.mutable_header()->mutable_payload()->set_size_bytes(8);
  v1::SecAggUp su;
  su.set_round(task.round());
  su.set_round_token(task.round_token());
  su.mutable_header()->set_size_bytes(16);
  su.mutable_header()->set_sha256(std::string(32, 's'));
  v1::RoundResultRequest rr;
  rr.set_round(1);
  const std::vector<std::pair<std::string, std::string>> methods{
      {"/fedlora.v1.Federation/CheckIn", ci.SerializeAsString()},
      {"/fedlora.v1.Federation/DownloadAdapter", dl.SerializeAsString()},
      {"/fedlora.v1.Federation/UploadUpdate", uh.SerializeAsString()},
      {"/fedlora.v1.Federation/SecAggExchange", su.SerializeAsString()},
      {"/fedlora.v1.Federation/GetRoundResult", rr.SerializeAsString()}};
  std::mt19937_64 rng(20261203);
  int calls = 0;
  for (const auto& [method, valid] : methods) {
    for (int trial = 0; trial < 60; ++trial) {
      std::vector<std::string> msgs;
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < n; ++k) {
        std::string m;
        if (trial % 2 == 0) {  // random bytes
          m.resize(rng() % 200);
          for (auto& c : m) c = static_cast<char>(rng());
        } else {  // a valid message with bytes flipped, cut or grown
          m = valid;
          for (int f = 0; f < 1 + static_cast<int>(rng() % 4) && !m.empty(); ++f) m[rng() % m.size()] ^= static_cast<char>(1 + rng() % 255);
          if (rng() % 3 == 0) m.resize(rng() % (m.size() + 8));
        }
        msgs.push_back(m);
      }
      raw_call(s.channel, method, msgs, static_cast<int>(rng() % 4) - 1);
      ++calls;
    }
  }
  EXPECT_EQ(calls, 300);
  // Still serving, and the round is still open. A member whose token opened a SecAgg stream
  // (with mutated frames) has joined and been dropped, so it may only be told to wait.
  for (int i = 0; i < 3; ++i) {
    v1::CheckInResponse after;
    ASSERT_TRUE(s.check_in(i, &after).ok());
    if (!after.has_task()) EXPECT_NE(after.retry().reason().find("already took part"), std::string::npos) << after.retry().reason();
  }
  EXPECT_EQ(s.rounds->round_result(task.round()).status, coordinator::RoundResultInfo::Status::kOpen);
}

TEST(ServiceInput, MutualTlsAuthenticatesDevicesByCertificate) {
  LiveService s(1, kPlainJob, /*mtls=*/true);
  auto call = [&](const std::string& cert, const std::string& key, const std::string& ca) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ca;
    o.pem_cert_chain = cert;
    o.pem_private_key = key;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto ch = grpc::CreateCustomChannel(s.address, grpc::SslCredentials(o), args);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::CheckInRequest req;
    req.set_device_id("dev0");
    req.set_base_model_sha256(s.base_sha);
    v1::CheckInResponse resp;
    return v1::Federation::NewStub(ch)->CheckIn(&ctx, req, &resp);
  };
  const std::string ca = LiveService::read(s.pki.ca_cert);
  EXPECT_TRUE(call(LiveService::read(s.pki.client_cert("dev0")), LiveService::read(s.pki.client_key("dev0")), ca).ok());
  EXPECT_FALSE(call("", "", ca).ok());  // no client certificate: the handshake fails
  const auto other = make_test_pki(s.dir / "other-ca", {"dev0"});
  EXPECT_FALSE(call(LiveService::read(other.client_cert("dev0")), LiveService::read(other.client_key("dev0")), ca).ok());
  EXPECT_TRUE(s.rounds->known_device("dev0"));
}

}  // namespace
}  // namespace fedlora::test
