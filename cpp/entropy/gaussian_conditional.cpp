#include "entropy/gaussian_conditional.h"

#include <cmath>

#include "errors.h"
#include "nn/lower_bound.h"

namespace psic {

namespace {
// Phi(x) = 0.5 * erfc(-x / sqrt(2)), with the same float ops as CompressAI.
at::Tensor standardized_cumulative(const at::Tensor& x) { return 0.5 * at::erfc(x * -0.7071067811865476); }

// -Phi^-1(tail_mass / 2) for tail_mass = 1e-9 (scipy.stats.norm.ppf(5e-10) = -6.1094102048694).
constexpr double kTailMultiplier = 6.109410204869398;
}  // namespace

GaussianConditional::GaussianConditional()
    : scale_table(default_scale_table()),
      scale_bound(at::full({1}, 0.11, at::kFloat)),
      lower_bound_scale(at::full({1}, 0.11, at::kFloat)) {}

at::Tensor GaussianConditional::default_scale_table() {
  return at::exp(at::linspace(std::log(0.11), std::log(256.0), 64, at::kFloat));
}

void GaussianConditional::visit_state(const std::string& prefix, const StateVisitor& visit) {
  visit_entropy_buffers(prefix, visit);
  visit(join_name(prefix, "scale_table"), scale_table, StateKind::Buffer);
  visit(join_name(prefix, "scale_bound"), scale_bound, StateKind::Buffer);
  visit(join_name(prefix, "lower_bound_scale.bound"), lower_bound_scale, StateKind::Buffer);
}

at::Tensor GaussianConditional::build_indexes(const at::Tensor& scales) const {
  at::Tensor s = scales.detach().to(at::kCPU, at::kFloat).contiguous();
  at::Tensor table = scale_table.to(at::kCPU, at::kFloat).contiguous();
  const float bound = lower_bound_scale.to(at::kCPU).item<float>();
  const float* t = table.data_ptr<float>();
  const int64_t n_table = table.numel();
  at::Tensor out = at::empty(s.sizes(), at::kInt);
  const float* src = s.data_ptr<float>();
  int32_t* dst = out.data_ptr<int32_t>();
  const int64_t n = s.numel();
  for (int64_t i = 0; i < n; ++i) {
    const float v = src[i] > bound ? src[i] : bound;  // torch.max(x, bound) for finite x
    int32_t idx = static_cast<int32_t>(n_table - 1);
    for (int64_t k = 0; k < n_table - 1; ++k) idx -= (v <= t[k]) ? 1 : 0;
    dst[i] = idx;
  }
  return out;
}

at::Tensor GaussianConditional::likelihood(const at::Tensor& values, const at::Tensor& scales) const {
  at::Tensor s = lower_bound(scales, lower_bound_scale);
  at::Tensor v = at::abs(values);
  at::Tensor upper = standardized_cumulative((0.5 - v) / s);
  at::Tensor lower = standardized_cumulative((-0.5 - v) / s);
  return upper - lower;
}

std::pair<at::Tensor, at::Tensor> GaussianConditional::forward(const at::Tensor& y, const at::Tensor& scales,
                                                                bool training) const {
  at::Tensor outputs = training ? add_noise(y) : at::round(y);
  at::Tensor lik = lower_bound(likelihood(outputs, scales), likelihood_lower_bound);
  return {outputs, lik};
}

void GaussianConditional::update() {
  at::NoGradGuard no_grad;
  at::Tensor table = scale_table.to(at::kCPU, at::kFloat);
  at::Tensor pmf_center = at::ceil(table * kTailMultiplier).to(at::kInt);
  at::Tensor pmf_length = 2 * pmf_center + 1;
  const int64_t max_length = pmf_length.max().item<int32_t>();
  at::Tensor samples = at::abs(at::arange(max_length, at::kInt) - pmf_center.unsqueeze(1)).to(at::kFloat);
  at::Tensor samples_scale = table.unsqueeze(1);
  at::Tensor upper = standardized_cumulative((0.5 - samples) / samples_scale);
  at::Tensor lower = standardized_cumulative((-0.5 - samples) / samples_scale);
  at::Tensor pmf = upper - lower;
  at::Tensor tail_mass = 2 * lower.slice(1, 0, 1);
  set_tables_from_pmf(pmf, tail_mass, pmf_length);
  offset = -pmf_center;
}

std::vector<uint8_t> GaussianConditional::compress(const at::Tensor& y, const at::Tensor& indexes) const {
  return encode(at::round(y).to(at::kInt), indexes);
}

at::Tensor GaussianConditional::decompress(const std::vector<uint8_t>& string, const at::Tensor& indexes) const {
  return decode(string.data(), string.size(), indexes).to(at::kFloat);
}

}  // namespace psic
