#include "formats/zip_archive.h"

#include <algorithm>

#include "errors.h"
#include "util/crc32.h"

namespace psic {

namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;
constexpr uint64_t kMaxEntries = 1u << 20;  // a checkpoint has one entry per storage

[[noreturn]] void fail(const std::string& what) { throw FormatError("zip: " + what); }

// Little-endian reads that refuse to leave [0, size).
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool fits(uint64_t at, uint64_t n) const { return at <= size_ && n <= size_ - at; }
  void need(uint64_t at, uint64_t n, const char* what) const {
    if (!fits(at, n)) fail(std::string(what) + " lies outside the archive (truncated file?)");
  }
  uint16_t u16(uint64_t at) const {
    need(at, 2, "a header field");
    return static_cast<uint16_t>(data_[at] | (data_[at + 1] << 8));
  }
  uint32_t u32(uint64_t at) const {
    need(at, 4, "a header field");
    return uint32_t(data_[at]) | (uint32_t(data_[at + 1]) << 8) | (uint32_t(data_[at + 2]) << 16) |
           (uint32_t(data_[at + 3]) << 24);
  }
  uint64_t u64(uint64_t at) const { return uint64_t(u32(at)) | (uint64_t(u32(at + 4)) << 32); }

 private:
  const uint8_t* data_;
  size_t size_;
};

struct Directory {
  uint64_t count;
  uint64_t offset;
  uint64_t size;
};

// The end-of-central-directory record is the last 22 bytes plus a comment of at most 64 KiB;
// search backwards over that window only, and accept a signature only if its comment length
// reaches exactly the end of the file (a signature inside data would not).
Directory find_directory(const Cursor& in, size_t size) {
  if (size < kEndSize) fail("no end-of-central-directory record (file too short)");
  const size_t lowest = size > kEndSize + 0xFFFF ? size - kEndSize - 0xFFFF : 0;
  for (size_t at = size - kEndSize + 1; at-- > lowest;) {
    if (in.u32(at) != kEndSignature || at + kEndSize + in.u16(at + 20) != size) continue;
    Directory dir{in.u16(at + 10), in.u32(at + 16), in.u32(at + 12)};
    if (in.u16(at + 4) != 0 || in.u16(at + 6) != 0) fail("multi-disk archives are not supported");
    // zip64: a locator right before the record points at the zip64 end record.
    if (at >= kZip64LocatorSize && in.u32(at - kZip64LocatorSize) == kZip64LocatorSignature) {
      const uint64_t end64 = in.u64(at - kZip64LocatorSize + 8);
      if (end64 > at - kZip64LocatorSize || at - kZip64LocatorSize - end64 < kZip64EndSize ||
          in.u32(end64) != kZip64EndSignature)
        fail("the zip64 end-of-central-directory record is corrupted");
      dir = Directory{in.u64(end64 + 32), in.u64(end64 + 48), in.u64(end64 + 40)};
    }
    return dir;
  }
  fail("no end-of-central-directory record");
}

}  // namespace

ZipArchive::ZipArchive(const uint8_t* data, size_t size) : data_(data), size_(size) {
  const Cursor in(data, size);
  const Directory dir = find_directory(in, size);
  in.need(dir.offset, dir.size, "the central directory");
  if (dir.count > kMaxEntries || dir.count > dir.size / kCentralHeaderSize)
    fail("the central directory claims " + std::to_string(dir.count) + " entries, more than it can hold");
  const uint64_t dir_end = dir.offset + dir.size;
  entries_.reserve(static_cast<size_t>(dir.count));

  uint64_t at = dir.offset;
  for (uint64_t i = 0; i < dir.count; ++i) {
    if (dir_end - at < kCentralHeaderSize || in.u32(at) != kCentralHeaderSignature)
      fail("central directory entry " + std::to_string(i) + " is corrupted");
    const uint16_t flags = in.u16(at + 8);
    ZipEntry e;
    e.method = in.u16(at + 10);
    e.crc32 = in.u32(at + 16);
    e.compressed_size = in.u32(at + 20);
    e.size = in.u32(at + 24);
    const uint16_t name_size = in.u16(at + 28), extra_size = in.u16(at + 30), comment_size = in.u16(at + 32);
    uint64_t local = in.u32(at + 42);
    const uint64_t record_size = kCentralHeaderSize + uint64_t(name_size) + extra_size + comment_size;
    if (record_size > dir_end - at) fail("central directory entry " + std::to_string(i) + " is truncated");
    e.name.assign(reinterpret_cast<const char*>(data + at + kCentralHeaderSize), name_size);
    if (flags & 1u) fail("entry '" + e.name + "' is encrypted");

    // zip64 extended information (id 1): 64-bit values for exactly the fields that hold 0xFFFFFFFF.
    const uint64_t extra_end = at + kCentralHeaderSize + name_size + extra_size;
    for (uint64_t x = at + kCentralHeaderSize + name_size; extra_end - x >= 4;) {
      const uint16_t id = in.u16(x), len = in.u16(x + 2);
      if (len > extra_end - x - 4) fail("extra field of entry '" + e.name + "' is truncated");
      if (id == 0x0001) {
        uint64_t f = x + 4;
        const uint64_t f_end = f + len;
        auto take64 = [&](uint64_t& field) {
          if (field != 0xFFFFFFFFu) return;
          if (f_end - f < 8) fail("zip64 field of entry '" + e.name + "' is truncated");
          field = in.u64(f);
          f += 8;
        };
        take64(e.size);
        take64(e.compressed_size);
        take64(local);
      }
      x += 4 + uint64_t(len);
    }

    if (!in.fits(local, kLocalHeaderSize) || in.u32(local) != kLocalHeaderSignature)
      fail("local header of entry '" + e.name + "' is missing or corrupted");
    const uint16_t local_name_size = in.u16(local + 26), local_extra_size = in.u16(local + 28);
    in.need(local + kLocalHeaderSize, local_name_size, "a local header");
    if (local_name_size != name_size ||
        !std::equal(data + local + kLocalHeaderSize, data + local + kLocalHeaderSize + name_size, e.name.begin()))
      fail("local header of entry '" + e.name + "' names another entry");
    e.data_offset = local + kLocalHeaderSize + local_name_size + local_extra_size;
    if (!in.fits(e.data_offset, e.compressed_size)) fail("data of entry '" + e.name + "' lies outside the archive");
    if (e.method == 0 && e.compressed_size != e.size) fail("stored entry '" + e.name + "' has inconsistent sizes");

    if (!index_.emplace(e.name, entries_.size()).second) fail("duplicate entry '" + e.name + "'");
    entries_.push_back(std::move(e));
    at += record_size;
  }
  verified_.assign(entries_.size(), false);
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

ZipArchive::Bytes ZipArchive::read(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail("missing entry '" + name + "'");
  const ZipEntry& e = entries_[it->second];
  if (e.method != 0)
    fail("entry '" + name + "' is compressed (method " + std::to_string(e.method) +
         "); PyTorch checkpoints store their entries uncompressed");
  const Bytes bytes{data_ + e.data_offset, static_cast<size_t>(e.size)};
  if (!verified_[it->second]) {
    const uint32_t crc = crc32_update(0, bytes.data, bytes.size);
    if (crc != e.crc32) fail("entry '" + name + "' fails its CRC-32 check (corrupted file)");
    verified_[it->second] = true;
  }
  return bytes;
}

}  // namespace psic
