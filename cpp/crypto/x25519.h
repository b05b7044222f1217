// X25519 (RFC 7748) from OpenSSL's libcrypto, and age-style wrapping of a content key for a
// recipient's X25519 public key. Failures inside OpenSSL throw psic::Error.
#pragma once
#include <array>
#include <cstdint>
#include <optional>

#include "crypto/aead.h"
#include "crypto/primitives.h"

namespace psic {

constexpr size_t kX25519Bytes = 32;

struct X25519KeyPair {
  std::array<uint8_t, 32> secret, public_key;
};

// A fresh key pair from the operating system's CSPRNG.
X25519KeyPair x25519_generate();

// The public key of a secret (X25519(secret, 9)); the secret is clamped as RFC 7748 §5 says.
std::array<uint8_t, 32> x25519_public_key(const std::array<uint8_t, 32>& secret);

// X25519(secret, peer_public). An all-zero result (a low-order peer point) throws KeyError,
// as RFC 7748 §6.1 recommends.
std::array<uint8_t, 32> x25519_shared(const std::array<uint8_t, 32>& secret, const std::array<uint8_t, 32>& peer_public);

// A content key wrapped for one recipient ("stanza"): 32 + 12 + 48 = 92 bytes.
struct WrappedKey {
  std::array<uint8_t, 32> ephemeral_public;
  std::array<uint8_t, 12> nonce;
  std::array<uint8_t, 48> wrapped;  // AES-256-GCM of the 32-byte content key || 16-byte tag
};

// Wraps a 32-byte content key for recipient_public: a fresh ephemeral key pair,
// shared = X25519(ephemeral secret, recipient_public),
// wrap key = HKDF-SHA256(shared, salt = ephemeral_public || recipient_public, info = "psic/sealed/v3/x25519", 32),
// wrapped = AES-256-GCM(wrap key, random nonce, content key, AD = ephemeral_public || recipient_public).
// A content key of another length throws InputError; a low-order recipient key throws KeyError.
WrappedKey x25519_wrap(const Bytes& content_key32, const std::array<uint8_t, 32>& recipient_public);

// The content key of a stanza wrapped for recipient_secret's public key, or nullopt when the
// stanza is for another key (or was altered): its tag does not verify, or its ephemeral key is
// a low-order point.
std::optional<Bytes> x25519_unwrap(const WrappedKey& stanza, const std::array<uint8_t, 32>& recipient_secret);

}  // namespace psic
