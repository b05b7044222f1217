#include "entropy/entropy_bottleneck.h"

#include <cmath>

#include "errors.h"
#include "nn/lower_bound.h"

namespace psic {

EntropyBottleneck::EntropyBottleneck(int64_t channels_, double init_scale, double tail_mass) : channels(channels_) {
  const int filters[kLayers + 1] = {1, 3, 3, 3, 3, 1};
  const double scale = std::pow(init_scale, 1.0 / kLayers);
  for (int i = 0; i < kLayers; ++i) {
    const double init = std::log(std::expm1(1.0 / scale / filters[i + 1]));
    matrices[i] = at::full({channels, filters[i + 1], filters[i]}, init, at::kFloat);
    biases[i] = at::empty({channels, filters[i + 1], 1}, at::kFloat).uniform_(-0.5, 0.5);
    if (i < kLayers - 1) factors[i] = at::zeros({channels, filters[i + 1], 1}, at::kFloat);
  }
  quantiles = at::tensor({-init_scale, 0.0, init_scale}, at::kFloat).repeat({channels, 1, 1});
  const double t = std::log(2.0 / tail_mass - 1.0);
  target = at::tensor({-t, 0.0, t}, at::kFloat);
}

void EntropyBottleneck::visit_state(const std::string& prefix, const StateVisitor& visit) {
  visit(join_name(prefix, "quantiles"), quantiles, StateKind::Parameter);
  visit_entropy_buffers(prefix, visit);
  visit(join_name(prefix, "target"), target, StateKind::Buffer);
  for (int i = 0; i < kLayers; ++i) visit(join_name(prefix, "matrices." + std::to_string(i)), matrices[i], StateKind::Parameter);
  for (int i = 0; i < kLayers; ++i) visit(join_name(prefix, "biases." + std::to_string(i)), biases[i], StateKind::Parameter);
  for (int i = 0; i < kLayers - 1; ++i) visit(join_name(prefix, "factors." + std::to_string(i)), factors[i], StateKind::Parameter);
}

at::Tensor EntropyBottleneck::logits_cumulative(const at::Tensor& inputs, bool stop_gradient) const {
  at::Tensor logits = inputs;
  for (int i = 0; i < kLayers; ++i) {
    const at::Tensor matrix = stop_gradient ? matrices[i].detach() : matrices[i];
    logits = at::matmul(at::softplus(matrix), logits);
    logits = logits + (stop_gradient ? biases[i].detach() : biases[i]);
    if (i < kLayers - 1) {
      const at::Tensor factor = stop_gradient ? factors[i].detach() : factors[i];
      logits = logits + at::tanh(factor) * at::tanh(logits);
    }
  }
  return logits;
}

std::array<at::Tensor, 3> EntropyBottleneck::likelihood(const at::Tensor& inputs, bool stop_gradient) const {
  at::Tensor lower = logits_cumulative(inputs - 0.5, stop_gradient);
  at::Tensor upper = logits_cumulative(inputs + 0.5, stop_gradient);
  return {at::sigmoid(upper) - at::sigmoid(lower), lower, upper};
}

at::Tensor EntropyBottleneck::medians() const { return quantiles.select(1, 0).select(1, 1); }

std::pair<at::Tensor, at::Tensor> EntropyBottleneck::forward(const at::Tensor& z, bool training) const {
  // [B, C, ...] -> [C, 1, B*...]: one density per channel.
  at::Tensor x = z.transpose(0, 1).contiguous();
  const auto shape = x.sizes().vec();
  at::Tensor values = x.reshape({x.size(0), 1, -1});
  const at::Tensor m = quantiles.slice(2, 1, 2);  // [C, 1, 1]
  // The noise on x [C, B, ...] (batch dim 1) has values' memory order: the same draws.
  at::Tensor outputs = training ? add_noise(x, 1).reshape(values.sizes()) : at::round(values - m) + m;
  at::Tensor lik = likelihood(outputs, false)[0];
  lik = lower_bound(lik, likelihood_lower_bound);
  outputs = outputs.reshape(shape).transpose(0, 1).contiguous();
  lik = lik.reshape(shape).transpose(0, 1).contiguous();
  return {outputs, lik};
}

at::Tensor EntropyBottleneck::loss() const {
  at::Tensor logits = logits_cumulative(quantiles, /*stop_gradient=*/true);
  return at::abs(logits - target).sum();
}

void EntropyBottleneck::update() {
  at::NoGradGuard no_grad;
  at::Tensor q = quantiles.detach().to(at::kCPU);
  at::Tensor med = q.select(1, 0).select(1, 1);
  at::Tensor minima = at::clamp_min(at::ceil(med - q.select(1, 0).select(1, 0)).to(at::kInt), 0);
  at::Tensor maxima = at::clamp_min(at::ceil(q.select(1, 0).select(1, 2) - med).to(at::kInt), 0);
  offset = -minima;
  at::Tensor pmf_start = med - minima;
  at::Tensor pmf_length = maxima + minima + 1;
  const int64_t max_length = pmf_length.max().item<int32_t>();
  at::Tensor samples = at::arange(max_length, at::kLong).unsqueeze(0) + pmf_start.view({-1, 1, 1});
  auto [pmf, lower, upper] = likelihood(samples.to(quantiles.device()), /*stop_gradient=*/true);
  pmf = pmf.select(1, 0);
  at::Tensor tail_mass = at::sigmoid(lower.select(1, 0).slice(1, 0, 1)) + at::sigmoid(-upper.select(1, 0).slice(1, -1));
  set_tables_from_pmf(pmf, tail_mass, pmf_length);
}

at::Tensor EntropyBottleneck::channel_indexes(int64_t batch, int64_t height, int64_t width) const {
  return at::arange(channels, at::kInt).view({1, channels, 1, 1}).expand({batch, channels, height, width}).contiguous();
}

std::vector<std::vector<uint8_t>> EntropyBottleneck::compress(const at::Tensor& z) const {
  if (z.dim() != 4 || z.size(1) != channels) throw InputError("EntropyBottleneck.compress: z must be [B, C, H, W]");
  const at::Tensor m = medians().detach().view({1, channels, 1, 1});
  // Float32 subtraction first, then round half to even, as CompressAI's quantize().
  at::Tensor symbols = at::round(z - m).to(at::kInt).cpu();
  at::Tensor indexes = channel_indexes(1, z.size(2), z.size(3));
  std::vector<std::vector<uint8_t>> strings;
  for (int64_t b = 0; b < z.size(0); ++b) strings.push_back(encode(symbols[b], indexes[0]));
  return strings;
}

at::Tensor EntropyBottleneck::decompress(const std::vector<const std::vector<uint8_t>*>& strings, int64_t height,
                                         int64_t width) const {
  const int64_t batch = static_cast<int64_t>(strings.size());
  at::Tensor indexes = channel_indexes(1, height, width);
  at::Tensor symbols = at::empty({batch, channels, height, width}, at::kInt);
  for (int64_t b = 0; b < batch; ++b) symbols[b].copy_(decode(strings[b]->data(), strings[b]->size(), indexes[0]));
  const at::Tensor m = medians().detach().to(at::kCPU).view({1, channels, 1, 1});
  return symbols.to(at::kFloat) + m;
}

}  // namespace psic
