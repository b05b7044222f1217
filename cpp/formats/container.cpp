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

size_t header_size_of(uint16_t version) {
  return version == kContainerVersionSealed     ? kContainerHeaderSizeSealed
         : version == kContainerVersionKeyCheck ? kContainerHeaderSizeKeyCheck
                                                : kContainerHeaderSize;
}
// The CRC-32 is the header's last field.
size_t checksum_offset(size_t header_size) { return header_size - 4; }

// Magic, version and header size: what every reader checks first. Returns the header size.
size_t check_head(const uint8_t* data, size_t size) {
  if (size < 4 || std::memcmp(data, kMagic, 4) != 0) throw FormatError("not a .psic container (bad magic)");
  if (size < 8) throw FormatError(".psic container is truncated (" + std::to_string(size) + " bytes)");
  const uint16_t version = static_cast<uint16_t>(get16(data + 4));
  if (version < kContainerVersion || version > kContainerVersionSealed)
    throw FormatError("unsupported .psic format version " + std::to_string(version) + " (this build reads versions 1 to 3)");
  const size_t header_size = header_size_of(version);
  if (get16(data + 6) != header_size) throw FormatError(".psic header size is invalid");
  if (size < header_size) throw FormatError(".psic container is truncated (" + std::to_string(size) + " bytes)");
  return header_size;
}
// Bytes [0, 72): what every version shares.
void put_common(std::vector<uint8_t>& b, const ContainerHeader& h, uint16_t version, size_t header_size, size_t z_size, size_t y_size) {
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
  put32(b, 64, static_cast<uint32_t>(z_size));
  put32(b, 68, static_cast<uint32_t>(y_size));
}

template <size_t N>
void put_bytes(std::vector<uint8_t>& b, size_t at, const std::array<uint8_t, N>& a) {
  std::memcpy(b.data() + at, a.data(), N);
}
template <size_t N>
void get_bytes(std::array<uint8_t, N>& a, const uint8_t* p) {
  std::memcpy(a.data(), p, N);
}

