#pragma once
// One federated user's examples, split into train and test.

#include <cstddef>
#include <string>
#include <vector>

namespace fedlora::client::data {

/// The local dataset of one user (client) in the federated population, built the way LEAF
/// (Caldas et al. 2018, "LEAF: A Benchmark for Federated Settings") and McMahan et al. 2017
/// ("Communication-Efficient Learning of Deep Networks from Decentralized Data", §3) build
/// their Shakespeare clients: all examples of one user, in source order, the first part for
/// training and the rest for testing (see split.h).
///
/// Each example is one UTF-8 text: a speech body (Shakespeare), a blank-line-separated
/// document (per-user directory) or one JSONL record's "text". Texts never carry a speaker
/// line or a trailing newline; lines inside a text are joined with '\n'.
struct UserData {
  std::string user_id;             ///< speaker name, file stem or JSONL "user"
  std::vector<std::string> train;  ///< earlier examples, in source order
  std::vector<std::string> test;   ///< later examples, in source order

  std::size_t num_examples() const noexcept { return train.size() + test.size(); }
};

}  // namespace fedlora::client::data
