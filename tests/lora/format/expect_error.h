#pragma once
// Shared by the format parser tests: run a parse that must fail with one exception type and
// return its message, and check that a message names what went wrong.
#include <gtest/gtest.h>

#include <exception>
#include <string>

namespace fedlora::lora::test {

/// Runs `parse()`; returns the message of the expected `Error`. Fails the test (and returns
/// "") if parsing succeeds or throws anything else.
template <class Error, class Parse>
std::string error_message_of(Parse&& parse) {
  try {
    parse();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "parsed without error";
  return "";
}

}  // namespace fedlora::lora::test

// Evaluates `msg` once and shows it when the expectation fails.
#define EXPECT_MSG_HAS(msg, needle)                                         \
  do {                                                                      \
    const std::string msg_ = (msg);                                         \
    EXPECT_NE(msg_.find(needle), std::string::npos) << "message: " << msg_; \
  } while (0)
