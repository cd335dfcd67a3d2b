// The round protocol both sides share: instructions survive their wire form and every
// out-of-range field is refused by name; chunked payloads are checked for gaps, replays,
// size and SHA-256; the job config round-trips through TOML.
#include <gtest/gtest.h>

#include <cmath>

#include "coordinator/config/job_config.h"
#include "coordinator/protocol/errors.h"
#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/protocol/payload.h"
#include "coordinator/protocol/weighting.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/random.h"
#include "tests/support/temp_dir.h"

namespace fedlora::protocol {
namespace {

RoundInstructions valid_instructions() {
  RoundInstructions in;
  in.round = 3;
  in.base_model_sha256.fill(0xAB);
  in.adapter = AdapterSpec{4, 8.0f, {lora::TargetModule::q, lora::TargetModule::v}, 1000};
  in.train = TrainInstructions{2, 8, 0.002, LocalOptimizerKind::kAdam, 5, 0.01, 77};
  in.weighting = WeightingInstructions{Weighting::kExampleCount, 0.0, 40.0};
  return in;
}

RoundInstructions with_secagg_and_dp() {
  RoundInstructions in = valid_instructions();
  in.weighting = WeightingInstructions{Weighting::kUniform, 0.0, 1.0};
  UserDpInstructions dp;
  dp.update = privacy::UserDpConfig{0.3, 1.5, privacy::NoiseMode::kDistributed, 4, 10};
  dp.update.max_corrupt_clients = 1;
  dp.update.min_survivors = 8;
  dp.report_clip_indicator = true;
  dp.clip_indicator_noise_stddev = 0.25;
  in.user_dp = dp;
  SecAggInstructions sa;
  secagg::RoundConfig rc;
  rc.session_id.fill(7);
  rc.round = 3;
  rc.num_clients = 10;
  rc.word_bits = 32;
  rc.params = secagg::SecAggParameters{secagg::GraphKind::kComplete, 9, 5};
  sa.fixed_point = secagg::FixedPointParams{4.0, 20, 10, 32, std::nullopt};
  rc.vector_length = 1001;  // d + the clip indicator, no weight coordinate
  std::vector<secagg::RosterEntry> roster;
  for (int u = 0; u < 10; ++u) {
    secagg::crypto::DeterministicRandom rng(static_cast<std::uint64_t>(u), "identity");
    roster.push_back({secagg::crypto::Ed25519PrivateKey::generate(rng).public_key(), std::nullopt});
  }
  rc.roster = secagg::make_roster(roster);
  sa.config = std::make_shared<const secagg::RoundConfig>(rc);
  sa.logical_id = 6;
  in.secagg = sa;
  return in;
}

// The round config is shared and immutable: a test edits a copy.
template <class F>
void edit_config(RoundInstructions& in, F f) {
  secagg::RoundConfig c = *in.secagg->config;
  f(c);
  in.secagg->config = std::make_shared<const secagg::RoundConfig>(c);
}

std::string error_of(const RoundInstructions& in) {
  try {
    in.validate();
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "";
}

TEST(RoundInstructions, SurviveTheWireForm) {
  for (const auto& in : {valid_instructions(), with_secagg_and_dp()}) {
    const auto back = from_proto(to_proto(in));
    EXPECT_EQ(back.round, in.round);
    EXPECT_EQ(back.base_model_sha256, in.base_model_sha256);
    EXPECT_EQ(back.adapter.rank, in.adapter.rank);
    EXPECT_EQ(back.adapter.alpha, in.adapter.alpha);
    EXPECT_EQ(back.adapter.target_modules, in.adapter.target_modules);
    EXPECT_EQ(back.adapter.dimension, in.adapter.dimension);
    EXPECT_EQ(back.train.lr, in.train.lr);
    EXPECT_EQ(back.train.shuffle_seed, in.train.shuffle_seed);
    EXPECT_EQ(back.train.max_steps, in.train.max_steps);
    EXPECT_EQ(back.weighting.kind, in.weighting.kind);
    EXPECT_EQ(back.weighting.max_weight, in.weighting.max_weight);
    EXPECT_EQ(back.user_dp.has_value(), in.user_dp.has_value());
    EXPECT_EQ(back.secagg.has_value(), in.secagg.has_value());
    EXPECT_EQ(back.upload_length(), in.upload_length());
  }
  const auto back = from_proto(to_proto(with_secagg_and_dp()));
  EXPECT_EQ(back.user_dp->update.min_contributors, 4);
  EXPECT_EQ(back.user_dp->update.max_corrupt_clients, 1);  // the device's noise depends on both
  EXPECT_EQ(back.user_dp->update.min_survivors, 8);
  EXPECT_EQ(back.user_dp->clip_indicator_noise_stddev, 0.25);
  EXPECT_EQ(back.secagg->logical_id, 6u);
  EXPECT_EQ(back.secagg->config->params.threshold, 5u);
  EXPECT_EQ(back.secagg->config->session_id, with_secagg_and_dp().secagg->config->session_id);
  EXPECT_EQ(back.secagg->config->roster, with_secagg_and_dp().secagg->config->roster);
  EXPECT_EQ(back.upload_length(), 1001);
}

TEST(RoundInstructions, RefuseEachBadFieldByName) {
  auto bad = [](auto mutate) {
    RoundInstructions in = with_secagg_and_dp();
    mutate(in);
    return error_of(in);
  };
  EXPECT_NE(bad([](auto& i) { i.round = 0; }).find("round"), std::string::npos);
  EXPECT_NE(bad([](auto& i) { i.adapter.rank = 0; }).find("adapter.rank"), std::string::npos);
  EXPECT_NE(bad([](auto& i) { i.adapter.alpha = NAN; }).find("adapter.alpha"), std::string::npos);
  EXPECT_NE(bad([](auto& i) { i.adapter.target_modules.push_back(lora::TargetModule::q); }).find("repeats"),
            std::string::npos);
  EXPECT_NE(bad([](auto& i) { i.train.lr = -1; }).find("train.lr"), std::string::npos);
  EXPECT_NE(bad([](auto& i) { i.train.epochs = 0; }).find("train.epochs"), std::string::npos);
  EXPECT_NE(bad([](auto& i) { i.weighting.kind = Weighting::kExampleCount; i.weighting.max_weight = 5; }).find("bounded weights"),
            std::string::npos);
  EXPECT_NE(bad([](auto& i) { i.user_dp->update.l2_norm_clip = 0; }).find("l2_norm_clip"), std::string::npos);
  EXPECT_NE(bad([](auto& i) { i.secagg->logical_id = 10; }).find("logical_id"), std::string::npos);
  EXPECT_NE(bad([](auto& i) { edit_config(i, [](auto& c) { c.round = 4; }); }).find("round differs"), std::string::npos);
  EXPECT_NE(bad([](auto& i) { edit_config(i, [](auto& c) { c.vector_length = 1000; }); }).find("vector_length"), std::string::npos);
  EXPECT_NE(bad([](auto& i) { i.secagg->fixed_point.max_contributors = 9; }).find("wrap"), std::string::npos);
  EXPECT_NE(bad([](auto& i) { i.secagg->fixed_point.weight_clip = 1.0; edit_config(i, [](auto& c) { c.vector_length = 1002; }); })
                .find("weight coordinate"),
            std::string::npos);
  EXPECT_EQ(error_of(with_secagg_and_dp()), "");
}

// FFA-LoRA: an update is the d_B lora_B floats, on the wire and in the upload length.
TEST(RoundInstructions, FreezeACarriesTheLoraBLengthAndIsChecked) {
  RoundInstructions in = valid_instructions();
  in.adapter.freeze_a = true;
  in.adapter.b_dimension = 480;
  EXPECT_EQ(error_of(in), "");
  EXPECT_EQ(in.upload_length(), 480);
  const auto back = from_proto(to_proto(in));
  EXPECT_TRUE(back.adapter.freeze_a);
  EXPECT_EQ(back.adapter.b_dimension, 480);
  EXPECT_EQ(back.upload_length(), 480);
  in.adapter.b_dimension = 1000;  // all of d is not a lora_B part
  EXPECT_NE(error_of(in).find("adapter.b_dimension"), std::string::npos);
  in.adapter.b_dimension = 0;
  EXPECT_NE(error_of(in).find("adapter.b_dimension"), std::string::npos);
  in.adapter.freeze_a = false;
  in.adapter.b_dimension = 10;  // a length without freeze_a contradicts itself
  EXPECT_NE(error_of(in).find("adapter.b_dimension"), std::string::npos);
}

TEST(RoundInstructions, UntrustedWireInputIsRefusedNeverCrashes) {
  auto p = to_proto(valid_instructions());
  p.set_base_model_sha256("short");
  EXPECT_THROW(from_proto(p), ProtocolError);
  p = to_proto(valid_instructions());
  p.mutable_adapter()->add_target_modules("attention");
  EXPECT_THROW(from_proto(p), ProtocolError);
  p = to_proto(valid_instructions());
  p.mutable_train()->set_optimizer("rmsprop");
  EXPECT_THROW(from_proto(p), ProtocolError);
  p = to_proto(valid_instructions());
  p.mutable_train()->set_epochs(4'000'000'000u);
  EXPECT_THROW(from_proto(p), ProtocolError);
  p = to_proto(valid_instructions());
  p.mutable_weighting()->set_by_examples(false);  // contradicts kind = example_count
  EXPECT_THROW(from_proto(p), ProtocolError);
  p = to_proto(with_secagg_and_dp());
  p.mutable_secagg()->mutable_config()->set_session_id(std::string(32, '\0'));
  EXPECT_THROW(from_proto(p), ProtocolError);
  v1::RoundInstructions empty;
  EXPECT_THROW(from_proto(empty), ProtocolError);
}

TEST(Weighting, ClientWeightsByHand) {
  EXPECT_EQ(client_weight(Weighting::kUniform, 0, 17), 1.0);
  EXPECT_EQ(client_weight(Weighting::kExampleCount, 0, 17), 17.0);
  EXPECT_EQ(client_weight(Weighting::kCappedExampleCount, 20, 5), 0.25);
  EXPECT_EQ(client_weight(Weighting::kCappedExampleCount, 20, 50), 1.0);
  EXPECT_THROW(client_weight(Weighting::kCappedExampleCount, 0, 5), ProtocolError);
  EXPECT_THROW(client_weight(Weighting::kUniform, 0, -1), ProtocolError);
  EXPECT_EQ(parse_weighting("capped_example_count"), Weighting::kCappedExampleCount);
  EXPECT_THROW(parse_weighting("examples"), ProtocolError);
}

TEST(Payload, FloatsAreLittleEndianFourBytesEach) {
  const std::vector<float> v{1.0f, -2.5f};
  const std::string bytes = encode_floats(v);
  ASSERT_EQ(bytes.size(), 8u);
  // 1.0f = 0x3F800000, -2.5f = 0xC0200000, least significant byte first.
  EXPECT_EQ(static_cast<unsigned char>(bytes[3]), 0x3F);
  EXPECT_EQ(static_cast<unsigned char>(bytes[2]), 0x80);
  EXPECT_EQ(static_cast<unsigned char>(bytes[7]), 0xC0);
  EXPECT_EQ(static_cast<unsigned char>(bytes[6]), 0x20);
  EXPECT_EQ(decode_floats(bytes, 2), v);
  EXPECT_THROW(decode_floats(bytes, 3), ProtocolError);
}

TEST(Payload, Sha256OfAbcIsTheFipsVector) {
  // FIPS 180-2, Appendix B.1.
  EXPECT_EQ(to_hex(sha256_of("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  test::TempDir dir;
  EXPECT_EQ(to_hex(sha256_of_file(dir.write("abc.txt", "abc"))), to_hex(sha256_of("abc")));
  EXPECT_THROW(sha256_of_file(dir / "missing"), ProtocolError);
}

TEST(Payload, AssemblerAcceptsInOrderChunksAndRefusesEverythingElse) {
  std::string payload(2 * kMaxChunkBytes + 10, 'x');
  payload[5] = 'y';
  const auto digest = sha256_of(payload);
  const std::string sha(digest.begin(), digest.end());
  const auto chunks = split_chunks(payload);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[2].offset, 2 * kMaxChunkBytes);
  EXPECT_EQ(chunks[2].data.size(), 10u);

  PayloadAssembler ok(payload.size(), sha);
  for (const auto& c : chunks) ok.add(c.offset, c.data);
  EXPECT_EQ(ok.take(), payload);

  PayloadAssembler gap(payload.size(), sha);
  gap.add(chunks[0].offset, chunks[0].data);
  EXPECT_THROW(gap.add(chunks[2].offset, chunks[2].data), ProtocolError);  // gap
  EXPECT_THROW(gap.add(chunks[0].offset, chunks[0].data), ProtocolError);  // replayed chunk
  EXPECT_THROW(gap.take(), ProtocolError);                                // incomplete

  std::string tampered = payload;
  tampered[7] = 'z';
  PayloadAssembler wrong_hash(payload.size(), sha);
  for (const auto& c : split_chunks(tampered)) wrong_hash.add(c.offset, c.data);
  EXPECT_THROW(wrong_hash.take(), ProtocolError);

  PayloadAssembler overrun(5, sha);
  EXPECT_THROW(overrun.add(0, "123456"), ProtocolError);
  EXPECT_THROW(PayloadAssembler(0, sha), ProtocolError);
  EXPECT_THROW(PayloadAssembler(100, sha, 99), ProtocolError);  // over the receiver's limit
  EXPECT_THROW(PayloadAssembler(100, "short"), ProtocolError);
  PayloadAssembler big_chunk(3 * kMaxChunkBytes, sha);
  EXPECT_THROW(big_chunk.add(0, std::string(kMaxChunkBytes + 1, 'a')), ProtocolError);
}

TEST(JobConfig, TomlRoundTripGivesTheSameJob) {
  test::TempDir dir;
  config::JobConfig job;
  job.lora.rank = 3;
  job.lora.alpha = 7.5f;
  job.lora.target_modules = {lora::TargetModule::k, lora::TargetModule::down};
  job.federation.rounds = 9;
  job.client.lr = 0.002;
  job.client.optimizer = LocalOptimizerKind::kSgd;
  job.server.optimizer.name = "fedadam";
  job.server.optimizer.server_lr = 0.01;
  job.server.optimizer.tau = 1e-3;
  job.user_dp.enabled = true;
  job.user_dp.noise_multiplier = 1.1;
  job.secagg.enabled = true;
  job.secagg.threshold = 4;
  const auto path = dir.write("job.toml", config::write_job_toml(job));
  auto r = config::TomlReader::from_file(path);
  config::JobConfig back;
  config::read_job_sections(r, back);
  r.reject_unknown_keys();
  EXPECT_EQ(config::describe_job(back), config::describe_job(job));
  EXPECT_EQ(back.client.lr, 0.002);
  EXPECT_EQ(back.user_dp.noise_multiplier, 1.1);
}

}  // namespace
}  // namespace fedlora::protocol
