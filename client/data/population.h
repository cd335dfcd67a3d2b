#pragma once
// The federated population: every user's dataset, with lookup by user id.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "client/data/user_data.h"

namespace fedlora::client::data {

/// An immutable set of users (clients) in a fixed, deterministic order — the order the
/// loaders produce (first appearance in the source, or sorted file names). Indices 0..size-1
/// are stable for the lifetime of the object; user ids are unique and non-empty.
/// This is the client population of McMahan et al. 2017 §3 / LEAF from which cohorts and
/// evaluation users are drawn.
class Population {
 public:
  Population() = default;
  /// @throws DataError if a user id is empty or appears twice (the message names it).
  explicit Population(std::vector<UserData> users);

  std::size_t size() const noexcept { return users_.size(); }
  bool empty() const noexcept { return users_.empty(); }
  const std::vector<UserData>& users() const noexcept { return users_; }

  /// User at `index`. @throws DataError if index >= size().
  const UserData& at(std::size_t index) const;
  /// User with id `user_id`. @throws DataError naming the id if there is none.
  const UserData& at(std::string_view user_id) const;
  /// User with id `user_id`, or nullptr.
  const UserData* find(std::string_view user_id) const;

  /// Sum over users of train.size(), test.size(), and both.
  std::size_t total_train_examples() const noexcept { return total_train_; }
  std::size_t total_test_examples() const noexcept { return total_test_; }
  std::size_t total_examples() const noexcept { return total_train_ + total_test_; }

 private:
  std::vector<UserData> users_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::size_t total_train_ = 0;
  std::size_t total_test_ = 0;
};

}  // namespace fedlora::client::data
