// The .psic container: one bitstream per image (docs/container.md is the full spec).
//
//   offset size  field (little-endian)
//   0      4     magic "PSIC"
//   4      2     format version: 1, or 2 when the file carries a key check
//   6      2     header size (76 in version 1, 108 in version 2)
//   8      16    model id (first 16 bytes of the model's SHA-256 id)
//   24     4+4   original height, width
//   32     2x4   padding left, right, top, bottom (centered, to a multiple of 64)
//   40     4x3   y shape C, h, w
//   52     4x3   z shape C, h, w
//   64     4+4   z string length, y string length
//   version 1:
//   72     4     CRC-32 over bytes [0, 72) and the payload
//   76     ...   z string, then y string
//   version 2 (compressed with the owner's key; cpp/models/keys.h):
//   72     16    key check: file salt
//   88     16    key check: tag
//   104    4     CRC-32 over bytes [0, 104) and the payload
//   108    ...   z string, then y string
//
// Files without a key check are written as version 1, byte for byte as before, so every reader
// of version 1 still reads them.
//
//   version 3 (sealed: the full image only with a key; docs/container.md "Sealed files"):
//   0-71          as above (the lengths at 64 and 68 are the public section's strings)
//   72     4     sealed section length (ciphertext and its 16-byte tag)
//   76     1     sealed coding: 1 conditional on the public latent, 2 simulcast
//   77     1     reserved, 0
//   78     1     recipients count n
//   79     1     public synthesis: 0 the protected decode, 1 the backbone's synthesis
//   80     16    file salt (of the owner's file key)
//   96     16    owner key check
//   112    12    owner stanza nonce
//   124    48    owner stanza: the content key wrapped (32 bytes and a 16-byte tag)
//   172    12    sealed section nonce
//   184    ...   public z string, public y string, n recipient stanzas of 92 bytes,
//                the sealed section, then a CRC-32 of every byte before it
// The sealed section's associated data is every byte before it.
// Parsing checks everything before anything is allocated from the header's numbers.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace psic {

constexpr uint16_t kContainerVersion = 1;
constexpr uint16_t kContainerVersionKeyCheck = 2;
constexpr size_t kContainerHeaderSize = 76;
constexpr size_t kContainerHeaderSizeKeyCheck = 108;
constexpr uint16_t kContainerVersionSealed = 3;
constexpr size_t kContainerHeaderSizeSealed = 184;
constexpr size_t kContainerMaxHeaderSize = kContainerHeaderSizeSealed;
constexpr size_t kRecipientStanzaSize = 92;

enum class SealedCoding : uint8_t { Conditional = 1, Simulcast = 2 };
enum class PublicSynthesis : uint8_t { Protected = 0, Backbone = 1 };

// A content key wrapped for one X25519 recipient (cpp/crypto/x25519.h).
struct RecipientStanza {
  std::array<uint8_t, 32> ephemeral_public{};
  std::array<uint8_t, 12> nonce{};
  std::array<uint8_t, 48> wrapped{};
};

// What version 3 adds to the header.
struct SealedHeader {
  uint32_t sealed_length = 0;
  SealedCoding coding = SealedCoding::Conditional;
  uint8_t reserved = 0;
  PublicSynthesis public_synthesis = PublicSynthesis::Protected;
  std::array<uint8_t, 16> file_salt{}, owner_check{};
  std::array<uint8_t, 12> owner_nonce{};
  std::array<uint8_t, 48> owner_wrapped{};
  std::array<uint8_t, 12> sealed_nonce{};
  std::vector<RecipientStanza> recipients;
};
constexpr uint64_t kDefaultPixelLimit = 268402689;  // sharp's default limitInputPixels (0x3FFF * 0x3FFF)

struct Padding {
  int64_t left = 0, right = 0, top = 0, bottom = 0;
};

// CompressAI's compute_padding(h, w, min_div): pad to the next multiple, extra pixel right/bottom.
Padding compute_padding(int64_t height, int64_t width, int64_t min_div = 64);

struct ContainerHeader {
  uint16_t version = kContainerVersion;
  std::array<uint8_t, 16> model_id{};
  uint32_t height = 0, width = 0;
  Padding padding;
  std::array<uint32_t, 3> y_shape{}, z_shape{};
  uint32_t z_length = 0, y_length = 0;
  uint32_t checksum = 0;
  // Version 2: the key check compress wrote for the owner's key.
  bool has_key_check = false;
  std::array<uint8_t, 16> key_check_salt{}, key_check_tag{};
  // Version 3: z_length and y_length are the public section's; this is the rest.
  bool sealed = false;
  SealedHeader seal;
};

std::vector<uint8_t> write_container(ContainerHeader header, const std::vector<uint8_t>& z_string,
                                     const std::vector<uint8_t>& y_string);

struct ParsedContainer {
  ContainerHeader header;
  const uint8_t* z = nullptr;  // views into the parsed buffer (sealed: the public section's)
  const uint8_t* y = nullptr;
  // Sealed files: the sealed section, and its associated data (every byte before it).
  const uint8_t* sealed = nullptr;
  size_t associated_size = 0;
};

// A sealed file in two steps, since the sealed section's associated data is every byte before
// it: the prefix (header, public strings, recipient stanzas), then the finished file.
std::vector<uint8_t> sealed_container_prefix(const ContainerHeader& header, const std::vector<uint8_t>& public_z,
                                             const std::vector<uint8_t>& public_y);
std::vector<uint8_t> finish_sealed_container(std::vector<uint8_t> prefix, const std::vector<uint8_t>& sealed);

// Throws FormatError (bad magic, version, sizes, checksum, inconsistent shapes), LimitError
// (more pixels than pixel_limit), IntegrityError (a sealed file's checksum).
ParsedContainer parse_container(const uint8_t* data, size_t size, uint64_t pixel_limit = kDefaultPixelLimit);

// The whole container's size as its header declares it (header + strings), from its first bytes
// (at least kContainerMaxHeaderSize, or the whole file when shorter): so a reader can check a
// file's size, then read exactly that much. Throws FormatError for a foreign or truncated head.
uint64_t declared_container_size(const uint8_t* head, size_t size);

std::string model_id_hex(const std::array<uint8_t, 16>& id);

}  // namespace psic
