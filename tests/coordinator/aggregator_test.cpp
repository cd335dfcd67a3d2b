// Aggregator: Σ w_i Δ_i and Σ w_i, with rejection of bad updates that leaves the sum intact.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "coordinator/strategy/errors.h"
#include "coordinator/strategy/update_aggregate.h"
#include "tests/support/weighted_upload.h"

namespace fedlora::coordinator {
namespace {

Eigen::VectorXf vec(std::initializer_list<float> v) {
  Eigen::VectorXf out(static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (float x : v) out[i++] = x;
  return out;
}

// Two clients, by hand:
//   client 1: Δ = [1, 2, -1],   n = 1
//   client 2: Δ = [3, -2, 0.5], n = 3
//   Σ n Δ = [1·1 + 3·3, 1·2 + 3·(−2), 1·(−1) + 3·0.5] = [10, −4, 0.5],  Σ n = 4
TEST(Aggregator, SumsWeightedUpdatesByHand) {
  Aggregator agg(3, 4);
  agg.add_upload(11, test::weighted(vec({1, 2, -1}), 1.0), 1.0);
  agg.add_upload(22, test::weighted(vec({3, -2, 0.5f}), 3.0), 3.0);
  const UpdateAggregate& a = agg.aggregate();
  EXPECT_DOUBLE_EQ(a.weighted_sum[0], 10.0);
  EXPECT_DOUBLE_EQ(a.weighted_sum[1], -4.0);
  EXPECT_DOUBLE_EQ(a.weighted_sum[2], 0.5);
  EXPECT_DOUBLE_EQ(a.total_weight, 4.0);
  EXPECT_EQ(a.num_contributors, 2);
  EXPECT_EQ(a.expected_cohort_size, 4);
}

TEST(Aggregator, AccumulatesInDouble) {
  // 1e8 + 1 is not representable in float32 (spacing 8 there) but exact in float64.
  Aggregator agg(1, 2);
  agg.add_upload(1, test::weighted(vec({1e8f}), 1.0), 1.0);
  agg.add_upload(2, test::weighted(vec({1.0f}), 1.0), 1.0);
  EXPECT_EQ(agg.aggregate().weighted_sum[0], 100000001.0);
}

// Fixture with the hand-computed two-client state, to check that rejections leave it intact.
class AggregatorRejects : public ::testing::Test {
 protected:
  void SetUp() override {
    agg.add_upload(11, test::weighted(vec({1, 2, -1}), 1.0), 1.0);
    agg.add_upload(22, test::weighted(vec({3, -2, 0.5f}), 3.0), 3.0);
  }
  void ExpectUnchanged() const {
    const UpdateAggregate& a = agg.aggregate();
    EXPECT_DOUBLE_EQ(a.weighted_sum[0], 10.0);
    EXPECT_DOUBLE_EQ(a.weighted_sum[1], -4.0);
    EXPECT_DOUBLE_EQ(a.weighted_sum[2], 0.5);
    EXPECT_DOUBLE_EQ(a.total_weight, 4.0);
    EXPECT_EQ(a.num_contributors, 2);
  }
  Aggregator agg{3, 4};
};

TEST_F(AggregatorRejects, NaNEntry) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  try {
    agg.add_upload(33, test::weighted(vec({1, nan, 1}), 1.0), 1.0);
    FAIL() << "NaN update accepted";
  } catch (const InvalidUpdateError& e) {
    EXPECT_NE(std::string(e.what()).find("index 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("client 33"), std::string::npos) << e.what();
  }
  ExpectUnchanged();
  // The client was not recorded as having contributed: a corrected resend is accepted.
  agg.add_upload(33, test::weighted(vec({1, 1, 1}), 2.0), 2.0);
  EXPECT_DOUBLE_EQ(agg.aggregate().weighted_sum[0], 12.0);
  EXPECT_DOUBLE_EQ(agg.aggregate().total_weight, 6.0);
}

TEST_F(AggregatorRejects, InfEntry) {
  EXPECT_THROW(agg.add_upload(33, test::weighted(vec({-std::numeric_limits<float>::infinity(), 0, 0}), 1.0), 1.0),
               InvalidUpdateError);
  ExpectUnchanged();
}

TEST_F(AggregatorRejects, DimensionMismatch) {
  try {
    agg.add_upload(33, test::weighted(vec({1, 2}), 1.0), 1.0);
    FAIL() << "short update accepted";
  } catch (const InvalidUpdateError& e) {
    EXPECT_NE(std::string(e.what()).find("has 2 entries, expected 3"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(agg.add_upload(34, test::weighted(vec({1, 2, 3, 4}), 1.0), 1.0), InvalidUpdateError);
  ExpectUnchanged();
}

TEST_F(AggregatorRejects, BadWeights) {
  EXPECT_THROW(agg.add_upload(33, test::weighted(vec({1, 1, 1}), -1.0), -1.0), InvalidUpdateError);
  EXPECT_THROW(agg.add_upload(33, test::weighted(vec({1, 1, 1}), std::nan("")), std::nan("")), InvalidUpdateError);
  EXPECT_THROW(agg.add_upload(33, test::weighted(vec({1, 1, 1}), std::numeric_limits<double>::infinity()), std::numeric_limits<double>::infinity()),
               InvalidUpdateError);
  ExpectUnchanged();
}

TEST_F(AggregatorRejects, DuplicateClient) {
  EXPECT_THROW(agg.add_upload(22, test::weighted(vec({1, 1, 1}), 1.0), 1.0), InvalidUpdateError);
  ExpectUnchanged();
}

TEST_F(AggregatorRejects, OverflowToInfinity) {
  // A float32 upload times a huge weight is Inf on the device: rejected as non-finite.
  EXPECT_THROW(agg.add_upload(33, test::weighted(vec({3e38f, 0, 0}), 1e300), 1e300), InvalidUpdateError);
  // Finite weights whose running total exceeds DBL_MAX: the second one is rejected.
  agg.add_upload(33, test::weighted(vec({0, 0, 0}), 1.0), 1.5e308);
  EXPECT_THROW(agg.add_upload(34, test::weighted(vec({0, 0, 0}), 1.0), 1.5e308), InvalidUpdateError);
  EXPECT_DOUBLE_EQ(agg.aggregate().weighted_sum[0], 10.0);
  EXPECT_EQ(agg.aggregate().num_contributors, 3);
}

TEST_F(AggregatorRejects, WeightAboveTheAcceptedMaximum) {
  Aggregator capped(3, 4, /*max_weight=*/2.0);
  EXPECT_THROW(capped.add_upload(1, test::weighted(vec({1, 1, 1}), 3.0), 3.0), InvalidUpdateError);
  capped.add_upload(1, test::weighted(vec({1, 1, 1}), 2.0), 2.0);
  EXPECT_DOUBLE_EQ(capped.aggregate().weighted_sum[2], 2.0);
}

TEST(Aggregator, ZeroWeightCountsAsContributorButAddsNothing) {
  Aggregator agg(2, 3);
  agg.add_upload(1, test::weighted(vec({5, 5}), 0.0), 0.0);
  EXPECT_EQ(agg.aggregate().num_contributors, 1);
  EXPECT_EQ(agg.aggregate().weighted_sum, Eigen::VectorXd::Zero(2));
  EXPECT_EQ(agg.aggregate().total_weight, 0.0);
}

TEST(Aggregator, RejectsBadConstruction) {
  EXPECT_THROW(Aggregator(0, 1), InvalidUpdateError);
  EXPECT_THROW(Aggregator(3, 0), InvalidUpdateError);
}

TEST(ValidateAggregate, RejectsCorruptAggregates) {
  UpdateAggregate ok{Eigen::VectorXd::Ones(2), 2.0, 2, 4};
  EXPECT_NO_THROW(validate_aggregate(ok));

  UpdateAggregate empty = ok;
  empty.weighted_sum.resize(0);
  EXPECT_THROW(validate_aggregate(empty), InvalidAggregateError);

  UpdateAggregate nan_sum = ok;
  nan_sum.weighted_sum[1] = std::nan("");
  EXPECT_THROW(validate_aggregate(nan_sum), InvalidAggregateError);

  UpdateAggregate neg_weight = ok;
  neg_weight.total_weight = -1;
  EXPECT_THROW(validate_aggregate(neg_weight), InvalidAggregateError);

  UpdateAggregate neg_count = ok;
  neg_count.num_contributors = -1;
  EXPECT_THROW(validate_aggregate(neg_count), InvalidAggregateError);

  UpdateAggregate no_k = ok;
  no_k.expected_cohort_size = 0;
  EXPECT_THROW(validate_aggregate(no_k), InvalidAggregateError);

  UpdateAggregate weight_without_clients = ok;
  weight_without_clients.num_contributors = 0;
  EXPECT_THROW(validate_aggregate(weight_without_clients), InvalidAggregateError);
}

}  // namespace
}  // namespace fedlora::coordinator
