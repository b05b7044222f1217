// How much a target model reads images x as it reads the clean images: the quantity a per-image
// cloak (pgd_cloak.h) pushes down and a key-search adversary (key_search.h) pushes up. It is
// the plain per-image objective, not UAEO: each image is compared with its own clean reading.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "targets/target_model.h"

namespace psic {

// The targets' clean readings, computed once without gradient.
std::vector<TargetOutputs> clean_readings(const std::vector<AttackTarget>& targets, const at::Tensor& clean);

// Weighted mean over targets of the mean over their heads of, per head kind:
//   classifier: mean log p(clean top class)            (≤ 0; −cross-entropy)
//   embedding:  mean cos(f(x_i), f(clean_i))
//   detector:   mean summed score of the classes the clean image shows (detector_suppression_loss)
// Regression heads are skipped (no class to keep or lose). Differentiable in x. Throws
// InputError when no target has a usable head or the batch sizes differ.
at::Tensor target_agreement(const std::vector<AttackTarget>& targets, const std::vector<TargetOutputs>& clean,
                            const at::Tensor& x);

}  // namespace psic
