#include "crypto/primitives.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <memory>

#include "errors.h"
#include "util/sha256.h"

namespace psic {

namespace {

[[noreturn]] void fail(const char* what) { throw Error(std::string("OpenSSL: ") + what + " failed"); }

}  // namespace

Bytes hkdf_sha256(const Bytes& ikm, const Bytes& salt, const std::string& info, size_t length) {
  if (length == 0 || length > 255 * 32) throw InputError("HKDF-SHA256 output length must be in [1, 8160]");
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), &EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0) fail("HKDF init");
  // An empty salt means HashLen zeros (RFC 5869 §2.2); OpenSSL wants a non-null pointer for it.
  static const uint8_t zero_salt[32] = {};
  const uint8_t* s = salt.empty() ? zero_salt : salt.data();
  const int s_len = static_cast<int>(salt.empty() ? sizeof(zero_salt) : salt.size());
  if (EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), s, s_len) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm.data(), static_cast<int>(ikm.size())) <= 0 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(info.data()), static_cast<int>(info.size())) <= 0)
    fail("HKDF parameters");
  Bytes out(length);
  size_t out_len = length;
  if (EVP_PKEY_derive(ctx.get(), out.data(), &out_len) <= 0 || out_len != length) fail("HKDF derive");
  return out;
}

std::array<uint8_t, 32> hmac_sha256(const Bytes& key, const uint8_t* data, size_t size) {
  std::array<uint8_t, 32> out{};
  unsigned int out_len = 0;
  static const uint8_t empty = 0;
  if (!HMAC(EVP_sha256(), key.empty() ? &empty : key.data(), static_cast<int>(key.size()), size ? data : &empty, size,
            out.data(), &out_len) ||
      out_len != out.size())
    fail("HMAC-SHA256");
  return out;
}

bool constant_time_equal(const uint8_t* a, const uint8_t* b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

Bytes random_bytes(size_t n) {
  Bytes out(n);
  if (n && RAND_bytes(out.data(), static_cast<int>(n)) != 1) fail("RAND_bytes");
  return out;
}

std::string to_hex_string(const Bytes& bytes) { return to_hex(bytes.data(), bytes.size()); }

Bytes from_hex(const std::string& hex) {
  auto digit = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw InputError("not a hexadecimal string");
  };
  if (hex.size() % 2) throw InputError("a hexadecimal string needs an even number of digits");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(digit(hex[2 * i]) * 16 + digit(hex[2 * i + 1]));
  return out;
}

}  // namespace psic
