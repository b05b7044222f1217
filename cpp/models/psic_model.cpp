#include "models/psic_model.h"

#include "errors.h"
#include "models/factorized_latent_codec.h"
#include "models/hyperprior_latent_codec.h"
#include "models/psic_balle_model.h"
#include "models/scale_hyperprior.h"

namespace psic {

PsicModel::PsicModel(const ModelConfig& c)
    : CompressionModel(c), g_s_cond(c.N, c.M), global_cond(c.condition_dim) {
  if (c.condition_dim < 1) throw WeightsError("a PSIC model needs condition_dim >= 1");
  if (c.architecture == "psic-factorized")
    latent_codec = std::make_unique<FactorizedLatentCodec>(c.M);
  else
    latent_codec = std::make_unique<HyperpriorLatentCodec>(c.N, c.M);
}

void PsicModel::visit_state(const std::string& prefix, const StateVisitor& visit) {
  g_a.visit_state(join_name(prefix, "g_a"), visit);
  latent_codec->visit_state(prefix, visit);  // CompressAI names: the encoder side can seed from a checkpoint
  g_s_cond.visit_state(join_name(prefix, "g_s_cond"), visit);
  global_cond.visit_state(join_name(prefix, "global_cond"), visit);
}

at::Tensor PsicModel::synthesize(const at::Tensor& y_hat, const at::Tensor& condition,
                                 const ForwardOptions& options) const {
  at::Tensor c = condition.to(y_hat.device());
  if (c.size(0) != y_hat.size(0)) c = c.expand({y_hat.size(0), c.size(1)});
  return g_s_cond.forward(y_hat, global_cond.forward(c), options);
}

std::shared_ptr<CompressionModel> build_model(const ModelConfig& config) {
  if (config.architecture == "bmshj2018-hyperprior") return std::make_shared<ScaleHyperprior>(config);
  if (config.architecture == "psic-balle") return std::make_shared<PsicBalleModel>(config);
  return std::make_shared<PsicModel>(config);
}

}  // namespace psic