// The rest of a version 3 header (72-184) and its recipients count.
void parse_sealed_header(const uint8_t* data, SealedHeader& s) {
  s.sealed_length = get32(data + 72);
  const uint8_t coding = data[76];
  if (coding != static_cast<uint8_t>(SealedCoding::Conditional) && coding != static_cast<uint8_t>(SealedCoding::Simulcast))
    throw FormatError(".psic sealed coding " + std::to_string(coding) + " is unknown");
  s.coding = static_cast<SealedCoding>(coding);
  s.reserved = data[77];
  if (s.reserved != 0) throw FormatError(".psic sealed header's reserved byte is not 0");
  s.recipients.resize(data[78]);
  if (data[79] > 1) throw FormatError(".psic public synthesis " + std::to_string(data[79]) + " is unknown");
  s.public_synthesis = static_cast<PublicSynthesis>(data[79]);
  get_bytes(s.file_salt, data + 80);
  get_bytes(s.owner_check, data + 96);
  get_bytes(s.owner_nonce, data + 112);
  get_bytes(s.owner_wrapped, data + 124);
  get_bytes(s.sealed_nonce, data + 172);
  if (s.sealed_length < 16) throw FormatError(".psic sealed section is shorter than its tag");
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
  put_common(b, h, version, header_size, z.size(), y.size());
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

std::vector<uint8_t> sealed_container_prefix(const ContainerHeader& h, const std::vector<uint8_t>& z, const std::vector<uint8_t>& y) {
  const SealedHeader& s = h.seal;
  if (s.recipients.size() > 255) throw InputError("a sealed file has at most 255 recipients");
  std::vector<uint8_t> b(kContainerHeaderSizeSealed + z.size() + y.size() + kRecipientStanzaSize * s.recipients.size());
  put_common(b, h, kContainerVersionSealed, kContainerHeaderSizeSealed, z.size(), y.size());
  put32(b, 72, s.sealed_length);
  b[76] = static_cast<uint8_t>(s.coding);
  b[77] = s.reserved;
  b[78] = static_cast<uint8_t>(s.recipients.size());
  b[79] = static_cast<uint8_t>(s.public_synthesis);
  put_bytes(b, 80, s.file_salt);
  put_bytes(b, 96, s.owner_check);
  put_bytes(b, 112, s.owner_nonce);
  put_bytes(b, 124, s.owner_wrapped);
  put_bytes(b, 172, s.sealed_nonce);
  size_t at = kContainerHeaderSizeSealed;
  std::memcpy(b.data() + at, z.data(), z.size());
  std::memcpy(b.data() + at + z.size(), y.data(), y.size());
  at += z.size() + y.size();
  for (const RecipientStanza& r : s.recipients) {
    put_bytes(b, at, r.ephemeral_public);
    put_bytes(b, at + 32, r.nonce);
    put_bytes(b, at + 44, r.wrapped);
    at += kRecipientStanzaSize;
  }
  return b;
}

std::vector<uint8_t> finish_sealed_container(std::vector<uint8_t> b, const std::vector<uint8_t>& sealed) {
  if (get32(b.data() + 72) != sealed.size()) throw InputError("the sealed section's length differs from the header's");
  b.insert(b.end(), sealed.begin(), sealed.end());
  const uint32_t crc = crc32_update(0, b.data(), b.size());
  b.resize(b.size() + 4);
  put32(b, b.size() - 4, crc);
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
  h.sealed = h.version == kContainerVersionSealed;
  if (h.sealed) parse_sealed_header(data, h.seal);
  h.checksum = h.sealed ? 0 : get32(data + checksum_offset(header_size));
  h.has_key_check = h.version == kContainerVersionKeyCheck;
  if (h.has_key_check) {
    std::memcpy(h.key_check_salt.data(), data + kKeyCheckOffset, 16);
    std::memcpy(h.key_check_tag.data(), data + kKeyCheckOffset + 16, 16);
  }

  const auto check_size = [&] {
    const uint64_t declared = declared_container_size(data, size);
    if (declared != size)
      throw FormatError(".psic container is truncated or has trailing bytes (header says " + std::to_string(declared) +
                        " bytes, got " + std::to_string(size) + ")");
  };
  const auto check_dimensions = [&] {
    if (h.height == 0 || h.width == 0) throw FormatError(".psic header has zero dimensions");
    const uint64_t pixels = static_cast<uint64_t>(h.height) * h.width;
    if (pixels > pixel_limit)
      throw LimitError(".psic image is " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                       ", over the pixel limit of " + std::to_string(pixel_limit) +
                       " (raise it with the pixelLimit option or --pixel-limit)");
  };
  if (h.sealed) {
    // Sealed files check their CRC first: any altered byte is an integrity failure, told apart
    // from a wrong key before any key is tried (and authenticated once unsealed).
    check_size();
    h.checksum = get32(data + size - 4);
    if (crc32_update(0, data, size - 4) != h.checksum) throw IntegrityError(".psic checksum mismatch: the sealed file is corrupted or was altered");
    check_dimensions();
  } else {
    check_dimensions();
    check_size();
    uint32_t crc = crc32_update(0, data, checksum_offset(header_size));
    crc = crc32_update(crc, data + header_size, static_cast<uint64_t>(h.z_length) + h.y_length);
    if (crc != h.checksum) throw FormatError(".psic checksum mismatch: the file is corrupted");
  }

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
  if (h.sealed) {
    const uint8_t* at = out.y + h.y_length;
    for (RecipientStanza& r : h.seal.recipients) {
      get_bytes(r.ephemeral_public, at);
      get_bytes(r.nonce, at + 32);
      get_bytes(r.wrapped, at + 44);
      at += kRecipientStanzaSize;
    }
    out.sealed = at;
    out.associated_size = static_cast<size_t>(at - data);
  }
  return out;
}

uint64_t declared_container_size(const uint8_t* head, size_t size) {
  const size_t header_size = check_head(head, size);
  uint64_t total = header_size + static_cast<uint64_t>(get32(head + 64)) + get32(head + 68);
  if (get16(head + 4) == kContainerVersionSealed)
    total += kRecipientStanzaSize * static_cast<uint64_t>(head[78]) + get32(head + 72) + 4;
  return total;
}

std::string model_id_hex(const std::array<uint8_t, 16>& id) { return to_hex(id.data(), id.size()); }

}  // namespace psic
