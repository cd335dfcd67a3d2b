#include "client/data/corpus.h"

#include <iterator>

#include "client/data/data_error.h"
#include "client/data/utf8.h"

namespace fedlora::client::data {

CorpusBuilder::Pending& CorpusBuilder::slot(std::string_view user_id, std::string_view origin) {
  if (user_id.empty()) {
    throw DataError("corpus: example with an empty user id; every example needs a user");
  }
  auto it = index_.find(user_id);
  if (it == index_.end()) {
    it = index_.emplace(std::string(user_id), users_.size()).first;
    users_.push_back(Pending{std::string(user_id), {}, std::string(origin)});
  }
  return users_[it->second];
}

void CorpusBuilder::add_user(std::string_view user_id, std::string_view origin) { slot(user_id, origin); }

void CorpusBuilder::add(std::string_view user_id, std::string text, std::string_view origin) {
  Pending& user = slot(user_id, origin);
  ++examples_seen_;
  if (text.empty()) {
    ++examples_empty_;
    return;
  }
  user.texts.push_back(std::move(text));
}

Corpus CorpusBuilder::finish(const SplitOptions& options) && {
  validate(options);
  CorpusStats stats;
  stats.users_seen = users_.size();
  stats.examples_seen = examples_seen_;
  stats.examples_empty = examples_empty_;
  for (const Pending& pending : users_) {
    if (!users_need_examples_ || !pending.texts.empty()) continue;
    throw DataError((pending.origin.empty() ? std::string("corpus") : pending.origin) + ": user \"" +
                    pending.user_id + "\" has 0 examples (no non-empty text); give the user text or remove it");
  }
  std::vector<UserData> kept;
  for (Pending& pending : users_) {
    const std::size_t n = pending.texts.size();
    if (n < options.min_examples) continue;
    const SplitCounts counts = split_counts(n, options.train_percent);
    UserData user;
    user.user_id = std::move(pending.user_id);
    for (const std::string& text : pending.texts) {
      stats.bytes_kept += text.size();
      stats.characters_kept += count_code_points(text);
    }
    auto mid = pending.texts.begin() + static_cast<std::ptrdiff_t>(counts.train);
    user.train.assign(std::make_move_iterator(pending.texts.begin()), std::make_move_iterator(mid));
    user.test.assign(std::make_move_iterator(mid), std::make_move_iterator(pending.texts.end()));
    stats.train_examples += counts.train;
    stats.test_examples += counts.test;
    kept.push_back(std::move(user));
  }
  stats.users_kept = kept.size();
  stats.examples_kept = stats.train_examples + stats.test_examples;
  users_.clear();
  index_.clear();
  return Corpus{Population(std::move(kept)), stats};
}

}  // namespace fedlora::client::data
