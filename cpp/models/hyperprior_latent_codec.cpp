#include "models/hyperprior_latent_codec.h"

#include <chrono>

#include "errors.h"
#include "nn/conv.h"
#include "util/threads.h"

namespace psic {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
}  // namespace

HyperpriorLatentCodec::HyperpriorLatentCodec(int64_t N_, int64_t M_) : N(N_), M(M_), entropy_bottleneck(N_) {
  h_a.add(std::make_shared<Conv2d>(M, N, 3, 1))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Conv2d>(N, N, 5, 2))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Conv2d>(N, N, 5, 2));
  h_s.add(std::make_shared<ConvTranspose2d>(N, N, 5, 2))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<ConvTranspose2d>(N, N, 5, 2))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Conv2d>(N, M, 3, 1))
      .add(std::make_shared<ReLU>());
}

void HyperpriorLatentCodec::visit_state(const std::string& prefix, const StateVisitor& visit) {
  h_a.visit_state(join_name(prefix, "h_a"), visit);
  h_s.visit_state(join_name(prefix, "h_s"), visit);
  entropy_bottleneck.visit_state(join_name(prefix, "entropy_bottleneck"), visit);
  gaussian_conditional.visit_state(join_name(prefix, "gaussian_conditional"), visit);
}

void HyperpriorLatentCodec::prepare_inference() {
  h_a.prepare_inference();
  h_s.prepare_inference();
}

void HyperpriorLatentCodec::update_entropy_tables() {
  entropy_bottleneck.update();
  gaussian_conditional.update();
}

void HyperpriorLatentCodec::validate_entropy_tables() const {
  entropy_bottleneck.validate_tables();
  gaussian_conditional.validate_tables();
  if (entropy_bottleneck.quantized_cdf.size(0) != N)
    throw WeightsError("entropy_bottleneck tables have " + std::to_string(entropy_bottleneck.quantized_cdf.size(0)) +
                       " rows, expected N=" + std::to_string(N));
  if (gaussian_conditional.quantized_cdf.size(0) != gaussian_conditional.scale_table.numel())
    throw WeightsError("gaussian_conditional tables do not match its scale table");
}

LatentCodec::ForwardResult HyperpriorLatentCodec::forward(const at::Tensor& y, bool training,
                                                                    const ForwardOptions& options) {
  at::Tensor z = h_a.forward(at::abs(y), options);
  auto [z_hat, z_likelihoods] = entropy_bottleneck.forward(z, training);
  at::Tensor scales = h_s.forward(z_hat, options);
  auto [y_hat, y_likelihoods] = gaussian_conditional.forward(y, scales, training);
  return {y_hat, {y_likelihoods, z_likelihoods}};
}

at::Tensor HyperpriorLatentCodec::hyper_scales(const at::Tensor& z_hat) const {
  ScopedIntraOpThreads one_thread(1);
  return h_s.forward(z_hat.to(at::kCPU).contiguous(), ForwardOptions{});
}

LatentStrings HyperpriorLatentCodec::compress(const at::Tensor& y, const ForwardOptions& options,
                                              StageTimings* timings, LatentShapes* shapes) const {
  auto t0 = Clock::now();
  const at::Tensor z = h_a.forward(at::abs(y), options).contiguous().cpu();
  if (timings) timings->transform_ms += ms_since(t0);

  t0 = Clock::now();
  LatentStrings out;
  out.z = std::move(entropy_bottleneck.compress(z)[0]);
  const at::Tensor m = entropy_bottleneck.medians().detach().to(at::kCPU).view({1, N, 1, 1});
  // Same values the decoder gets back from the z string: round(z - median) + median.
  const at::Tensor z_hat = at::round(z - m).to(at::kInt).to(at::kFloat) + m;
  if (timings) timings->entropy_ms += ms_since(t0);

  t0 = Clock::now();
  const at::Tensor scales = hyper_scales(z_hat);
  if (timings) timings->transform_ms += ms_since(t0);

  t0 = Clock::now();
  const at::Tensor indexes = gaussian_conditional.build_indexes(scales[0]);
  out.y = gaussian_conditional.compress(y[0].cpu(), indexes);
  if (timings) timings->entropy_ms += ms_since(t0);
  if (shapes) *shapes = {y.size(1), y.size(2), y.size(3), z.size(1), z.size(2), z.size(3)};
  return out;
}

at::Tensor HyperpriorLatentCodec::decompress(const LatentStrings& strings, const LatentShapes& s,
                                             StageTimings* timings) const {
  if (s.z_channels != N || s.y_channels != M) throw FormatError("latent channel counts do not match the model");
  auto t0 = Clock::now();
  const at::Tensor z_hat = entropy_bottleneck.decompress({&strings.z}, s.z_height, s.z_width);
  if (timings) timings->entropy_ms += ms_since(t0);

  t0 = Clock::now();
  const at::Tensor scales = hyper_scales(z_hat);
  if (timings) timings->transform_ms += ms_since(t0);
  if (scales.size(2) != s.y_height || scales.size(3) != s.y_width) throw FormatError("latent shapes are inconsistent");

  t0 = Clock::now();
  const at::Tensor indexes = gaussian_conditional.build_indexes(scales[0]);
  at::Tensor y_hat = gaussian_conditional.decompress(strings.y, indexes).unsqueeze(0);
  if (timings) timings->entropy_ms += ms_since(t0);
  return y_hat;
}

at::Tensor HyperpriorLatentCodec::public_scales(const std::vector<uint8_t>& z_string, const LatentShapes& s) const {
  if (s.z_channels != N || s.y_channels != M) throw FormatError("latent channel counts do not match the model");
  const at::Tensor z_hat = entropy_bottleneck.decompress({&z_string}, s.z_height, s.z_width);
  const at::Tensor scales = hyper_scales(z_hat);
  if (scales.size(2) != s.y_height || scales.size(3) != s.y_width) throw FormatError("latent shapes are inconsistent");
  return scales[0].contiguous();
}

at::Tensor HyperpriorLatentCodec::shifted_indexes(const at::Tensor& scales, const std::vector<uint8_t>& shifts) const {
  if (static_cast<int64_t>(shifts.size()) != scales.size(0)) throw FormatError("one scale shift per latent channel");
  std::vector<float> divisors(shifts.size());
  for (size_t c = 0; c < shifts.size(); ++c) divisors[c] = static_cast<float>(int64_t(1) << shifts[c]);
  // Division by a power of two is exact in floating point: both sides get the same indexes.
  return gaussian_conditional.build_indexes(scales / at::tensor(divisors, at::kFloat).view({-1, 1, 1}));
}

double HyperpriorLatentCodec::estimate_bits(const at::Tensor& y) {
  at::NoGradGuard no_grad;
  ScopedIntraOpThreads one_thread(1);
  const at::Tensor z = h_a.forward(at::abs(y), ForwardOptions{}).cpu();
  auto [z_hat, z_lik] = entropy_bottleneck.forward(z, false);
  at::Tensor scales = hyper_scales(z_hat);
  auto [y_hat, y_lik] = gaussian_conditional.forward(y.cpu(), scales, false);
  const double nats = -(at::log(y_lik).sum().item<double>() + at::log(z_lik).sum().item<double>());
  return nats / std::log(2.0);
}

}  // namespace psic
