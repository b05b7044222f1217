// Reads a PyTorch torch.save checkpoint (the zip format of torch >= 1.6) into named tensors,
// without LibTorch's unpickler (it rejects state_dicts carrying an OrderedDict _metadata).
// Accepts a plain state_dict, a training checkpoint {"state_dict": ...} or {"model": ...},
// and strips DataParallel's "module." prefix (in model_loader).
#pragma once
#include <string>

#include "formats/named_tensors.h"

namespace psic {

NamedTensors read_torch_checkpoint(const std::string& path);
NamedTensors read_torch_checkpoint(const uint8_t* data, size_t size);

}  // namespace psic
