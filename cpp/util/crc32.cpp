#include "util/crc32.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

namespace psic {

// zlib's crc32 (zlib is linked already, for the gzipped BPE vocabulary), fed in pieces that fit
// its uInt length.
uint32_t crc32_update(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (size > 0) {
    const size_t n = std::min<size_t>(size, UINT_MAX);
    c = ::crc32(c, p, static_cast<uInt>(n));
    p += n;
    size -= n;
  }
  return static_cast<uint32_t>(c);
}

}  // namespace psic
