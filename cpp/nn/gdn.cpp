#include "nn/gdn.h"

#include <cmath>

#include "nn/lower_bound.h"

namespace psic {

NonNegativeParametrizer::NonNegativeParametrizer(double minimum, double reparam_offset) {
  const double ped = reparam_offset * reparam_offset;
  pedestal = at::full({1}, ped, at::kFloat);
  bound = at::full({1}, std::sqrt(minimum + ped), at::kFloat);
}

at::Tensor NonNegativeParametrizer::init(const at::Tensor& x) const {
  return at::sqrt(at::max(x + pedestal, pedestal));
}

at::Tensor NonNegativeParametrizer::apply(const at::Tensor& x) const {
  return at::pow(lower_bound(x, bound), 2) - pedestal;
}

void NonNegativeParametrizer::visit_state(const std::string& prefix, const StateVisitor& visit) {
  visit(join_name(prefix, "pedestal"), pedestal, StateKind::Buffer);
  visit(join_name(prefix, "lower_bound.bound"), bound, StateKind::Buffer);
}

GDN::GDN(int64_t channels, bool inverse_, double beta_min, double gamma_init)
    : inverse(inverse_), beta_reparam(beta_min), gamma_reparam(0.0) {
  beta = beta_reparam.init(at::ones({channels}, at::kFloat));
  gamma = gamma_reparam.init(gamma_init * at::eye(channels, at::kFloat));
}

void GDN::prepare_inference() {
  at::NoGradGuard no_grad;
  const int64_t c = beta.size(0);
  effective_beta_ = beta_reparam.apply(beta.detach());
  effective_gamma_ = gamma_reparam.apply(gamma.detach()).reshape({c, c, 1, 1});
}

at::Tensor GDN::forward(const at::Tensor& x, const ForwardOptions&) const {
  const int64_t c = x.size(1);
  at::Tensor b, g;
  if (!at::GradMode::is_enabled() && effective_beta_.defined()) {
    b = effective_beta_;
    g = effective_gamma_;
  } else {
    b = beta_reparam.apply(beta);
    g = gamma_reparam.apply(gamma).reshape({c, c, 1, 1});
  }
  // Same op sequence as CompressAI: conv2d(x**2, gamma, beta), then (r)sqrt, then multiply.
  at::Tensor norm = at::conv2d(at::pow(x, 2), g, b);
  if (!at::GradMode::is_enabled()) {
    // In place: at full resolution these element-wise passes are memory-bound, and fresh
    // 50 MB buffers cost more in page faults than the arithmetic. Same values bit for bit.
    inverse ? norm.sqrt_() : norm.rsqrt_();
    return norm.mul_(x);
  }
  norm = inverse ? at::sqrt(norm) : at::rsqrt(norm);
  return x * norm;
}

void GDN::visit_state(const std::string& prefix, const StateVisitor& visit) {
  visit(join_name(prefix, "beta"), beta, StateKind::Parameter);
  visit(join_name(prefix, "gamma"), gamma, StateKind::Parameter);
  beta_reparam.visit_state(join_name(prefix, "beta_reparam"), visit);
  gamma_reparam.visit_state(join_name(prefix, "gamma_reparam"), visit);
}

}  // namespace psic
