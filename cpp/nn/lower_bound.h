// CompressAI's LowerBound: forward max(x, bound); backward lets the gradient through where
// x >= bound or where it pushes x upward (grad < 0), so bounded values can still recover.
#pragma once
#include <ATen/ATen.h>

namespace psic {

at::Tensor lower_bound(const at::Tensor& x, const at::Tensor& bound);

}  // namespace psic
