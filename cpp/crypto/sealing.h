// The sealed section's keys (container version 3): who can open it. A random content key
// encrypts the sealed section (AES-256-GCM, associated data = every byte of the file before
// it); the content key is wrapped once for the owner's symmetric key (through the file key,
// cpp/models/keys.h) and once per X25519 recipient (age-style stanzas, cpp/crypto/x25519.h).
#pragma once
#include <array>
#include <optional>
#include <vector>

#include "crypto/primitives.h"
#include "formats/container.h"

namespace psic {

struct SealKeys {
  Bytes owner_key;                                      // required
  std::vector<std::array<uint8_t, 32>> recipients;      // X25519 public keys
};

// Who opens a sealed file: the owner's key, or a recipient's X25519 secret key.
struct UnsealKey {
  Bytes owner_key;
  std::optional<std::array<uint8_t, 32>> x25519_secret;
  bool empty() const { return owner_key.empty() && !x25519_secret; }
};

// Fills the key fields of a version 3 header (file salt, owner check and stanza, recipient
// stanzas, the sealed section's nonce) and returns the fresh content key.
Bytes prepare_seal(SealedHeader& header, const SealKeys& keys);

// The content key: KeyError when the key opens no stanza (a wrong owner key, or a secret key
// that is no recipient's); IntegrityError when the owner's check accepts the key but its stanza
// does not open (the file was altered).
Bytes open_content_key(const SealedHeader& header, const UnsealKey& key);

// The sealed section: AES-256-GCM under the content key.
Bytes seal_section(const Bytes& content_key, const SealedHeader& header, const Bytes& plaintext,
                   const std::vector<uint8_t>& associated);
// IntegrityError when the section, or any byte before it, was altered.
Bytes open_section(const Bytes& content_key, const SealedHeader& header, const uint8_t* sealed,
                   const uint8_t* associated, size_t associated_size);

}  // namespace psic
