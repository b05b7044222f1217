// Reads a PyTorch torch.save checkpoint (the zip format of torch >= 1.6) into named tensors.
// It does not use LibTorch's unpickler, which rejects state_dicts whose OrderedDict carries a
// _metadata attribute (i.e. every nn.Module.state_dict()); see pickle.h and zip_archive.h.
//
// Accepted: a state_dict (dict of str -> tensor), or a training checkpoint whose top-level dict
// holds it under "state_dict" or "model". DataParallel's "module." key prefix is stripped,
// non-tensor values are skipped, tensors come back in stored order, each owning its memory.
// Errors: WeightsError if the file cannot be read, FormatError for anything else.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/named_tensors.h"

namespace psic {

NamedTensors read_torch_checkpoint(const std::string& path);
NamedTensors read_torch_checkpoint(const uint8_t* data, size_t size);

}  // namespace psic
