// Adam (Kingma & Ba 2015), as torch.optim.Adam computes it (bias-corrected moments, eps added
// to the corrected second moment's square root), on plain ATen tensors: the library avoids
// torch::optim to keep <torch/torch.h> out of its compile.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "formats/named_tensors.h"

namespace psic {

class Adam {
 public:
  Adam(std::vector<at::Tensor> params, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);

  // One update from the parameters' .grad() (a parameter without a gradient is left alone).
  void step();
  void zero_grad();
  // Scales all gradients so their global L2 norm is at most max_norm (clip_grad_norm_);
  // returns the norm before clipping.
  double clip_grad_norm(double max_norm);

  const std::vector<at::Tensor>& params() const { return params_; }
  int64_t steps() const { return step_; }
  double lr = 1e-4;

  // Moments under prefix + "m.<i>" / "v.<i>" (checkpoints); load checks count and shapes.
  void save_state(const std::string& prefix, NamedTensors& out) const;
  void load_state(const std::string& prefix, const NamedTensors& in, int64_t steps);

 private:
  std::vector<at::Tensor> params_, m_, v_;
  double beta1_, beta2_, eps_;
  int64_t step_ = 0;
};

}  // namespace psic
