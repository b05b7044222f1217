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
// is the exactly equivalent sub-pixel form: output pixel (2m+a, 2n+b) only meets kernel taps of
// parity (a, b), so each of the four output phases is an ordinary conv of the input (3x3, 3x2,
// 2x3 or 2x2 taps) and the output interleaves them, as a pixel shuffle would. Same sums in
// another order; no multiplications by zero taps.
class ConvTranspose2d : public Layer {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride);
  at::Tensor forward(const at::Tensor& x, const ForwardOptions& options) const override;
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  void prepare_inference() override;

  // The transposed conv as torch computes it (CompressAI's op).
  at::Tensor forward_transposed(const at::Tensor& x) const;
  // The sub-pixel form (needs prepare_inference() after the weights change).
  at::Tensor forward_subpixel(const at::Tensor& x) const;

  at::Tensor weight;  // [in, out, k, k]
  at::Tensor bias;    // [out]
  int64_t stride, padding, output_padding;

 private:
  at::Tensor phase_weights_[2][2];  // [out, in, 3 - a, 3 - b] for output phase (a, b)
};

// The sub-pixel weights as one 3x3 conv producing 4x the channels (channel c*4 + a*2 + b is
// output phase (a, b) of channel c, zero where a phase has no tap), from a [in, out, 5, 5]
// transposed weight.
at::Tensor subpixel_weight_from_transposed(const at::Tensor& transposed_weight);

}  // namespace psic
