#include "formats/container.h"

#include <cstring>

#include "errors.h"
#include "util/crc32.h"
#include "util/sha256.h"

namespace psic {

namespace {
void put16(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get16(const uint8_t* p) { return p[0] | (p[1] << 8); }
uint32_t get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
constexpr uint8_t kMagic[4] = {'P', 'S', 'I', 'C'};
constexpr size_t kKeyCheckOffset = 72;

size_t header_size_of(uint16_t version) { return version == kContainerVersionKeyCheck ? kContainerHeaderSizeKeyCheck : kContainerHeaderSize; }
// The CRC-32 is the header's last field.
size_t checksum_offset(size_t header_size) { return header_size - 4; }

// Magic, version and header size: what every reader checks first. Returns the header size.
size_t check_head(const uint8_t* data, size_t size) {
  if (size < 4 || std::memcmp(data, kMagic, 4) != 0) throw FormatError("not a .psic container (bad magic)");
  if (size < 8) throw FormatError(".psic container is truncated (" + std::to_string(size) + " bytes)");
  const uint16_t version = static_cast<uint16_t>(get16(data + 4));
  if (version != kContainerVersion && version != kContainerVersionKeyCheck)
    throw FormatError("unsupported .psic format version " + std::to_string(version) + " (this build reads versions " +
                      std::to_string(kContainerVersion) + " and " + std::to_string(kContainerVersionKeyCheck) + ")");
  const size_t header_size = header_size_of(version);
  if (get16(data + 6) != header_size) throw FormatError(".psic header size is invalid");
  if (size < header_size) throw FormatError(".psic container is truncated (" + std::to_string(size) + " bytes)");
  return header_size;
}
}  // namespace

Padding compute_padding(int64_t h, int64_t w, int64_t min_div) {
  const int64_t hp = (h + min_div - 1) / min_div * min_div;
  const int64_t wp = (w + min_div - 1) / min_div * min_div;
  Padding p;
  p.left = (wp - w) / 2;
  p.right = wp - w - p.left;
  p.top = (hp - h) / 2;
  p.bottom = hp - h - p.top;
  return p;
}

std::vector<uint8_t> write_container(ContainerHeader h, const std::vector<uint8_t>& z, const std::vector<uint8_t>& y) {
  const uint16_t version = h.has_key_check ? kContainerVersionKeyCheck : kContainerVersion;
  const size_t header_size = header_size_of(version);
  std::vector<uint8_t> b(header_size + z.size() + y.size());
  std::memcpy(b.data(), kMagic, 4);
  put16(b, 4, version);
  put16(b, 6, static_cast<uint32_t>(header_size));
  std::memcpy(b.data() + 8, h.model_id.data(), 16);
  put32(b, 24, h.height);
  put32(b, 28, h.width);
  put16(b, 32, static_cast<uint32_t>(h.padding.left));
  put16(b, 34, static_cast<uint32_t>(h.padding.right));
  put16(b, 36, static_cast<uint32_t>(h.padding.top));
  put16(b, 38, static_cast<uint32_t>(h.padding.bottom));
  for (int i = 0; i < 3; ++i) put32(b, 40 + 4 * i, h.y_shape[i]);
  for (int i = 0; i < 3; ++i) put32(b, 52 + 4 * i, h.z_shape[i]);
  put32(b, 64, static_cast<uint32_t>(z.size()));
  put32(b, 68, static_cast<uint32_t>(y.size()));
  if (h.has_key_check) {
    std::memcpy(b.data() + kKeyCheckOffset, h.key_check_salt.data(), 16);
    std::memcpy(b.data() + kKeyCheckOffset + 16, h.key_check_tag.data(), 16);
  }
  std::memcpy(b.data() + header_size, z.data(), z.size());
  std::memcpy(b.data() + header_size + z.size(), y.data(), y.size());
  uint32_t crc = crc32_update(0, b.data(), checksum_offset(header_size));
  crc = crc32_update(crc, b.data() + header_size, z.size() + y.size());
  put32(b, checksum_offset(header_size), crc);
  return b;
}

ParsedContainer parse_container(const uint8_t* data, size_t size, uint64_t pixel_limit) {
  const size_t header_size = check_head(data, size);
  ParsedContainer out;
  ContainerHeader& h = out.header;
  h.version = static_cast<uint16_t>(get16(data + 4));
  std::memcpy(h.model_id.data(), data + 8, 16);
  h.height = get32(data + 24);
  h.width = get32(data + 28);
  h.padding = {get16(data + 32), get16(data + 34), get16(data + 36), get16(data + 38)};
  for (int i = 0; i < 3; ++i) h.y_shape[i] = get32(data + 40 + 4 * i);
  for (int i = 0; i < 3; ++i) h.z_shape[i] = get32(data + 52 + 4 * i);
  h.z_length = get32(data + 64);
  h.y_length = get32(data + 68);
  h.checksum = get32(data + checksum_offset(header_size));
  h.has_key_check = h.version == kContainerVersionKeyCheck;
  if (h.has_key_check) {
    std::memcpy(h.key_check_salt.data(), data + kKeyCheckOffset, 16);
    std::memcpy(h.key_check_tag.data(), data + kKeyCheckOffset + 16, 16);
  }

  if (h.height == 0 || h.width == 0) throw FormatError(".psic header has zero dimensions");
  const uint64_t pixels = static_cast<uint64_t>(h.height) * h.width;
  if (pixels > pixel_limit)
    throw LimitError(".psic image is " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                     ", over the pixel limit of " + std::to_string(pixel_limit) +
                     " (raise it with the pixelLimit option or --pixel-limit)");
  const uint64_t payload = static_cast<uint64_t>(h.z_length) + h.y_length;
  if (header_size + payload != size)
    throw FormatError(".psic container is truncated or has trailing bytes (header says " +
                      std::to_string(header_size + payload) + " bytes, got " + std::to_string(size) + ")");
  uint32_t crc = crc32_update(0, data, checksum_offset(header_size));
  crc = crc32_update(crc, data + header_size, payload);
  if (crc != h.checksum) throw FormatError(".psic checksum mismatch: the file is corrupted");

  // The geometry must be exactly what the encoder derives from H x W.
  const Padding expected = compute_padding(h.height, h.width);
  if (h.padding.left != expected.left || h.padding.right != expected.right || h.padding.top != expected.top ||
      h.padding.bottom != expected.bottom)
    throw FormatError(".psic padding does not match the image size");
  const uint64_t hp = h.height + expected.top + expected.bottom, wp = h.width + expected.left + expected.right;
  // Models without a hyper-latent (factorized prior) write a zero z shape and no z string.
  const bool has_z = h.z_shape[0] != 0 || h.z_shape[1] != 0 || h.z_shape[2] != 0 || h.z_length != 0;
  if (h.y_shape[1] != hp / 16 || h.y_shape[2] != wp / 16 ||
      (has_z && (h.z_shape[1] != hp / 64 || h.z_shape[2] != wp / 64)))
    throw FormatError(".psic latent shapes do not match the image size");
  if (h.y_shape[0] == 0 || h.y_shape[0] > 4096 || (has_z && (h.z_shape[0] == 0 || h.z_shape[0] > 4096)))
    throw FormatError(".psic latent channel counts are invalid");
  out.z = data + header_size;
  out.y = out.z + h.z_length;
  return out;
}

uint64_t declared_container_size(const uint8_t* head, size_t size) {
  const size_t header_size = check_head(head, size);
  return header_size + static_cast<uint64_t>(get32(head + 64)) + get32(head + 68);
}

std::string model_id_hex(const std::array<uint8_t, 16>& id) { return to_hex(id.data(), id.size()); }

}  // namespace psic
