// subpel_conv3x3(in, out, r): conv3x3 in -> out*r^2, then PixelShuffle(r), as CompressAI's
// (state names "<prefix>.0.weight", "<prefix>.0.bias").
#pragma once
#include "nn/conv.h"

namespace psic {

class SubpelConv3x3 : public Layer {
 public:
  SubpelConv3x3(int64_t in_channels, int64_t out_channels, int64_t upscale);
  at::Tensor forward(const at::Tensor& x, const ForwardOptions& options) const override;
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;

  Conv2d conv;
  int64_t upscale;
};

// GELU, erf form (torch.nn.GELU's default).
class GELU : public Layer {
 public:
  at::Tensor forward(const at::Tensor& x, const ForwardOptions&) const override { return at::gelu(x); }
  void visit_state(const std::string&, const StateVisitor&) override {}
};

}  // namespace psic
