// The rate–distortion objective of learned compression, as CompressAI's RateDistortionLoss
// computes it: λ·255²·MSE + bpp, with the rate read off the entropy models' likelihoods.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace psic {

struct RateDistortion {
  at::Tensor loss;  // λ·255²·mse + bpp (scalar)
  at::Tensor mse;   // mean((x_hat − x)²) over every element
  at::Tensor bpp;   // estimated bits per pixel of x
};

// −Σ log2(likelihood) / num_pixels over every entropy model's likelihoods: the estimated rate.
at::Tensor bits_per_pixel(const std::vector<at::Tensor>& likelihoods, int64_t num_pixels);

// x_hat, x: [N, C, H, W] in [0, 1]; likelihoods: one tensor per entropy model (y, z, ...), any
// shapes. Throws InputError when x is not 4-D or x_hat's shape differs.
RateDistortion rate_distortion_loss(const at::Tensor& x_hat, const at::Tensor& x,
                                    const std::vector<at::Tensor>& likelihoods, double lambda);

}  // namespace psic
