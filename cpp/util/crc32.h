// CRC-32 as zip, PNG and zlib compute it (IEEE 802.3, reflected polynomial 0xEDB88320).
// Used to verify zip entries of PyTorch checkpoints and to protect psic containers.
#pragma once
#include <cstddef>
#include <cstdint>

namespace psic {

// Incremental: crc32_update(0, data, n) is zlib's crc32(0, data, n), and
// crc32_update(crc32_update(0, a, n), b, m) equals the CRC of a followed by b.
uint32_t crc32_update(uint32_t crc, const void* data, size_t size);

}  // namespace psic
