// Parameters and buffers of a TorchScript archive (torch.jit.save), by their dotted names, via
// LibTorch's own loader: the format of OpenAI's released CLIP .pt files.
#pragma once
#include <string>

#include "formats/named_tensors.h"

namespace psic {

// True when the zip at `path` is a TorchScript archive (it has code/ and constants.pkl) rather
// than a torch.save state_dict.
bool is_torchscript_archive(const uint8_t* data, size_t size);

NamedTensors read_torchscript_tensors(const std::string& path);

}  // namespace psic
