// A read-only view of a zip archive held in memory, enough for PyTorch checkpoints: torch.save
// writes STORED (uncompressed) entries, so no inflate is needed. Understands zip64 records.
// Every offset and length read from the archive is checked against the buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace psic {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;           // 0 = stored, 8 = deflate, ...
  uint32_t crc32 = 0;            // as recorded in the central directory
  uint64_t data_offset = 0;      // of the (possibly compressed) bytes, in the archive
  uint64_t compressed_size = 0;
  uint64_t size = 0;             // uncompressed
};

class ZipArchive {
 public:
  // Parses the central directory and every local header. Keeps pointers into `data`, which must
  // outlive the archive. Throws FormatError ("zip: ...") on anything malformed.
  ZipArchive(const uint8_t* data, size_t size);

  const std::vector<ZipEntry>& entries() const { return entries_; }  // central directory order
  const ZipEntry* find(const std::string& name) const;

  struct Bytes {
    const uint8_t* data;
    size_t size;
  };
  // The contents of a stored entry, its CRC-32 verified (once per entry). Throws FormatError if
  // the entry is missing, compressed or corrupted.
  Bytes read(const std::string& name) const;

 private:
  const uint8_t* data_;
  size_t size_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
  mutable std::vector<bool> verified_;
};

}  // namespace psic
