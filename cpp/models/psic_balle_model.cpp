#include "models/psic_balle_model.h"

#include "errors.h"
#include "models/scale_hyperprior.h"

namespace psic {

namespace {
constexpr int64_t kShiftAfter[] = {1, 3, 5};  // g_s layer indexes of the IGDNs
}

PsicBalleModel::PsicBalleModel(const ModelConfig& c)
    : CompressionModel(c), g_s(ScaleHyperprior::make_synthesis(c.N, c.M)), latent_codec(c.N, c.M), global_cond(c.condition_dim) {
  if (c.condition_dim < 1) throw WeightsError("a PSIC model needs condition_dim >= 1");
  for (size_t i = 0; i < std::size(kShiftAfter); ++i) {
    shifts.emplace_back(kCltgFeatures, c.N, /*with_bias=*/false);
    shifts.back().weight.zero_();  // start as the backbone: every condition decodes alike
  }
}

void PsicBalleModel::visit_state(const std::string& prefix, const StateVisitor& visit) {
  g_a.visit_state(join_name(prefix, "g_a"), visit);
  g_s.visit_state(join_name(prefix, "g_s"), visit);
  latent_codec.visit_state(prefix, visit);  // CompressAI's flat names
  for (size_t i = 0; i < shifts.size(); ++i) shifts[i].visit_state(join_name(prefix, "g_s_shift." + std::to_string(i)), visit);
  global_cond.visit_state(join_name(prefix, "global_cond"), visit);
}

at::Tensor PsicBalleModel::synthesize(const at::Tensor& y_hat, const at::Tensor& condition, const ForwardOptions& options) const {
  at::Tensor c = condition.to(y_hat.device());
  if (c.size(0) != y_hat.size(0)) c = c.expand({y_hat.size(0), c.size(1)});
  const at::Tensor f = global_cond.forward(c);
  at::Tensor h = y_hat;
  const auto& layers = g_s.layers();
  size_t next = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    h = layers[i]->forward(h, options);
    if (next < shifts.size() && static_cast<int64_t>(i) == kShiftAfter[next]) {
      const at::Tensor shift = shifts[next++].forward(f);
      h = h + shift.view({shift.size(0), shift.size(1), 1, 1}).to(h.scalar_type());
    }
  }
  return h;
}

}  // namespace psic
