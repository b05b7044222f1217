#include "models/factorized_latent_codec.h"

#include <chrono>
#include <cmath>

#include "errors.h"

namespace psic {

FactorizedLatentCodec::FactorizedLatentCodec(int64_t M_) : M(M_), entropy_bottleneck(M_) {}

void FactorizedLatentCodec::visit_state(const std::string& prefix, const StateVisitor& visit) {
  entropy_bottleneck.visit_state(join_name(prefix, "entropy_bottleneck"), visit);
}

LatentCodec::ForwardResult FactorizedLatentCodec::forward(const at::Tensor& y, bool training, const ForwardOptions&) {
  auto [y_hat, likelihoods] = entropy_bottleneck.forward(y, training);
  return {y_hat, {likelihoods}};
}

LatentStrings FactorizedLatentCodec::compress(const at::Tensor& y, const ForwardOptions&, StageTimings* timings,
                                              LatentShapes* shapes) const {
  const auto t0 = std::chrono::steady_clock::now();
  LatentStrings out;
  out.y = std::move(entropy_bottleneck.compress(y.contiguous().cpu())[0]);
  if (timings) timings->entropy_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (shapes) *shapes = {y.size(1), y.size(2), y.size(3), 0, 0, 0};
  return out;
}

at::Tensor FactorizedLatentCodec::decompress(const LatentStrings& strings, const LatentShapes& s,
                                             StageTimings* timings) const {
  if (s.y_channels != M || s.z_channels != 0 || !strings.z.empty())
    throw FormatError("latent layout does not match a factorized-prior model");
  const auto t0 = std::chrono::steady_clock::now();
  at::Tensor y_hat = entropy_bottleneck.decompress({&strings.y}, s.y_height, s.y_width);
  if (timings) timings->entropy_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return y_hat;
}

double FactorizedLatentCodec::estimate_bits(const at::Tensor& y) {
  at::NoGradGuard no_grad;
  auto [y_hat, lik] = entropy_bottleneck.forward(y.cpu(), false);
  return -at::log(lik).sum().item<double>() / std::log(2.0);
}

void FactorizedLatentCodec::validate_entropy_tables() const {
  entropy_bottleneck.validate_tables();
  if (entropy_bottleneck.quantized_cdf.size(0) != M)
    throw WeightsError("entropy_bottleneck tables have " + std::to_string(entropy_bottleneck.quantized_cdf.size(0)) +
                       " rows, expected M=" + std::to_string(M));
}

}  // namespace psic
