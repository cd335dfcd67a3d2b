#include "client/train/user_examples.h"

#include <stdexcept>

namespace fedlora::client {

static size_t targets(const std::vector<lora::TokenSeq>& v) {
  size_t n = 0;
  for (const auto& s : v) n += s.size() - 1;
  return n;
}
size_t UserExamples::train_targets() const { return targets(train); }
size_t UserExamples::test_targets() const { return targets(test); }

std::vector<int32_t> token_stream(const std::vector<std::string>& texts, const lora::TextCodec& tokenizer) {
  std::vector<int32_t> stream;
  for (const auto& text : texts) {
    auto ids = tokenizer.encode_example(text, true, true);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  return stream;
}

UserExamples tokenize_user(const data::UserData& user, const lora::TextCodec& tokenizer, int64_t context_length) {
  if (context_length < 1) throw std::invalid_argument("tokenize_user: context_length must be >= 1");
  UserExamples ex;
  ex.user_id = user.user_id;
  ex.train = lora::make_windows(token_stream(user.train, tokenizer), context_length + 1);
  ex.test = lora::make_windows(token_stream(user.test, tokenizer), context_length + 1);
  return ex;
}

}  // namespace fedlora::client
