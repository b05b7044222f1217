// psic-balle: PSIC plug-and-play on the scale hyperprior's own decoder. The backbone is
// CompressAI's bmshj2018-hyperprior unchanged (g_a, h_a, h_s, entropy models and g_s under
// CompressAI's names, so a trained checkpoint seeds all of it); the condition enters through
// CLTG: c -> GlobalConditioning -> f, and after each of g_s's three IGDN stages a linear
// projection of f is added to the features (g_s_shift.{0,1,2}, [N, 512], no bias).
// The projections start at zero, so an untrained model decodes every condition exactly as the
// seed checkpoint does; training only has to learn how the protected decode departs from it —
// the way to a usable model on a CPU. (psic-hyperprior is the paper's decoder, trained anew.)
#pragma once
#include <vector>

#include "models/cltg.h"
#include "models/compression_model.h"
#include "models/hyperprior_latent_codec.h"

namespace psic {

class PsicBalleModel : public CompressionModel {
 public:
  explicit PsicBalleModel(const ModelConfig& config);
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  LatentCodec& latent() override { return latent_codec; }
  at::Tensor synthesize(const at::Tensor& y_hat, const at::Tensor& condition, const ForwardOptions& options) const override;
  at::Tensor backbone_synthesize(const at::Tensor& y_hat, const ForwardOptions& options) const override { return g_s.forward(y_hat, options); }
  bool has_backbone_synthesis() const override { return true; }

  Sequential g_s;
  HyperpriorLatentCodec latent_codec;
  GlobalConditioning global_cond;
  std::vector<Linear> shifts;  // after g_s layers 1, 3 and 5 (the IGDNs)

 protected:
  void prepare_synthesis() override { g_s.prepare_inference(); }
};

}  // namespace psic
