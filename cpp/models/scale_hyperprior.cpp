#include "models/scale_hyperprior.h"

#include <chrono>

#include "errors.h"
#include "nn/conv.h"
#include "nn/gdn.h"

namespace psic {

ScaleHyperprior::ScaleHyperprior(const ModelConfig& c) : config(c), latent_codec(c.N, c.M) {
  const int64_t N = c.N, M = c.M;
  g_a.add(std::make_shared<Conv2d>(3, N, 5, 2))
      .add(std::make_shared<GDN>(N, false))
      .add(std::make_shared<Conv2d>(N, N, 5, 2))
      .add(std::make_shared<GDN>(N, false))
      .add(std::make_shared<Conv2d>(N, N, 5, 2))
      .add(std::make_shared<GDN>(N, false))
      .add(std::make_shared<Conv2d>(N, M, 5, 2));
  g_s.add(std::make_shared<ConvTranspose2d>(M, N, 5, 2))
      .add(std::make_shared<GDN>(N, true))
      .add(std::make_shared<ConvTranspose2d>(N, N, 5, 2))
      .add(std::make_shared<GDN>(N, true))
      .add(std::make_shared<ConvTranspose2d>(N, N, 5, 2))
      .add(std::make_shared<GDN>(N, true))
      .add(std::make_shared<ConvTranspose2d>(N, 3, 5, 2));
}

void ScaleHyperprior::visit_state(const std::string& prefix, const StateVisitor& visit) {
  g_a.visit_state(join_name(prefix, "g_a"), visit);
  g_s.visit_state(join_name(prefix, "g_s"), visit);
  latent_codec.visit_state(prefix, visit);  // CompressAI's names are flat: h_a, h_s, entropy_bottleneck, ...
}

void ScaleHyperprior::prepare_inference() {
  g_a.prepare_inference();
  g_s.prepare_inference();
  latent_codec.prepare_inference();
}

void ScaleHyperprior::update_entropy_tables() {
  latent_codec.entropy_bottleneck.update();
  latent_codec.gaussian_conditional.update();
}

void ScaleHyperprior::validate_entropy_tables() const {
  latent_codec.entropy_bottleneck.validate_tables();
  latent_codec.gaussian_conditional.validate_tables();
  if (latent_codec.entropy_bottleneck.quantized_cdf.size(0) != config.N)
    throw WeightsError("entropy_bottleneck tables have " +
                       std::to_string(latent_codec.entropy_bottleneck.quantized_cdf.size(0)) + " rows, expected N=" +
                       std::to_string(config.N));
  if (latent_codec.gaussian_conditional.quantized_cdf.size(0) != latent_codec.gaussian_conditional.scale_table.numel())
    throw WeightsError("gaussian_conditional tables do not match its scale table");
}

ScaleHyperprior::ForwardResult ScaleHyperprior::forward(const at::Tensor& x, bool training) {
  const ForwardOptions compat;
  at::Tensor y = g_a.forward(x, compat);
  auto latent = latent_codec.forward(y, training, compat);
  return {g_s.forward(latent.y_hat, compat), latent.y_likelihoods, latent.z_likelihoods};
}

LatentStrings ScaleHyperprior::compress(const at::Tensor& x, const ForwardOptions& options, StageTimings* timings,
                                        LatentShapes* shapes) const {
  const auto t0 = std::chrono::steady_clock::now();
  const at::Tensor y = g_a.forward(x, options).contiguous();
  if (timings) timings->transform_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  LatentStrings strings = latent_codec.compress(y, options, timings);
  if (shapes) {
    *shapes = {y.size(1), y.size(2), y.size(3), config.N, y.size(2) / 4, y.size(3) / 4};
  }
  return strings;
}

at::Tensor ScaleHyperprior::decompress(const LatentStrings& strings, const LatentShapes& shapes,
                                       const ForwardOptions& options, StageTimings* timings) const {
  const at::Tensor y_hat = latent_codec.decompress(strings, shapes, timings);
  const auto t0 = std::chrono::steady_clock::now();
  at::Tensor x_hat = g_s.forward(y_hat, options).clamp_(0, 1);
  if (timings) timings->transform_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return x_hat;
}

}  // namespace psic
