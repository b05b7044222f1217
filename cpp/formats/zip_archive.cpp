#include "formats/zip_archive.h"

#include <algorithm>
#include <set>

#include "errors.h"
#include "util/crc32.h"

namespace psic {

namespace {

struct Reader {
  const uint8_t* data;
  uint64_t size;
  void need(uint64_t at, uint64_t n) const {
    if (at > size || n > size - at) throw FormatError("zip archive is truncated or corrupted");
  }
  uint16_t u16(uint64_t at) const {
    need(at, 2);
    return static_cast<uint16_t>(data[at] | (data[at + 1] << 8));
  }
  uint32_t u32(uint64_t at) const {
    need(at, 4);
    return static_cast<uint32_t>(data[at]) | (static_cast<uint32_t>(data[at + 1]) << 8) |
           (static_cast<uint32_t>(data[at + 2]) << 16) | (static_cast<uint32_t>(data[at + 3]) << 24);
  }
  uint64_t u64(uint64_t at) const { return static_cast<uint64_t>(u32(at)) | (static_cast<uint64_t>(u32(at + 4)) << 32); }
};

constexpr uint32_t kEocd = 0x06054b50, kEocd64 = 0x06064b50, kEocd64Locator = 0x07064b50;
constexpr uint32_t kCentral = 0x02014b50, kLocal = 0x04034b50;
constexpr uint64_t kMaxEntries = 1u << 20;

}  // namespace

ZipArchive::ZipArchive(const uint8_t* data, uint64_t size) {
  Reader r{data, size};
  if (size < 22) throw FormatError("not a zip archive (too short)");
  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  uint64_t eocd = UINT64_MAX;
  const uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (uint64_t at = size - 22 + 1; at-- > lowest;) {
    if (r.u32(at) == kEocd) {
      eocd = at;
      break;
    }
  }
  if (eocd == UINT64_MAX) throw FormatError("not a zip archive (no end-of-central-directory record)");
  uint64_t count = r.u16(eocd + 10);
  uint64_t cd_offset = r.u32(eocd + 16);
  if ((count == 0xFFFF || cd_offset == 0xFFFFFFFF) && eocd >= 20 && r.u32(eocd - 20) == kEocd64Locator) {
    const uint64_t eocd64 = r.u64(eocd - 20 + 8);
    if (r.u32(eocd64) != kEocd64) throw FormatError("zip64 end-of-central-directory record is corrupted");
    count = r.u64(eocd64 + 32);
    cd_offset = r.u64(eocd64 + 48);
  }
  if (count > kMaxEntries) throw FormatError("zip archive has too many entries");
  uint64_t at = cd_offset;
  for (uint64_t i = 0; i < count; ++i) {
    if (r.u32(at) != kCentral) throw FormatError("zip central directory is corrupted");
    ZipEntry e;
    e.method = r.u16(at + 10);
    e.crc32 = r.u32(at + 16);
    uint64_t compressed = r.u32(at + 20);
    uint64_t uncompressed = r.u32(at + 24);
    const uint16_t name_len = r.u16(at + 28), extra_len = r.u16(at + 30), comment_len = r.u16(at + 32);
    uint64_t local = r.u32(at + 42);
    r.need(at + 46, name_len + extra_len);
    const std::string name(reinterpret_cast<const char*>(data + at + 46), name_len);
    // zip64 extended information: the fields that overflowed, in this order.
    for (uint64_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
      const uint16_t id = r.u16(x), len = r.u16(x + 2);
      uint64_t f = x + 4;
      if (id == 0x0001) {
        if (uncompressed == 0xFFFFFFFF) { uncompressed = r.u64(f); f += 8; }
        if (compressed == 0xFFFFFFFF) { compressed = r.u64(f); f += 8; }
        if (local == 0xFFFFFFFF) { local = r.u64(f); f += 8; }
      }
      x += 4 + static_cast<uint64_t>(len);
    }
    if (r.u32(local) != kLocal) throw FormatError("zip local header of '" + name + "' is corrupted");
    const uint64_t data_at = local + 30 + r.u16(local + 26) + r.u16(local + 28);
    r.need(data_at, compressed);
    e.data = data + data_at;
    e.size = e.method == 0 ? compressed : uncompressed;
    if (e.method == 0 && compressed != uncompressed) throw FormatError("zip entry '" + name + "' has inconsistent sizes");
    entries_[name] = e;
    at += 46 + static_cast<uint64_t>(name_len) + extra_len + comment_len;
  }
}

const ZipEntry& ZipArchive::get(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw FormatError("zip archive has no entry '" + name + "'");
  const ZipEntry& e = it->second;
  if (e.method != 0) throw FormatError("zip entry '" + name + "' is compressed (method " + std::to_string(e.method) +
                                       "); PyTorch checkpoints store entries uncompressed");
  if (crc32_update(0, e.data, e.size) != e.crc32) throw FormatError("zip entry '" + name + "' fails its CRC-32 check");
  return e;
}

}  // namespace psic
