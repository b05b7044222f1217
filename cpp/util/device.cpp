#include "util/device.h"

#include <ATen/Context.h>

#include "errors.h"
#include "nn/module.h"

namespace psic {

bool cuda_available() { return at::hasCUDA(); }

at::Device parse_device(const std::string& name) {
  if (name.empty() || name == "cpu") return at::Device(at::kCPU);
  if (name.rfind("cuda", 0) != 0)
    throw DeviceError("device must be 'cpu', 'cuda' or 'cuda:N', got '" + name + "'");
  at::Device device(at::kCUDA);
  try {
    device = at::Device(name);
  } catch (const std::exception&) {
    throw DeviceError("device must be 'cpu', 'cuda' or 'cuda:N', got '" + name + "'");
  }
  if (!cuda_available())
    throw DeviceError("device '" + name +
                      "' needs psic built against a CUDA LibTorch (Torch_DIR) on a machine with a GPU; this build runs on the CPU");
  return device;
}

at::Tensor to_device(const at::Tensor& cpu_tensor, at::Device device) {
  if (device.is_cpu()) return cpu_tensor;
  return cpu_tensor.contiguous().pin_memory().to(device, /*non_blocking=*/true);
}

void move_state(StateOwner& owner, at::Device device, const std::vector<std::string>& keep_on_cpu) {
  owner.visit_state("", [&](const std::string& name, at::Tensor& t, StateKind kind) {
    if (!t.defined()) return;
    for (const auto& prefix : keep_on_cpu)
      if (name.rfind(prefix, 0) == 0) return;
    if (t.device() == device) return;
    at::Tensor moved = t.detach().to(device);
    if (kind == StateKind::Parameter) moved.requires_grad_(t.requires_grad());
    t = moved;
  });
}

}  // namespace psic
