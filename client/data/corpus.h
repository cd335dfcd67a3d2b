#pragma once
// A loaded per-user corpus and the builder every loader uses to make one.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <functional>
#include <vector>

#include "client/data/population.h"
#include "client/data/split.h"

namespace fedlora::client::data {

/// Counts describing how a corpus was read and filtered. "Examples" are speeches
/// (Shakespeare), documents (directory) or records (JSONL).
struct CorpusStats {
  std::size_t users_seen = 0;      ///< distinct user ids in the source
  std::size_t users_kept = 0;      ///< users with >= min_examples non-empty examples
  std::size_t examples_seen = 0;   ///< all examples in the source, empty ones included
  std::size_t examples_empty = 0;  ///< examples with empty text (never kept)
  std::size_t examples_kept = 0;   ///< non-empty examples of kept users (= train + test)
  std::size_t train_examples = 0;
  std::size_t test_examples = 0;
  std::size_t bytes_kept = 0;        ///< UTF-8 bytes of the kept example texts
  std::size_t characters_kept = 0;   ///< Unicode code points of the kept example texts
};

/// A population plus the statistics of the source it was built from.
struct Corpus {
  Population population;
  CorpusStats stats;
};

/// Collects (user, text) examples in source order and turns them into a Corpus:
/// users in order of first appearance, empty texts dropped, users with fewer than
/// `min_examples` non-empty examples dropped, the rest split by split_counts()
/// (LEAF; McMahan et al. 2017 §3).
class CorpusBuilder {
 public:
  /// `users_need_examples`: a user without any non-empty example is a malformed corpus
  /// (user files, JSONL). False for Shakespeare, where a role whose words were all cut is
  /// part of the published text and is dropped like any user below min_examples.
  explicit CorpusBuilder(bool users_need_examples = true) : users_need_examples_(users_need_examples) {}

  /// Adds one example of `user_id` (must be non-empty; the caller validates it and reports
  /// the position). An empty `text` still registers the user and counts as seen.
  /// `origin` ("file:line", or a file) is kept from the user's first example for errors.
  void add(std::string_view user_id, std::string text, std::string_view origin = {});

  /// Registers `user_id` (non-empty) without an example, e.g. a user whose file is empty,
  /// so that the user is known. No-op if the user is already known.
  void add_user(std::string_view user_id, std::string_view origin = {});

  /// Builds the corpus.
  /// @throws DataError if `options` are invalid (see validate()), or (users_need_examples)
  ///         if a user has no
  ///         non-empty example at all (an empty file, or only empty texts): a malformed
  ///         corpus, reported with the user's origin and what to fix.
  Corpus finish(const SplitOptions& options) &&;

 private:
  struct Pending {
    std::string user_id;
    std::vector<std::string> texts;  // non-empty texts in source order
    std::string origin;              // where the user first appears, for errors
  };
  Pending& slot(std::string_view user_id, std::string_view origin);
  std::vector<Pending> users_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::size_t examples_seen_ = 0;
  std::size_t examples_empty_ = 0;
  bool users_need_examples_;
};

}  // namespace fedlora::client::data
