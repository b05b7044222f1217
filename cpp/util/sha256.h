// SHA-256 (FIPS 180-4), incremental. Model ids are SHA-256 digests of config + weights.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace psic {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  // The digest of everything passed to update() so far. Does not disturb the running state,
  // so more data may follow and digest() may be called again.
  std::array<uint8_t, 32> digest();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> pending_{};  // a partial block
  size_t pending_size_ = 0;
  uint64_t total_bytes_ = 0;
};

// Lower-case hexadecimal, two digits per byte.
std::string to_hex(const uint8_t* data, size_t size);

}  // namespace psic
