#include "training/adam.h"

#include <cmath>
#include <map>

#include "errors.h"

namespace psic {

Adam::Adam(std::vector<at::Tensor> params, double lr_, double beta1, double beta2, double eps)
    : lr(lr_), params_(std::move(params)), beta1_(beta1), beta2_(beta2), eps_(eps) {
  for (const auto& p : params_) {
    m_.push_back(at::zeros_like(p));
    v_.push_back(at::zeros_like(p));
  }
}

void Adam::step() {
  at::NoGradGuard no_grad;
  ++step_;
  const double c1 = 1 - std::pow(beta1_, static_cast<double>(step_));
  const double c2 = 1 - std::pow(beta2_, static_cast<double>(step_));
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    m_[i].mul_(beta1_).add_(g, 1 - beta1_);
    v_[i].mul_(beta2_).addcmul_(g, g, 1 - beta2_);
    const at::Tensor denom = (v_[i] / c2).sqrt_().add_(eps_);
    p.addcdiv_(m_[i], denom, -lr / c1);
  }
}

void Adam::zero_grad() {
  for (auto& p : params_)
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
}

double Adam::clip_grad_norm(double max_norm) {
  at::NoGradGuard no_grad;
  double total = 0;
  for (const auto& p : params_)
    if (p.grad().defined()) total += p.grad().pow(2).sum().item<double>();
  const double norm = std::sqrt(total);
  const double scale = max_norm / (norm + 1e-6);
  if (scale < 1)
    for (auto& p : params_)
      if (p.grad().defined()) p.mutable_grad().mul_(scale);
  return norm;
}

void Adam::save_state(const std::string& prefix, NamedTensors& out) const {
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back(prefix + "m." + std::to_string(i), m_[i]);
    out.emplace_back(prefix + "v." + std::to_string(i), v_[i]);
  }
}

void Adam::load_state(const std::string& prefix, const NamedTensors& in, int64_t steps) {
  std::map<std::string, at::Tensor> byName(in.begin(), in.end());
  for (size_t i = 0; i < params_.size(); ++i) {
    for (auto* slot : {&m_, &v_}) {
      const std::string name = prefix + (slot == &m_ ? "m." : "v.") + std::to_string(i);
      auto it = byName.find(name);
      if (it == byName.end() || !it->second.sizes().equals(params_[i].sizes()))
        throw FormatError("checkpoint: optimizer state '" + name + "' is missing or has the wrong shape");
      (*slot)[i] = it->second.to(params_[i].device(), params_[i].scalar_type()).clone();
    }
  }
  step_ = steps;
}

}  // namespace psic
