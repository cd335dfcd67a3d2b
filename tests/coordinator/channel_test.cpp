// The coordinator's aggregation channels: the plain streaming sum validates every upload on
// arrival (length, NaN/Inf, weight range, duplicates, kind) and sums exactly what was sent;
// the SecAgg channel, driven by real client state machines, reveals the survivors' sum
// within the fixed-point bound and nothing for a round below threshold.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "coordinator/round/plain_sum_channel.h"
#include "coordinator/round/secagg_channel.h"
#include "secure-agg/client_policy.h"
#include "secure-agg/client_state_machine.h"
#include "secure-agg/crypto/ed25519.h"
#include "coordinator/strategy/errors.h"
#include "secure-agg/crypto/random.h"
#include "secure-agg/errors.h"

namespace fedlora::coordinator {
namespace {

protocol::PlainUpload up(std::vector<float> v, double w) { return protocol::PlainUpload{std::move(v), w}; }

TEST(PlainSumChannel, SumsUploadsAsSentByHand) {
  PlainSumChannel ch(3, 2, /*max_weight=*/10.0, /*target=*/3);
  EXPECT_EQ(ch.receive_plain(0, up({1.0f, 2.0f}, 1.0)).status, ReceiptStatus::kAccepted);
  EXPECT_EQ(ch.receive_plain(2, up({3.0f, -0.5f}, 4.0)).status, ReceiptStatus::kAccepted);
  EXPECT_FALSE(ch.stage_complete());
  ch.drop(1, "gone");
  EXPECT_TRUE(ch.stage_complete());  // everyone still expected has answered
  EXPECT_TRUE(ch.close_stage().empty());
  ASSERT_TRUE(ch.finished());
  const auto& s = std::get<ChannelSum>(ch.outcome());
  EXPECT_EQ(s.contributors, 2);
  EXPECT_DOUBLE_EQ(s.values[0], 4.0);
  EXPECT_DOUBLE_EQ(s.values[1], 1.5);
  EXPECT_DOUBLE_EQ(s.weight_sum, 5.0);
  EXPECT_EQ(ch.traffic().bytes_up, 2 * (2 * 4 + 8));
}

TEST(PlainSumChannel, EachBadUploadIsRefusedAndTheSumUnchanged) {
  PlainSumChannel ch(6, 2, 10.0, 6);
  ASSERT_EQ(ch.receive_plain(0, up({1.0f, 1.0f}, 2.0)).status, ReceiptStatus::kAccepted);
  EXPECT_EQ(ch.receive_plain(1, up({1.0f}, 1.0)).status, ReceiptStatus::kRejected);  // wrong length
  EXPECT_EQ(ch.receive_plain(2, up({std::numeric_limits<float>::quiet_NaN(), 0.0f}, 1.0)).status, ReceiptStatus::kRejected);
  EXPECT_EQ(ch.receive_plain(3, up({std::numeric_limits<float>::infinity(), 0.0f}, 1.0)).status, ReceiptStatus::kRejected);
  EXPECT_EQ(ch.receive_plain(4, up({1.0f, 1.0f}, 11.0)).status, ReceiptStatus::kRejected);  // weight above max
  EXPECT_EQ(ch.receive_plain(0, up({5.0f, 5.0f}, 1.0)).status, ReceiptStatus::kDuplicate);
  EXPECT_EQ(ch.receive_plain(9, up({1.0f, 1.0f}, 1.0)).status, ReceiptStatus::kNotParticipating);
  EXPECT_EQ(ch.receive_secagg(5, {}).status, ReceiptStatus::kWrongKind);
  // A rejected device is out of the round: a corrected resend is not taken.
  EXPECT_EQ(ch.receive_plain(1, up({1.0f, 1.0f}, 1.0)).status, ReceiptStatus::kNotParticipating);
  EXPECT_EQ(ch.traffic().rejected_messages, 5);
  ch.close_stage();
  const auto& s = std::get<ChannelSum>(ch.outcome());
  EXPECT_EQ(s.contributors, 1);
  EXPECT_DOUBLE_EQ(s.values[0], 1.0);
  EXPECT_DOUBLE_EQ(s.weight_sum, 2.0);
}

TEST(PlainSumChannel, ClosesEarlyAtTheTargetForOverSelection) {
  PlainSumChannel ch(5, 1, 1.0, /*target=*/3);  // 5 selected, close at 3 reports
  ch.receive_plain(4, up({1.0f}, 1.0));
  ch.receive_plain(0, up({1.0f}, 1.0));
  EXPECT_FALSE(ch.stage_complete());
  ch.receive_plain(2, up({1.0f}, 1.0));
  EXPECT_TRUE(ch.stage_complete());
  EXPECT_THROW(PlainSumChannel(3, 1, 1.0, 4), InvalidUpdateError);
}

// n clients with m-value inputs through SecAggChannel; returns the channel.
struct SecAggRound {
  secagg::RoundConfig config;
  std::vector<secagg::crypto::Ed25519PrivateKey> keys;  ///< by logical id
  secagg::FixedPointParams fp{2.0, 16, 6, 32, std::nullopt};
  std::vector<std::vector<float>> inputs;
};

SecAggRound make_round(std::uint32_t n, std::uint32_t t, std::size_t m) {
  SecAggRound r;
  std::vector<secagg::RosterEntry> roster;
  for (std::uint32_t u = 0; u < n; ++u) {
    secagg::crypto::DeterministicRandom rng(u, "identity");
    r.keys.push_back(secagg::crypto::Ed25519PrivateKey::generate(rng));
    roster.push_back({r.keys.back().public_key(), std::nullopt});
  }
  r.config.roster = secagg::make_roster(roster);
  // Logical id u is the u-th key in roster order.
  std::sort(r.keys.begin(), r.keys.end(),
            [](const auto& a, const auto& b) { return a.public_key() < b.public_key(); });
  r.config.session_id.fill(0x5A);
  r.config.round = 1;
  r.config.num_clients = n;
  r.config.word_bits = 32;
  r.config.params = secagg::SecAggParameters{secagg::GraphKind::kComplete, n - 1, t};
  r.fp.max_contributors = n;
  r.config.vector_length = secagg::FixedPointCodec(r.fp).encoded_length(m);
  for (std::uint32_t u = 0; u < n; ++u) {
    std::vector<float> v(m);
    for (std::size_t i = 0; i < m; ++i) v[i] = 0.25f * static_cast<float>(u) - 0.1f * static_cast<float>(i);
    r.inputs.push_back(v);
  }
  return r;
}

// Runs the protocol; clients in `silent` never answer after stage `silent_from`.
void drive(const SecAggRound& r, const std::vector<std::uint32_t>& silent, secagg::Stage silent_from, ChannelOutcome& out) {
  SecAggChannel ch(r.config, r.fp, r.inputs[0].size(), r.config.num_clients);
  const secagg::FixedPointCodec codec(r.fp);
  std::vector<std::unique_ptr<secagg::ClientStateMachine>> clients;
  auto is_silent = [&](std::uint32_t u, secagg::Stage s) {
    return std::find(silent.begin(), silent.end(), u) != silent.end() && static_cast<int>(s) >= static_cast<int>(silent_from);
  };
  for (std::uint32_t u = 0; u < r.config.num_clients; ++u) {
    clients.push_back(std::make_unique<secagg::ClientStateMachine>(
        r.config, r.keys[u], secagg::ClientPolicy::unchecked(),
        std::make_unique<secagg::crypto::DeterministicRandom>(9, "client " + std::to_string(u))));
    ASSERT_EQ(clients.back()->id(), u);
    secagg::crypto::DeterministicRandom enc(9, "encode " + std::to_string(u));
    clients[u]->set_input(codec.encode(r.inputs[u], enc));
    if (!is_silent(u, secagg::Stage::kAdvertiseKeys)) ch.receive_secagg(u, clients[u]->start());
  }
  while (!ch.finished()) {
    for (auto& d : ch.close_stage()) {
      const auto stage = static_cast<secagg::Stage>(d.message.header().stage());
      if (is_silent(d.to, stage)) continue;
      if (auto step = clients[d.to]->handle(d.message); step.reply) ch.receive_secagg(d.to, *step.reply);
    }
  }
  EXPECT_GT(ch.traffic().bytes_up, 0);
  EXPECT_GT(ch.traffic().bytes_down, 0);
  out = ch.outcome();
}

TEST(SecAggChannel, RevealsTheSurvivorsSumWithinTheFixedPointBound) {
  const auto r = make_round(6, 3, 5);
  ChannelOutcome out;
  drive(r, {1, 4}, secagg::Stage::kMaskedInputCollection, out);  // two drop before masking
  const auto* sum = std::get_if<ChannelSum>(&out);
  ASSERT_NE(sum, nullptr) << std::get<ChannelAbort>(out).reason;
  EXPECT_EQ(sum->contributors, 4);
  EXPECT_DOUBLE_EQ(sum->weight_sum, 4.0);  // uniform weights: one per contributor
  const double bound = 4 * secagg::FixedPointCodec(r.fp).step();
  for (std::size_t i = 0; i < 5; ++i) {
    double plain = 0;
    for (std::uint32_t u : {0u, 2u, 3u, 5u}) plain += r.inputs[u][i];
    EXPECT_NEAR(sum->values[static_cast<Eigen::Index>(i)], plain, bound) << i;
  }
}

TEST(SecAggChannel, BelowThresholdAbortsWithNothingRevealed) {
  const auto r = make_round(5, 4, 3);
  ChannelOutcome out;
  drive(r, {0, 1, 2}, secagg::Stage::kMaskedInputCollection, out);
  ASSERT_TRUE(std::holds_alternative<ChannelAbort>(out));
  EXPECT_NE(std::get<ChannelAbort>(out).reason.find("secure aggregation aborted"), std::string::npos);
}

TEST(SecAggChannel, RefusesPlainUploads) {
  const auto r = make_round(3, 2, 2);
  SecAggChannel ch(r.config, r.fp, 2, 3);
  EXPECT_EQ(ch.receive_plain(0, up({1.0f, 1.0f}, 1.0)).status, ReceiptStatus::kWrongKind);
  EXPECT_THROW(SecAggChannel(r.config, r.fp, 3, 3), secagg::ConfigError);  // wrong length for m
}

}  // namespace
}  // namespace fedlora::coordinator
