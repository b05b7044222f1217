#include "nn/lower_bound.h"

#include <torch/csrc/autograd/custom_function.h>

namespace psic {

namespace {
struct LowerBoundFunction : public torch::autograd::Function<LowerBoundFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& bound) {
    ctx->save_for_backward({x, bound});
    return at::max(x, bound);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor& grad = grads[0];
    at::Tensor pass = at::logical_or(saved[0] >= saved[1], grad < 0);
    return {pass.to(grad.scalar_type()) * grad, at::Tensor()};
  }
};
}  // namespace

at::Tensor lower_bound(const at::Tensor& x, const at::Tensor& bound) {
  if (!at::GradMode::is_enabled() || !x.requires_grad()) return at::max(x, bound);
  return LowerBoundFunction::apply(x, bound);
}

}  // namespace psic
