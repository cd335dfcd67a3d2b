#pragma once
// Exceptions of fedlora_secagg. Every message says what was wrong, where, and what to do.
#include <stdexcept>
#include <string>

namespace fedlora::secagg {

/// Base of every error thrown by the SecAgg library.
class SecAggError : public std::runtime_error {
 public:
  explicit SecAggError(const std::string& what) : std::runtime_error(what) {}
};

/// Invalid parameters (threshold, graph degree, clip range, ...): fix the configuration.
class ConfigError : public SecAggError {
 public:
  explicit ConfigError(const std::string& what) : SecAggError("secagg config: " + what) {}
};

/// An OpenSSL call failed, or a key/peer value is cryptographically unusable.
class CryptoError : public SecAggError {
 public:
  explicit CryptoError(const std::string& what) : SecAggError("secagg crypto: " + what) {}
};

/// A protocol message was malformed, out of place, or violated a protocol rule.
class ProtocolError : public SecAggError {
 public:
  explicit ProtocolError(const std::string& what) : SecAggError("secagg protocol: " + what) {}
};

/// A client refuses a round whose parameters or conduct fall below its ClientPolicy
/// (threshold too low for the threat model, isolation, missing consistency check, ...).
class PolicyError : public SecAggError {
 public:
  explicit PolicyError(const std::string& what) : SecAggError("secagg policy: " + what) {}
};

}  // namespace fedlora::secagg
