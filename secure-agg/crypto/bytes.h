#pragma once
// Fixed-size byte strings for keys, with wiping of secrets on destruction.
#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fedlora::secagg::crypto {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

/// OPENSSL_cleanse on a raw buffer (defined in bytes.cpp so headers need no OpenSSL).
void cleanse(void* p, std::size_t bytes);

/// std::allocator that wipes memory with OPENSSL_cleanse before releasing it, so a
/// container of secrets leaves nothing behind when it is destroyed, shrunk or regrown.
template <class T>
struct CleansingAllocator {
  using value_type = T;
  CleansingAllocator() = default;
  template <class U>
  CleansingAllocator(const CleansingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept {
    cleanse(p, n * sizeof(T));
    ::operator delete(p);
  }
  template <class U>
  bool operator==(const CleansingAllocator<U>&) const noexcept { return true; }
};

/// Bytes that hold secrets (share bundles, reconstructed secrets, key files): wiped when freed.
using SecretBytes = std::vector<std::uint8_t, CleansingAllocator<std::uint8_t>>;

/// Wipes a std::string in place (protobuf bytes fields that carried shares).
void cleanse(std::string& s);

/// 32 secret bytes (symmetric key, X25519 private key, seed). Wiped with
/// OPENSSL_cleanse when destroyed or overwritten by assignment.
class Secret32 {
 public:
  Secret32() { bytes_.fill(0); }
  explicit Secret32(ByteSpan b);  // throws CryptoError unless b.size() == 32
  Secret32(const Secret32& o) : bytes_(o.bytes_) {}
  Secret32& operator=(const Secret32& o);
  ~Secret32();
  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  static constexpr std::size_t size() { return 32; }
  ByteSpan span() const { return {bytes_.data(), 32}; }
  std::span<std::uint8_t> mutable_span() { return {bytes_.data(), 32}; }

 private:
  std::array<std::uint8_t, 32> bytes_;
};

/// Constant-time equality (CRYPTO_memcmp); false when sizes differ.
bool constant_time_equal(ByteSpan a, ByteSpan b);

/// Bytes of a string literal / view, for labels in HKDF info and AAD.
inline ByteSpan as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Lower-case hex, for diagnostics and tests.
std::string to_hex(ByteSpan b);
/// Parses hex (even length, [0-9a-fA-F]); throws CryptoError otherwise.
Bytes from_hex(std::string_view hex);

}  // namespace fedlora::secagg::crypto
