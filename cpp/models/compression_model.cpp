#include "models/compression_model.h"

#include <chrono>

#include "errors.h"
#include "nn/conv.h"
#include "nn/gdn.h"
#include "util/device.h"

namespace psic {

CompressionModel::CompressionModel(const ModelConfig& c) : config(c), g_a(make_analysis(c.N, c.M)) {}

Sequential CompressionModel::make_analysis(int64_t N, int64_t M) {
  Sequential s;
  s.add(std::make_shared<Conv2d>(3, N, 5, 2))
      .add(std::make_shared<GDN>(N, false))
      .add(std::make_shared<Conv2d>(N, N, 5, 2))
      .add(std::make_shared<GDN>(N, false))
      .add(std::make_shared<Conv2d>(N, N, 5, 2))
      .add(std::make_shared<GDN>(N, false))
      .add(std::make_shared<Conv2d>(N, M, 5, 2));
  return s;
}

at::Tensor CompressionModel::protected_condition() const {
  // The reference's protected version is beta = 1; the keyed models use the all-ones vector.
  return at::ones({1, config.condition_dim}, at::kFloat);
}

at::Tensor CompressionModel::resolve_condition(const at::Tensor& condition) const {
  if (config.condition_dim == 0) return at::Tensor();
  if (!condition.defined()) return protected_condition();
  if (condition.dim() != 2 || condition.size(1) != config.condition_dim)
    throw KeyError("condition must have " + std::to_string(config.condition_dim) + " values");
  return condition.to(at::kFloat);
}

void CompressionModel::prepare_inference() {
  g_a.prepare_inference();
  latent().prepare_inference();
  prepare_synthesis();
}

void CompressionModel::place_transforms(at::Device device) {
  move_state(*this, device, latent().coding_state_prefixes());
  transform_device_ = device;
  prepare_inference();  // the derived inference weights (sub-pixel phases, GDN) follow
}

CompressionModel::ForwardResult CompressionModel::forward(const at::Tensor& x, bool training, const at::Tensor& condition) {
  const ForwardOptions compat;
  const at::Tensor y = g_a.forward(x, compat);
  auto latent_out = latent().forward(y, training, compat);
  at::Tensor c = resolve_condition(condition);
  if (c.defined() && c.size(0) != x.size(0)) c = c.expand({x.size(0), c.size(1)});
  return {synthesize(latent_out.y_hat, c, compat), latent_out.likelihoods};
}

LatentStrings CompressionModel::compress(const at::Tensor& x, const ForwardOptions& options, StageTimings* timings,
                                         LatentShapes* shapes) const {
  const auto t0 = std::chrono::steady_clock::now();
  const at::Tensor y = g_a.forward(x, options).contiguous();
  if (timings) timings->transform_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return latent().compress(y, options, timings, shapes);
}

at::Tensor CompressionModel::decode(const at::Tensor& y_hat, const at::Tensor& condition, const ForwardOptions& options,
                                   StageTimings* timings) const {
  const auto t0 = std::chrono::steady_clock::now();
  at::Tensor x_hat = synthesize(to_device(y_hat, transform_device_), resolve_condition(condition), options).clamp_(0, 1);
  if (timings) timings->transform_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return x_hat;
}

double CompressionModel::estimate_bits(const at::Tensor& x) {
  at::NoGradGuard no_grad;
  return latent().estimate_bits(g_a.forward(x, ForwardOptions{}));
}

std::map<std::string, int64_t> CompressionModel::parameter_counts() {
  std::map<std::string, int64_t> counts;
  visit_state("", [&](const std::string& name, at::Tensor& t, StateKind kind) {
    if (kind != StateKind::Parameter) return;
    counts["total"] += t.numel();
    counts[name.substr(0, name.find('.'))] += t.numel();
    if (name.find(".proj1.") != std::string::npos || name.find(".proj2.") != std::string::npos)
      counts["cltg_projections"] += t.numel();
  });
  return counts;
}

}  // namespace psic
