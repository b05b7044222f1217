#include "nn/subpel_conv.h"

namespace psic {

SubpelConv3x3::SubpelConv3x3(int64_t in_channels, int64_t out_channels, int64_t upscale_)
    : conv(in_channels, out_channels * upscale_ * upscale_, 3, 1), upscale(upscale_) {}

at::Tensor SubpelConv3x3::forward(const at::Tensor& x, const ForwardOptions& options) const {
  return at::pixel_shuffle(conv.forward(x, options), upscale);
}

void SubpelConv3x3::visit_state(const std::string& prefix, const StateVisitor& visit) {
  conv.visit_state(join_name(prefix, "0"), visit);
}

}  // namespace psic
