// Convolution layers with CompressAI's geometry: conv(k, stride 2, padding k/2) and
// deconv(k, stride 2, padding k/2, output_padding 1).
#pragma once
#include "nn/module.h"

namespace psic {

class Conv2d : public Layer {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride);
  at::Tensor forward(const at::Tensor& x, const ForwardOptions& options) const override;
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;

  at::Tensor weight;  // [out, in, k, k]
  at::Tensor bias;    // [out]
  int64_t stride, padding;
};

// ConvTranspose2d(k=5, stride 2, padding 2, output_padding 1) doubles H and W. Its fast path
// rewrites it as an exactly equivalent 3x3 conv producing 4x the channels followed by a pixel
// shuffle: the four output phases each use a subset of the 5x5 taps. Same sums, other order.
class ConvTranspose2d : public Layer {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride);
  at::Tensor forward(const at::Tensor& x, const ForwardOptions& options) const override;
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  void prepare_inference() override;

  // The transposed conv as torch computes it (CompressAI's op).
  at::Tensor forward_transposed(const at::Tensor& x) const;
  // The conv + pixel-shuffle rewrite (needs prepare_inference() after the weights change).
  at::Tensor forward_subpixel(const at::Tensor& x) const;

  at::Tensor weight;  // [in, out, k, k]
  at::Tensor bias;    // [out]
  int64_t stride, padding, output_padding;

 private:
  at::Tensor subpixel_weight_;  // [4*out, in, 3, 3]
  at::Tensor subpixel_bias_;    // [4*out]
};

// The 3x3 conv weights of the sub-pixel rewrite, from a [in, out, 5, 5] transposed weight.
at::Tensor subpixel_weight_from_transposed(const at::Tensor& transposed_weight);

}  // namespace psic
