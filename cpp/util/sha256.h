// SHA-256 (FIPS 180-4), incremental. Used for model ids.
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
  std::array<uint8_t, 32> digest();  // finalizes; call once

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_ = 0;
};

std::string to_hex(const uint8_t* data, size_t size);

}  // namespace psic
