// AES-256-GCM (NIST SP 800-38D) from OpenSSL's libcrypto: a 32-byte key, a 12-byte nonce and a
// 16-byte tag appended to the ciphertext. Opening checks the tag before any plaintext is
// returned; a failed check throws psic::IntegrityError. Failures inside OpenSSL throw psic::Error.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "crypto/primitives.h"

namespace psic {

constexpr size_t kAeadKeyBytes = 32;
constexpr size_t kAeadNonceBytes = 12;
constexpr size_t kAeadTagBytes = 16;

// AES-256-GCM of the n bytes at plaintext, authenticating also the ad_n bytes at ad:
// ciphertext (n bytes) || tag (16 bytes). Either pointer may be null when its size is 0.
// A key of another length than 32 bytes, or a null pointer with a non-zero size, throws
// InputError. A nonce must never repeat under a key.
Bytes aead_seal(const Bytes& key32, const std::array<uint8_t, kAeadNonceBytes>& nonce, const uint8_t* plaintext, size_t n,
                const uint8_t* ad, size_t ad_n);

// The inverse of aead_seal: the plaintext of ciphertext || tag (n bytes in all). A failed tag
// check (wrong key, nonce or AD, or altered bytes) or n < 16 throws IntegrityError; no
// unauthenticated plaintext is ever returned. A key of another length than 32 bytes, or a null
// pointer with a non-zero size, throws InputError.
Bytes aead_open(const Bytes& key32, const std::array<uint8_t, kAeadNonceBytes>& nonce, const uint8_t* ciphertext_and_tag, size_t n,
                const uint8_t* ad, size_t ad_n);

}  // namespace psic
