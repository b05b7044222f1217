#include "util/sha256.h"

#include <openssl/evp.h>

#include "errors.h"

namespace psic {

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  if (!state_->ctx || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) throw Error("OpenSSL: SHA-256 init failed");
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t size) {
  if (size > 0 && EVP_DigestUpdate(state_->ctx, data, size) != 1) throw Error("OpenSSL: SHA-256 update failed");
}

std::array<uint8_t, 32> Sha256::digest() {
  // Finish a copy, so that the running state goes on.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> copy(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::array<uint8_t, 32> out{};
  unsigned int n = 0;
  if (!copy || EVP_MD_CTX_copy_ex(copy.get(), state_->ctx) != 1 || EVP_DigestFinal_ex(copy.get(), out.data(), &n) != 1 || n != out.size())
    throw Error("OpenSSL: SHA-256 digest failed");
  return out;
}

std::string to_hex(const uint8_t* data, size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

}  // namespace psic
