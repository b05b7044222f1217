// The .psic container: one bitstream per image.
//
//   offset size  field (little-endian)
//   0      4     magic "PSIC"
//   4      2     format version (1)
//   6      2     header size (76)
//   8      16    model id (first 16 bytes of the model's SHA-256 id)
//   24     4+4   original height, width
//   32     2x4   padding left, right, top, bottom (centered, to a multiple of 64)
//   40     4x3   y shape C, h, w
//   52     4x3   z shape C, h, w
//   64     4+4   z string length, y string length
//   72     4     CRC-32 over bytes [0, 72) and the payload
//   76     ...   z string, then y string
//
// Parsing checks everything before anything is allocated from the header's numbers.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace psic {

constexpr uint16_t kContainerVersion = 1;
constexpr size_t kContainerHeaderSize = 76;
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
};

std::vector<uint8_t> write_container(ContainerHeader header, const std::vector<uint8_t>& z_string,
                                     const std::vector<uint8_t>& y_string);

struct ParsedContainer {
  ContainerHeader header;
  const uint8_t* z = nullptr;  // views into the parsed buffer
  const uint8_t* y = nullptr;
};

// Throws FormatError (bad magic, version, sizes, checksum, inconsistent shapes) or
// LimitError (more pixels than pixel_limit).
ParsedContainer parse_container(const uint8_t* data, size_t size, uint64_t pixel_limit = kDefaultPixelLimit);

std::string model_id_hex(const std::array<uint8_t, 16>& id);

}  // namespace psic
