// A read-only view of a zip archive held in memory, for PyTorch checkpoints: torch.save writes
// STORED (uncompressed) entries, so no inflate is needed. zip64 records are understood.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace psic {

struct ZipEntry {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  uint32_t crc32 = 0;
  uint16_t method = 0;
};

class ZipArchive {
 public:
  // Throws FormatError if the bytes are not a readable zip. Keeps pointers into `data`.
  ZipArchive(const uint8_t* data, uint64_t size);
  bool has(const std::string& name) const { return entries_.count(name) > 0; }
  // The entry's bytes, CRC-checked. Throws FormatError if missing, compressed or corrupted.
  const ZipEntry& get(const std::string& name) const;
  const std::map<std::string, ZipEntry>& entries() const { return entries_; }

 private:
  std::map<std::string, ZipEntry> entries_;
};

}  // namespace psic
