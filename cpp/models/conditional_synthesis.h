// The PSIC decoder (replaces g_s): every conditional residual block reads the shared CLTG
// feature f.
//   CRB(M->N), RBU(N->N, x2), CRB, RBU, CRB, RBU, CRB, subpel_conv3x3(N->3, r=2)
// Layers are named 0..7 in that order.
#pragma once
#include <variant>

#include "models/cltg.h"
#include "nn/residual_block_upsample.h"

namespace psic {

class ConditionalSynthesisTransform : public StateOwner {
 public:
  ConditionalSynthesisTransform(int64_t N, int64_t M);
  at::Tensor forward(const at::Tensor& y_hat, const at::Tensor& f, const ForwardOptions& options) const;
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  void prepare_inference();
  // The CRB projections (CLTG parameters), e.g. to zero them.
  void visit_projections(const std::string& prefix, const StateVisitor& visit);

 private:
  std::vector<std::shared_ptr<ConditionalResidualBlock>> crbs_;      // layers 0, 2, 4, 6
  std::vector<std::shared_ptr<ResidualBlockUpsample>> upsamples_;    // layers 1, 3, 5
  std::shared_ptr<SubpelConv3x3> output_;                            // layer 7
};

}  // namespace psic
