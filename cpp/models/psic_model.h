// The PSIC model: a backbone's encoder side (g_a and its latent codec, unchanged) with the
// conditional synthesis of the PSIC paper. One bitstream; the decode depends on the condition:
// the public protected vector by default, the key-derived one for the full version.
// Plug-and-play: the backbone is the scale hyperprior (psic-hyperprior, reference) or the
// factorized prior (psic-factorized).
#pragma once
#include <memory>

#include "models/compression_model.h"
#include "models/conditional_synthesis.h"

namespace psic {

class PsicModel : public CompressionModel {
 public:
  explicit PsicModel(const ModelConfig& config);
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  LatentCodec& latent() override { return *latent_codec; }
  at::Tensor synthesize(const at::Tensor& y_hat, const at::Tensor& condition, const ForwardOptions& options) const override;

  std::unique_ptr<LatentCodec> latent_codec;
  ConditionalSynthesisTransform g_s_cond;
  GlobalConditioning global_cond;

 protected:
  void prepare_synthesis() override { g_s_cond.prepare_inference(); }
};

}  // namespace psic
