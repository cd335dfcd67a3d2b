#include "client/data/population.h"

#include "client/data/data_error.h"

namespace fedlora::client::data {

Population::Population(std::vector<UserData> users) : users_(std::move(users)) {
  for (std::size_t i = 0; i < users_.size(); ++i) {
    const UserData& user = users_[i];
    if (user.user_id.empty()) {
      throw DataError("population: user at index " + std::to_string(i) +
                      " has an empty user id; every user needs a non-empty id");
    }
    if (!index_.emplace(user.user_id, i).second) {
      throw DataError("population: user id \"" + user.user_id +
                      "\" appears twice; merge that user's examples into one UserData");
    }
    total_train_ += user.train.size();
    total_test_ += user.test.size();
  }
}

const UserData& Population::at(std::size_t index) const {
  if (index >= users_.size()) {
    throw DataError("population: user index " + std::to_string(index) +
                    " is out of range (population has " + std::to_string(users_.size()) +
                    " users)");
  }
  return users_[index];
}

const UserData& Population::at(std::string_view user_id) const {
  const UserData* user = find(user_id);
  if (user == nullptr) {
    throw DataError("population: no user with id \"" + std::string(user_id) + "\"");
  }
  return *user;
}

const UserData* Population::find(std::string_view user_id) const {
  const auto it = index_.find(user_id);
  return it == index_.end() ? nullptr : &users_[it->second];
}

}  // namespace fedlora::client::data
