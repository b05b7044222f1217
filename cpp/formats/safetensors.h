// The safetensors format (psic model files; also what Hugging Face tooling writes): an 8-byte
// little-endian header length, a JSON header
//   {name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {str: str}}
// then the tensor bytes (little-endian, C order), offsets relative to the end of the header.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "formats/named_tensors.h"

namespace psic {

struct SafetensorsFile {
  NamedTensors tensors;  // in file order of their data offsets
  std::map<std::string, std::string> metadata;
};

// Validates everything (header size, JSON, dtypes, offsets in range, non-overlapping, matching
// dtype x shape) and throws FormatError otherwise; WeightsError if the file cannot be read.
SafetensorsFile read_safetensors(const std::string& path);
SafetensorsFile read_safetensors(const uint8_t* data, size_t size);

// Tensors are written in the given order (as contiguous CPU copies). Dtypes F64 F32 F16 BF16
// I64 I32 I16 I8 U8 BOOL; anything else, or a repeated name, throws psic::Error.
std::vector<uint8_t> write_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata);

}  // namespace psic
