#include "crypto/sealing.h"

#include <cstring>

#include "crypto/aead.h"
#include "crypto/x25519.h"
#include "errors.h"
#include "models/keys.h"

namespace psic {

namespace {

template <size_t N>
std::array<uint8_t, N> random_array() {
  const Bytes r = random_bytes(N);
  std::array<uint8_t, N> out{};
  std::memcpy(out.data(), r.data(), N);
  return out;
}

}  // namespace

Bytes prepare_seal(SealedHeader& h, const SealKeys& keys) {
  check_key(keys.owner_key);
  if (keys.recipients.size() > 255) throw InputError("a sealed file has at most 255 recipients");
  const Bytes content_key = random_bytes(kAeadKeyBytes);
  h.file_salt = random_array<16>();
  h.owner_check = sealed_owner_check(keys.owner_key, h.file_salt);
  h.owner_nonce = random_array<12>();
  const Bytes wrapped = aead_seal(sealed_file_key(keys.owner_key, h.file_salt), h.owner_nonce, content_key.data(),
                                  content_key.size(), nullptr, 0);
  std::memcpy(h.owner_wrapped.data(), wrapped.data(), h.owner_wrapped.size());
  h.recipients.clear();
  for (const auto& pub : keys.recipients) {
    const WrappedKey w = x25519_wrap(content_key, pub);
    h.recipients.push_back({w.ephemeral_public, w.nonce, w.wrapped});
  }
  h.sealed_nonce = random_array<12>();
  return content_key;
}

Bytes open_content_key(const SealedHeader& h, const UnsealKey& key) {
  if (!key.owner_key.empty()) {
    check_key(key.owner_key);
    const auto check = sealed_owner_check(key.owner_key, h.file_salt);
    if (!constant_time_equal(check.data(), h.owner_check.data(), check.size()))
      throw KeyError("wrong key: this sealed file was made for another owner key");
    try {
      return aead_open(sealed_file_key(key.owner_key, h.file_salt), h.owner_nonce, h.owner_wrapped.data(),
                       h.owner_wrapped.size(), nullptr, 0);
    } catch (const IntegrityError&) {
      throw IntegrityError("the sealed file was altered: its owner stanza does not open with the right key");
    }
  }
  if (key.x25519_secret) {
    for (const RecipientStanza& r : h.recipients) {
      const WrappedKey w{r.ephemeral_public, r.nonce, r.wrapped};
      if (auto content_key = x25519_unwrap(w, *key.x25519_secret)) return *content_key;
    }
    throw KeyError(h.recipients.empty() ? "this sealed file has no recipients: only its owner's key opens it"
                                        : "wrong key: this X25519 key is none of the sealed file's " +
                                              std::to_string(h.recipients.size()) + " recipients");
  }
  throw KeyError("a sealed file opens with its owner's key or a recipient's X25519 secret key");
}

Bytes seal_section(const Bytes& content_key, const SealedHeader& h, const Bytes& plaintext, const std::vector<uint8_t>& associated) {
  return aead_seal(content_key, h.sealed_nonce, plaintext.data(), plaintext.size(), associated.data(), associated.size());
}

Bytes open_section(const Bytes& content_key, const SealedHeader& h, const uint8_t* sealed, const uint8_t* associated,
                   size_t associated_size) {
  try {
    return aead_open(content_key, h.sealed_nonce, sealed, h.sealed_length, associated, associated_size);
  } catch (const IntegrityError&) {
    throw IntegrityError("the sealed file was altered: its sealed section or the bytes before it fail authentication");
  }
}

}  // namespace psic
