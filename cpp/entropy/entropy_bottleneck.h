// EntropyBottleneck (Ballé et al. 2018): a learned, per-channel factorized density for the
// hyper-latent z, as CompressAI implements it. The cumulative density is a small monotone
// network (filters 3,3,3,3) evaluated by logits_cumulative; quantiles give each channel's
// median and coding range and are trained by the aux loss.
#pragma once
#include <array>

#include "entropy/entropy_model.h"

namespace psic {

class EntropyBottleneck : public EntropyModel {
 public:
  static constexpr int kLayers = 5;  // filters (3,3,3,3) + the output layer

  explicit EntropyBottleneck(int64_t channels, double init_scale = 10.0, double tail_mass = 1e-9);
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;

  // Logits of the cumulative density, inputs [C, 1, K].
  at::Tensor logits_cumulative(const at::Tensor& inputs, bool stop_gradient) const;
  // (likelihood, lower logits, upper logits) of the unit interval around each input.
  std::array<at::Tensor, 3> likelihood(const at::Tensor& inputs, bool stop_gradient) const;
  // Training forward: noisy (training) or rounded z and its likelihoods, both [B, C, H, W].
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& z, bool training) const;
  // Aux loss pulling the quantiles to the tail_mass/2 and median points.
  at::Tensor loss() const;
  // Rebuilds the quantized CDF tables from the current density (CompressAI's update(force=True)).
  void update();

  at::Tensor medians() const;  // [C], quantiles[:, 0, 1]
  // One string per batch element; z_hat = round(z - median) + median.
  std::vector<std::vector<uint8_t>> compress(const at::Tensor& z) const;
  at::Tensor decompress(const std::vector<const std::vector<uint8_t>*>& strings, int64_t height, int64_t width) const;

  int64_t channels;
  std::array<at::Tensor, kLayers> matrices;
  std::array<at::Tensor, kLayers> biases;
  std::array<at::Tensor, kLayers - 1> factors;
  at::Tensor quantiles;  // [C, 1, 3]
  at::Tensor target;     // [3]

 private:
  at::Tensor channel_indexes(int64_t batch, int64_t height, int64_t width) const;
};

}  // namespace psic
