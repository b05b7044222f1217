// Where the neural transforms run. Entropy coding, and the part of the model whose output
// decides the rANS tables (h_s and the entropy models), always run on the CPU, so that a
// bitstream made on one device decodes on any other.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "nn/module.h"

namespace psic {

// "cpu", "cuda" or "cuda:N". Throws DeviceError when this build or machine has no such device.
at::Device parse_device(const std::string& name);

// Whether this LibTorch was built with CUDA and sees at least one GPU.
bool cuda_available();

// A CPU tensor on `device`: staged through pinned memory and copied asynchronously on CUDA, so
// the host-to-device copy overlaps the work queued before it; unchanged on the CPU.
at::Tensor to_device(const at::Tensor& cpu_tensor, at::Device device);

// Moves every tensor of an owner whose name does not start with one of `keep_on_cpu` to
// `device`, keeping parameters leaf tensors that require grad.
void move_state(StateOwner& owner, at::Device device, const std::vector<std::string>& keep_on_cpu = {});

}  // namespace psic
