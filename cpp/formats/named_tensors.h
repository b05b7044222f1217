// A state_dict as files store it: names and tensors, in stored order.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

namespace psic {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

}  // namespace psic
