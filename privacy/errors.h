// Exception types thrown by fedlora_privacy. Every message names what was wrong, where,
// and what to do about it.
#pragma once

#include <stdexcept>
#include <string>

namespace fedlora::privacy {

/// Base of every error thrown by the privacy component.
class PrivacyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A privacy parameter is outside its domain (q ∉ [0,1], σ < 0, δ ∉ (0,1), order ≤ 1, ...).
class InvalidPrivacyParameter : public PrivacyError {
 public:
  using PrivacyError::PrivacyError;
};

/// An update or gradient holds NaN or ±Inf; it is rejected before any clipping or noise.
class NonFiniteValueError : public PrivacyError {
 public:
  using PrivacyError::PrivacyError;
};

/// OpenSSL failed (RAND_bytes, EVP cipher, SHA-256). The message carries OpenSSL's error.
class CryptoError : public PrivacyError {
 public:
  using PrivacyError::PrivacyError;
};

/// The privacy ledger could not be opened, read or written (I/O, SQLite, schema).
class LedgerError : public PrivacyError {
 public:
  using PrivacyError::PrivacyError;
};

/// The ledger's contents fail their integrity checks. Never reset to zero: a device whose
/// ledger is corrupt must not train until an operator restores it.
class LedgerCorruptError : public LedgerError {
 public:
  using LedgerError::LedgerError;
};

/// A device's stored ledger settings (budget, orders) differ from those requested.
class LedgerConfigMismatch : public LedgerError {
 public:
  using LedgerError::LedgerError;
};

}  // namespace fedlora::privacy
