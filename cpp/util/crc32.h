// CRC-32 (IEEE 802.3 / zlib polynomial), incremental: crc32_update(0, data, n) is zlib's crc32.
#pragma once
#include <cstddef>
#include <cstdint>

namespace psic {

uint32_t crc32_update(uint32_t crc, const void* data, size_t size);

}  // namespace psic
