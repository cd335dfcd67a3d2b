// Fuzz body of the per-user corpus readers (JSON Lines and Shakespeare roles): any bytes
// give a corpus whose counts add up, or a DataError.
#include "client/data/data_error.h"
#include "client/data/shakespeare.h"
#include "client/data/user_jsonl.h"
#include "fuzz/targets/fuzz_targets.h"
#include "fuzz/targets/fuzz_util.h"

namespace fedlora::fuzz {

void user_corpus(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return;
  namespace d = client::data;
  d::SplitOptions opt;
  opt.min_examples = 2 + (data[0] >> 1) % 3;
  opt.train_percent = 50 + (data[0] >> 3) % 50;
  const auto text = as_text(data + 1, size - 1);
  d::Corpus c;
  try {
    c = (data[0] & 1) ? d::load_shakespeare(text, opt, "fuzz.txt") : d::parse_user_jsonl(text, opt, "fuzz.jsonl");
  } catch (const d::DataError&) {
    return;
  }
  const auto& s = c.stats;
  if (s.users_kept != c.population.size() || s.users_kept > s.users_seen) fail("corpus user counts disagree");
  if (s.train_examples != c.population.total_train_examples() || s.test_examples != c.population.total_test_examples() ||
      s.examples_kept != s.train_examples + s.test_examples || s.examples_kept + s.examples_empty > s.examples_seen)
    fail("corpus example counts disagree");
  std::size_t bytes = 0;
  for (const auto& u : c.population.users()) {
    if (u.user_id.empty() || u.num_examples() < opt.min_examples || u.train.empty() || u.test.empty())
      fail("corpus kept a user below min_examples or without train and test examples");
    for (const auto* part : {&u.train, &u.test})
      for (const auto& t : *part) {
        if (t.empty()) fail("corpus kept an empty example");
        bytes += t.size();
      }
  }
  if (bytes != s.bytes_kept) fail("corpus bytes_kept disagrees with the examples");
}

}  // namespace fedlora::fuzz
