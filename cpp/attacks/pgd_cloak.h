// Per-image cloaking, the common alternative to PSIC (Fawkes-style): L∞-bounded projected
// gradient descent (Madry et al. 2018) on each original image against the target models, before
// any compression. Untargeted: it lowers target_agreement with the clean image's own reading.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "targets/target_model.h"

namespace psic {

struct PgdOptions {
  double epsilon = 8.0 / 255;  // L∞ bound on the perturbation
  int steps = 50;
  double step_size = 2.0 / 255;
  bool random_start = true;     // uniform start in the ε-ball (Madry et al.)
  uint64_t seed = 0;
};

// images: [B, 3, H, W] in [0, 1]. Returns the cloaked images, within epsilon of the input and in
// [0, 1]. Images of a batch are attacked independently (the objective is a mean over images
// and the step uses the gradient's sign). Throws InputError on bad options or shapes.
at::Tensor pgd_cloak(const std::vector<AttackTarget>& targets, const at::Tensor& images, const PgdOptions& options);

}  // namespace psic
