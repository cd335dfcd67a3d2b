#pragma once
// Exceptions of the strategy library. Each message says what was wrong, where, and what to do.

#include <stdexcept>

namespace fedlora::coordinator {

/// A client update was rejected (wrong dimension, NaN/Inf entry, bad weight, duplicate
/// client). The aggregate it was offered to is unchanged.
class InvalidUpdateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An UpdateAggregate is unusable (non-finite sum, inconsistent weight or counts, too few
/// contributors for the strategy).
class InvalidAggregateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A strategy, aggregation or server-optimizer configuration is invalid (unknown optimizer
/// name, value out of range, option that the chosen optimizer does not use).
class StrategyConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A server-optimizer state handed to restore() does not fit the optimizer (other optimizer,
/// missing or unknown entries, wrong dimension, invalid values).
class OptimizerStateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace fedlora::coordinator
