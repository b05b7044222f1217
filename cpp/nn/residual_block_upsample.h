// ResidualBlockUpsample (RBU): subpel_conv3x3(in, out, 2), GELU, conv3x3, IGDN, plus an
// independent subpel_conv3x3 skip of the same input. Names follow CompressAI's
// ResidualBlockUpsample (subpel_conv, conv, igdn, upsample).
#pragma once
#include "nn/gdn.h"
#include "nn/subpel_conv.h"

namespace psic {

class ResidualBlockUpsample : public Layer {
 public:
  ResidualBlockUpsample(int64_t in_channels, int64_t out_channels, int64_t upsample = 2);
  at::Tensor forward(const at::Tensor& x, const ForwardOptions& options) const override;
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  void prepare_inference() override { igdn.prepare_inference(); }

  SubpelConv3x3 subpel_conv;
  Conv2d conv;
  GDN igdn;
  SubpelConv3x3 upsample;
};

}  // namespace psic
