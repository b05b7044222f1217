#include "crypto/x25519.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "errors.h"

namespace psic {

namespace {

[[noreturn]] void fail(const char* what) { throw Error(std::string("OpenSSL: ") + what + " failed"); }

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using PKeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

const char* const kWrapInfo = "psic/sealed/v3/x25519";

PKey private_key(const std::array<uint8_t, 32>& secret) {
  PKey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()), &EVP_PKEY_free);
  if (!key) fail("X25519 private key");
  return key;
}

std::array<uint8_t, 32> raw_public(EVP_PKEY* key) {
  std::array<uint8_t, 32> out{};
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(key, out.data(), &len) != 1 || len != out.size()) fail("X25519 public key");
  return out;
}

// ephemeral_public || recipient_public: the HKDF salt and the AEAD's associated data.
Bytes transcript(const std::array<uint8_t, 32>& ephemeral_public, const std::array<uint8_t, 32>& recipient_public) {
  Bytes out(ephemeral_public.begin(), ephemeral_public.end());
  out.insert(out.end(), recipient_public.begin(), recipient_public.end());
  return out;
}

Bytes wrap_key(const std::array<uint8_t, 32>& shared, const Bytes& salt) {
  Bytes ikm(shared.begin(), shared.end());
  Bytes key = hkdf_sha256(ikm, salt, kWrapInfo, kAeadKeyBytes);
  OPENSSL_cleanse(ikm.data(), ikm.size());
  return key;
}

}  // namespace

X25519KeyPair x25519_generate() {
  PKeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 || EVP_PKEY_keygen(ctx.get(), &raw) <= 0 || !raw) fail("X25519 keygen");
  PKey key(raw, &EVP_PKEY_free);
  X25519KeyPair pair{};
  size_t len = pair.secret.size();
  if (EVP_PKEY_get_raw_private_key(key.get(), pair.secret.data(), &len) != 1 || len != pair.secret.size())
    fail("X25519 private key export");
  pair.public_key = raw_public(key.get());
  return pair;
}

std::array<uint8_t, 32> x25519_public_key(const std::array<uint8_t, 32>& secret) {
  PKey key = private_key(secret);
  return raw_public(key.get());
}

std::array<uint8_t, 32> x25519_shared(const std::array<uint8_t, 32>& secret, const std::array<uint8_t, 32>& peer_public) {
  PKey own = private_key(secret);
  PKey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), peer_public.size()), &EVP_PKEY_free);
  if (!peer) fail("X25519 peer public key");
  PKeyCtx ctx(EVP_PKEY_CTX_new(own.get(), nullptr), &EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0) fail("X25519 derive init");
  // OpenSSL itself refuses an all-zero result (a low-order point) in EVP_PKEY_derive; either way
  // it is a KeyError, as RFC 7748 §6.1 recommends.
  if (EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) <= 0) fail("X25519 set peer");
  std::array<uint8_t, 32> out{};
  size_t len = out.size();
  const int rc = EVP_PKEY_derive(ctx.get(), out.data(), &len);
  static const uint8_t zeros[32] = {};
  if (rc <= 0 || len != out.size() || constant_time_equal(out.data(), zeros, out.size())) {
    OPENSSL_cleanse(out.data(), out.size());
    ERR_clear_error();  // OpenSSL's record of the refused derive
    throw KeyError("X25519: the peer's public key is a low-order point (the shared secret is all zeros)");
  }
  return out;
}

WrappedKey x25519_wrap(const Bytes& content_key32, const std::array<uint8_t, 32>& recipient_public) {
  if (content_key32.size() != kAeadKeyBytes)
    throw InputError("x25519_wrap: the content key must be 32 bytes, got " + std::to_string(content_key32.size()));
  X25519KeyPair eph = x25519_generate();
  std::array<uint8_t, 32> shared = x25519_shared(eph.secret, recipient_public);
  OPENSSL_cleanse(eph.secret.data(), eph.secret.size());
  const Bytes salt = transcript(eph.public_key, recipient_public);
  Bytes key = wrap_key(shared, salt);
  OPENSSL_cleanse(shared.data(), shared.size());
  WrappedKey stanza{};
  stanza.ephemeral_public = eph.public_key;
  const Bytes nonce = random_bytes(kAeadNonceBytes);
  std::copy(nonce.begin(), nonce.end(), stanza.nonce.begin());
  const Bytes sealed = aead_seal(key, stanza.nonce, content_key32.data(), content_key32.size(), salt.data(), salt.size());
  OPENSSL_cleanse(key.data(), key.size());
  if (sealed.size() != stanza.wrapped.size()) fail("x25519_wrap seal");
  std::copy(sealed.begin(), sealed.end(), stanza.wrapped.begin());
  return stanza;
}

std::optional<Bytes> x25519_unwrap(const WrappedKey& stanza, const std::array<uint8_t, 32>& recipient_secret) {
  const std::array<uint8_t, 32> recipient_public = x25519_public_key(recipient_secret);
  std::array<uint8_t, 32> shared{};
  try {
    shared = x25519_shared(recipient_secret, stanza.ephemeral_public);
  } catch (const KeyError&) {
    return std::nullopt;  // a low-order ephemeral key: not a stanza any honest sender makes
  }
  const Bytes salt = transcript(stanza.ephemeral_public, recipient_public);
  Bytes key = wrap_key(shared, salt);
  OPENSSL_cleanse(shared.data(), shared.size());
  std::optional<Bytes> content;
  try {
    content = aead_open(key, stanza.nonce, stanza.wrapped.data(), stanza.wrapped.size(), salt.data(), salt.size());
  } catch (const IntegrityError&) {
    content = std::nullopt;
  }
  OPENSSL_cleanse(key.data(), key.size());
  return content;
}

}  // namespace psic
