#include "crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "errors.h"

namespace psic {

namespace {

[[noreturn]] void fail(const char* what) { throw Error(std::string("OpenSSL: ") + what + " failed"); }

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// OpenSSL's EVP update calls take int lengths: feed larger buffers in pieces.
constexpr size_t kChunk = size_t(1) << 30;

void check_key(const Bytes& key) {
  if (key.size() != kAeadKeyBytes) throw InputError("AES-256-GCM needs a 32-byte key, got " + std::to_string(key.size()) + " bytes");
}

CipherCtx start(const Bytes& key, const std::array<uint8_t, kAeadNonceBytes>& nonce, bool encrypt) {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) fail("EVP_CIPHER_CTX_new");
  const int enc = encrypt ? 1 : 0;
  // The nonce length is GCM's default (12 bytes); set it explicitly all the same.
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kAeadNonceBytes), nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data(), enc) != 1)
    fail("AES-256-GCM init");
  return ctx;
}

// Authenticates the AD (output pointer null). Nothing to do for empty AD.
void feed_ad(EVP_CIPHER_CTX* ctx, const uint8_t* ad, size_t ad_n) {
  for (size_t off = 0; off < ad_n;) {
    const size_t len = std::min(kChunk, ad_n - off);
    int out_len = 0;
    if (EVP_CipherUpdate(ctx, nullptr, &out_len, ad + off, static_cast<int>(len)) != 1) fail("AES-256-GCM AD");
    off += len;
  }
}

// Encrypts or decrypts n bytes from in to out (GCM is a stream mode: out gets exactly n bytes).
void feed_data(EVP_CIPHER_CTX* ctx, const uint8_t* in, size_t n, uint8_t* out) {
  for (size_t off = 0; off < n;) {
    const size_t len = std::min(kChunk, n - off);
    int out_len = 0;
    if (EVP_CipherUpdate(ctx, out + off, &out_len, in + off, static_cast<int>(len)) != 1 || out_len != static_cast<int>(len))
      fail("AES-256-GCM update");
    off += len;
  }
}

}  // namespace

Bytes aead_seal(const Bytes& key32, const std::array<uint8_t, kAeadNonceBytes>& nonce, const uint8_t* plaintext, size_t n,
                const uint8_t* ad, size_t ad_n) {
  check_key(key32);
  if ((n && !plaintext) || (ad_n && !ad)) throw InputError("AES-256-GCM: a null buffer with a non-zero size");
  CipherCtx ctx = start(key32, nonce, true);
  feed_ad(ctx.get(), ad, ad_n);
  Bytes out(n + kAeadTagBytes);
  feed_data(ctx.get(), plaintext, n, out.data());
  // GCM's final writes no bytes, but OpenSSL wants a valid pointer.
  uint8_t scratch[16];
  int final_len = 0;
  if (EVP_CipherFinal_ex(ctx.get(), scratch, &final_len) != 1 || final_len != 0) fail("AES-256-GCM final");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAeadTagBytes), out.data() + n) != 1)
    fail("AES-256-GCM get tag");
  return out;
}

Bytes aead_open(const Bytes& key32, const std::array<uint8_t, kAeadNonceBytes>& nonce, const uint8_t* ciphertext_and_tag, size_t n,
                const uint8_t* ad, size_t ad_n) {
  check_key(key32);
  if ((n && !ciphertext_and_tag) || (ad_n && !ad)) throw InputError("AES-256-GCM: a null buffer with a non-zero size");
  if (n < kAeadTagBytes) throw IntegrityError("AES-256-GCM: the sealed data is shorter than its tag");
  const size_t m = n - kAeadTagBytes;
  CipherCtx ctx = start(key32, nonce, false);
  feed_ad(ctx.get(), ad, ad_n);
  Bytes out(m);
  feed_data(ctx.get(), ciphertext_and_tag, m, out.data());
  // OpenSSL's ctrl takes a non-const pointer; it only copies the tag from it.
  uint8_t tag[kAeadTagBytes];
  std::copy(ciphertext_and_tag + m, ciphertext_and_tag + n, tag);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAeadTagBytes), tag) != 1) fail("AES-256-GCM set tag");
  uint8_t scratch[16];
  int final_len = 0;
  // The tag comparison inside EVP_DecryptFinal_ex is constant-time (CRYPTO_memcmp).
  if (EVP_CipherFinal_ex(ctx.get(), scratch, &final_len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    ERR_clear_error();
    throw IntegrityError("AES-256-GCM: the authentication tag does not match (wrong key, or tampered or truncated data)");
  }
  return out;
}

}  // namespace psic
