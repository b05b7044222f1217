// SHA-256 (FIPS 180-4), incremental, from OpenSSL's libcrypto (the library the keys and sealed
// files use). Model ids are SHA-256 digests of config + weights.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace psic {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  // The digest of everything passed to update() so far. Does not disturb the running state,
  // so more data may follow and digest() may be called again.
  std::array<uint8_t, 32> digest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Lower-case hexadecimal, two digits per byte.
std::string to_hex(const uint8_t* data, size_t size);

}  // namespace psic
