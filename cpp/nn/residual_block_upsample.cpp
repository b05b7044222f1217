#include "nn/residual_block_upsample.h"

namespace psic {

ResidualBlockUpsample::ResidualBlockUpsample(int64_t in_channels, int64_t out_channels, int64_t up)
    : subpel_conv(in_channels, out_channels, up),
      conv(out_channels, out_channels, 3, 1),
      igdn(out_channels, /*inverse=*/true),
      upsample(in_channels, out_channels, up) {}

at::Tensor ResidualBlockUpsample::forward(const at::Tensor& x, const ForwardOptions& options) const {
  at::Tensor h = at::gelu(subpel_conv.forward(x, options));
  h = igdn.forward(conv.forward(h, options), options);
  return h + upsample.forward(x, options);
}

void ResidualBlockUpsample::visit_state(const std::string& prefix, const StateVisitor& visit) {
  subpel_conv.visit_state(join_name(prefix, "subpel_conv"), visit);
  conv.visit_state(join_name(prefix, "conv"), visit);
  igdn.visit_state(join_name(prefix, "igdn"), visit);
  upsample.visit_state(join_name(prefix, "upsample"), visit);
}

}  // namespace psic
