// CLIP weight files as users have them, all read into OpenAI's key names:
//   - OpenAI's released .pt (a TorchScript archive)
//   - a torch.save state_dict .pt (fp32 or the mixed fp16 of convert_weights)
//   - .safetensors with OpenAI names, or with Hugging Face CLIPModel names (mapped across:
//     q/k/v concatenated into in_proj, projections transposed, position_ids dropped)
#pragma once
#include <string>

#include "formats/named_tensors.h"

namespace psic {

NamedTensors read_clip_weights(const std::string& path);

// Hugging Face CLIPModel names -> OpenAI names (exposed for tests).
NamedTensors clip_weights_from_hf(const NamedTensors& hf);

}  // namespace psic
