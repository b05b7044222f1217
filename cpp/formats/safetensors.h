// The safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the data.
// psic model files are safetensors with the model config in the metadata.
#pragma once
#include <map>
#include <string>

#include "formats/named_tensors.h"

namespace psic {

struct SafetensorsFile {
  NamedTensors tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;
};

SafetensorsFile read_safetensors(const std::string& path);
SafetensorsFile read_safetensors(const uint8_t* data, size_t size);
std::vector<uint8_t> write_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata);

}  // namespace psic
