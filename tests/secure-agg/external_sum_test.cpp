// A server whose masked inputs arrive without their words, the words summed outside it (a
// multi-process simulator sums each process's devices and allreduces): the round's result
// is the plain sum of the inputs, exactly as when every word reaches the server; a wrong
// member set is refused without changing the sum; words never delivered abort the round.
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "secure-agg/masking.h"
#include "tests/secure-agg/protocol_support.h"

namespace fedlora::secagg {
namespace {

using testing::Fixture;

enum class Delivery { kCorrect, kWrongSetFirst, kNever };

// Runs the nine-client round; clients in `elsewhere` send their masked input without words,
// and the test sums those words itself (mod 2^64, as add_packed_into does) before the stage
// closes.
RoundOutcome run_round(Fixture& f, const std::set<ClientId>& elsewhere, Delivery delivery) {
  ServerStateMachine s(f.cfg);
  std::vector<std::unique_ptr<ClientStateMachine>> c;
  for (ClientId u = 0; u < f.n; ++u) {
    c.push_back(std::make_unique<ClientStateMachine>(f.cfg, f.keys[u], f.inputs[u], ClientPolicy::unchecked(),
                                                     std::make_unique<crypto::DeterministicRandom>(u, "ext")));
    EXPECT_EQ(s.receive(u, c[u]->start()).status, ReceiveStatus::kAccepted);
  }
  while (!s.finished()) {
    const auto out = s.close_stage();
    std::vector<std::uint64_t> external(f.cfg.vector_length, 0);
    std::vector<ClientId> owed;
    for (const auto& o : out) {
      auto step = c[o.to]->handle(o.message);
      if (!step.reply) continue;
      if (step.reply->has_masked_input() && elsewhere.contains(o.to)) {
        add_packed_into(external, step.reply->masked_input().words(), f.cfg.word_bytes());
        step.reply->mutable_masked_input()->clear_words();
        EXPECT_EQ(s.receive_without_words(o.to, std::move(*step.reply)).status, ReceiveStatus::kAccepted);
        owed.push_back(o.to);
      } else {
        EXPECT_EQ(s.receive(o.to, std::move(*step.reply)).status, ReceiveStatus::kAccepted);
      }
    }
    if (owed.empty()) continue;
    EXPECT_EQ(s.words_owed(), owed);
    if (delivery == Delivery::kNever) continue;
    if (delivery == Delivery::kWrongSetFirst) {
      const std::vector<ClientId> fewer(owed.begin() + 1, owed.end());
      EXPECT_THROW(s.add_external_sum(fewer, external), SecAggError);
      EXPECT_THROW(s.add_external_sum(owed, std::vector<std::uint64_t>(3)), SecAggError);
    }
    s.add_external_sum(owed, external);
    EXPECT_TRUE(s.words_owed().empty());
  }
  return s.outcome();
}

TEST(SecAggExternalSum, WordsSummedOutsideGiveThePlainSum) {
  Fixture f;
  const auto all = f.all_but({});
  for (const std::set<ClientId>& elsewhere : {std::set<ClientId>{}, std::set<ClientId>{1, 4, 7}, std::set<ClientId>{0, 1, 2, 3, 4, 5, 6, 7, 8}}) {
    const auto r = run_round(f, elsewhere, Delivery::kCorrect);
    ASSERT_TRUE(std::holds_alternative<RoundResult>(r)) << std::get<RoundAborted>(r).reason;
    EXPECT_EQ(std::get<RoundResult>(r).sum, testing::plain_sum(f.inputs, all, 32));
  }
}

TEST(SecAggExternalSum, AWrongMemberSetIsRefusedAndChangesNothing) {
  Fixture f;
  const auto r = run_round(f, {2, 5}, Delivery::kWrongSetFirst);
  ASSERT_TRUE(std::holds_alternative<RoundResult>(r));
  EXPECT_EQ(std::get<RoundResult>(r).sum, testing::plain_sum(f.inputs, f.all_but({}), 32));
}

TEST(SecAggExternalSum, WordsThatNeverArriveAbortTheRound) {
  Fixture f;
  const auto r = run_round(f, {3}, Delivery::kNever);
  ASSERT_TRUE(std::holds_alternative<RoundAborted>(r));
  EXPECT_NE(std::get<RoundAborted>(r).reason.find("without their words"), std::string::npos);
}

}  // namespace
}  // namespace fedlora::secagg
