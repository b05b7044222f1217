#include "training/rd_loss.h"

#include <cmath>
#include <string>

#include "errors.h"

namespace psic {

at::Tensor bits_per_pixel(const std::vector<at::Tensor>& likelihoods, int64_t num_pixels) {
  if (num_pixels < 1) throw InputError("bits_per_pixel: num_pixels must be positive");
  at::Tensor bpp = at::zeros({}, at::kFloat);
  for (const at::Tensor& l : likelihoods) {
    if (!l.defined()) throw InputError("bits_per_pixel: undefined likelihood tensor");
    // −log2 of each symbol's probability is its ideal code length.
    bpp = bpp + l.log().sum() / (-std::log(2.0) * static_cast<double>(num_pixels));
  }
  return bpp;
}

RateDistortion rate_distortion_loss(const at::Tensor& x_hat, const at::Tensor& x,
                                    const std::vector<at::Tensor>& likelihoods, double lambda) {
  if (x.dim() != 4) throw InputError("rate_distortion_loss: x must be [N, C, H, W], got " + std::to_string(x.dim()) + " dims");
  if (!x_hat.defined() || x_hat.sizes() != x.sizes())
    throw InputError("rate_distortion_loss: x_hat must have the shape of x");
  // Bits are counted per pixel of the image, not per channel value: N·H·W.
  const at::Tensor bpp = likelihoods.empty() ? at::zeros({}, x.options())
                                             : bits_per_pixel(likelihoods, x.size(0) * x.size(2) * x.size(3));
  const at::Tensor mse = (x_hat - x).pow(2).mean();
  // 255² puts the MSE on the 8-bit scale, so λ means what it means in CompressAI.
  const at::Tensor loss = lambda * 255.0 * 255.0 * mse + bpp;
  return {loss, mse, bpp};
}

}  // namespace psic
