#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "client/data/data_error.h"
#include "client/data/eval_sample.h"
#include "client/data/population.h"

namespace fedlora::client::data {
namespace {

UserData user(std::string id, std::size_t train, std::size_t test) {
  return UserData{std::move(id), std::vector<std::string>(train, "t"),
                  std::vector<std::string>(test, "e")};
}

Population numbered(std::size_t n) {
  std::vector<UserData> users;
  for (std::size_t i = 0; i < n; ++i) users.push_back(user("user" + std::to_string(i), 2, 1));
  return Population(std::move(users));
}

TEST(Population, LookupAndTotals) {
  const Population pop({user("b", 3, 1), user("a", 4, 2), user("c", 1, 1)});
  EXPECT_EQ(pop.size(), 3u);
  EXPECT_EQ(pop.at(std::size_t{0}).user_id, "b");  // keeps the given order
  EXPECT_EQ(pop.at("a").train.size(), 4u);
  EXPECT_EQ(pop.find("zzz"), nullptr);
  EXPECT_THROW(pop.at("zzz"), DataError);
  EXPECT_THROW(pop.at(std::size_t{3}), DataError);
  EXPECT_EQ(pop.total_train_examples(), 8u);
  EXPECT_EQ(pop.total_test_examples(), 4u);
  EXPECT_EQ(pop.total_examples(), 12u);
  EXPECT_TRUE(Population().empty());
}

TEST(Population, RejectsDuplicateAndEmptyIds) {
  EXPECT_THROW(Population({user("a", 1, 1), user("a", 1, 1)}), DataError);
  EXPECT_THROW(Population({user("", 1, 1)}), DataError);
}

TEST(EvalSample, DeterministicDistinctAndInPopulationOrder) {
  const Population pop = numbered(50);
  const auto a = sample_eval_users(pop, 10, 42);
  EXPECT_EQ(a, sample_eval_users(pop, 10, 42));
  EXPECT_NE(a, sample_eval_users(pop, 10, 43));
  ASSERT_EQ(a.size(), 10u);
  EXPECT_EQ(std::set<std::string>(a.begin(), a.end()).size(), 10u);
  std::vector<std::size_t> indices;
  for (const auto& id : a) indices.push_back(std::stoul(id.substr(4)));
  EXPECT_TRUE(std::is_sorted(indices.begin(), indices.end()));
  EXPECT_TRUE(sample_eval_users(pop, 0, 1).empty());
  EXPECT_EQ(sample_eval_users(pop, 50, 7).size(), 50u);
  EXPECT_THROW(sample_eval_users(pop, 51, 7), DataError);
}

TEST(EvalSample, SkipsUsersWithoutTestExamples) {
  const Population pop({user("a", 2, 1), user("b", 3, 0), user("c", 2, 1)});
  EXPECT_EQ(sample_eval_users(pop, 2, 5), (std::vector<std::string>{"a", "c"}));
  EXPECT_THROW(sample_eval_users(pop, 3, 5), DataError);
}

// Uniform sampling without replacement: each of the C(6,2) = 15 pairs has probability 1/15
// and each user 1/3. Over 3,000 seeds each pair is expected 200 times (sd ≈ 13.9) and each
// user 1,000 times (sd ≈ 25.8); the bounds are ±6 sd, so a correct sampler fails with
// probability < 1e-7 and a biased shuffle (e.g. j drawn from [0, n)) is caught.
TEST(EvalSample, UniformOverSeeds) {
  const Population pop = numbered(6);
  std::map<std::vector<std::string>, int> pairs;
  std::map<std::string, int> users;
  for (std::uint64_t seed = 0; seed < 3000; ++seed) {
    const auto s = sample_eval_users(pop, 2, seed);
    ++pairs[s];
    for (const auto& id : s) ++users[id];
  }
  ASSERT_EQ(pairs.size(), 15u);
  for (const auto& [pair, count] : pairs) {
    EXPECT_NEAR(count, 200, 84) << pair[0] << "," << pair[1];
  }
  for (const auto& [id, count] : users) EXPECT_NEAR(count, 1000, 155) << id;
}

}  // namespace
}  // namespace fedlora::client::data
