#include "models/cltg.h"

#include <cmath>

namespace psic {

at::Tensor fourier_features(const at::Tensor& c) {
  // [B, d, 1] * [10] -> [B, d, 10]
  const at::Tensor freqs = at::pow(2.0, at::arange(kFourierOctaves, c.options()));
  const at::Tensor scaled = c.unsqueeze(-1) * freqs;
  return at::cat({c.unsqueeze(-1), at::sin(scaled), at::cos(scaled)}, -1).flatten(1);
}

Linear::Linear(int64_t in, int64_t out, bool with_bias) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight = at::empty({out, in}, at::kFloat).uniform_(-bound, bound);
  if (with_bias) bias = at::empty({out}, at::kFloat).uniform_(-bound, bound);
}

at::Tensor Linear::forward(const at::Tensor& x) const { return at::linear(x, weight, bias); }

void Linear::visit_state(const std::string& prefix, const StateVisitor& visit) {
  visit(join_name(prefix, "weight"), weight, StateKind::Parameter);
  if (bias.defined()) visit(join_name(prefix, "bias"), bias, StateKind::Parameter);
}

GlobalConditioning::GlobalConditioning(int64_t d)
    : condition_dim(d), fc1(d * (1 + 2 * kFourierOctaves), kCltgFeatures, true), fc2(kCltgFeatures, kCltgFeatures, true) {}

at::Tensor GlobalConditioning::forward(const at::Tensor& condition) const {
  return at::relu(fc2.forward(at::relu(fc1.forward(fourier_features(condition)))));
}

void GlobalConditioning::visit_state(const std::string& prefix, const StateVisitor& visit) {
  fc1.visit_state(join_name(prefix, "0"), visit);
  fc2.visit_state(join_name(prefix, "2"), visit);
}

ConditionalResidualBlock::ConditionalResidualBlock(int64_t in, int64_t out)
    : conv1(in, out, 3, 1), conv2(out, out, 3, 1), proj1(kCltgFeatures, out, false), proj2(kCltgFeatures, out, false) {
  if (in != out) skip.emplace(in, out, 1, 1);
}

at::Tensor ConditionalResidualBlock::forward(const at::Tensor& x, const at::Tensor& f, const ForwardOptions& options) const {
  // f is [B, 512]; its projections broadcast over H x W.
  at::Tensor h = at::gelu(conv1.forward(x, options)) + proj1.forward(f).unsqueeze(-1).unsqueeze(-1);
  h = at::gelu(conv2.forward(h, options)) + proj2.forward(f).unsqueeze(-1).unsqueeze(-1);
  return h + (skip ? skip->forward(x, options) : x);
}

void ConditionalResidualBlock::visit_state(const std::string& prefix, const StateVisitor& visit) {
  conv1.visit_state(join_name(prefix, "conv1"), visit);
  conv2.visit_state(join_name(prefix, "conv2"), visit);
  visit_projections(prefix, visit);
  if (skip) skip->visit_state(join_name(prefix, "skip"), visit);
}

void ConditionalResidualBlock::visit_projections(const std::string& prefix, const StateVisitor& visit) {
  proj1.visit_state(join_name(prefix, "proj1"), visit);
  proj2.visit_state(join_name(prefix, "proj2"), visit);
}

}  // namespace psic
