#include "models/scale_hyperprior.h"

#include "nn/conv.h"
#include "nn/gdn.h"

namespace psic {

ScaleHyperprior::ScaleHyperprior(const ModelConfig& c)
    : CompressionModel(c), g_s(make_synthesis(c.N, c.M)), latent_codec(c.N, c.M) {}

Sequential ScaleHyperprior::make_synthesis(int64_t N, int64_t M) {
  Sequential g_s;
  g_s.add(std::make_shared<ConvTranspose2d>(M, N, 5, 2))
      .add(std::make_shared<GDN>(N, true))
      .add(std::make_shared<ConvTranspose2d>(N, N, 5, 2))
      .add(std::make_shared<GDN>(N, true))
      .add(std::make_shared<ConvTranspose2d>(N, N, 5, 2))
      .add(std::make_shared<GDN>(N, true))
      .add(std::make_shared<ConvTranspose2d>(N, 3, 5, 2));
  return g_s;
}

void ScaleHyperprior::visit_state(const std::string& prefix, const StateVisitor& visit) {
  g_a.visit_state(join_name(prefix, "g_a"), visit);
  g_s.visit_state(join_name(prefix, "g_s"), visit);
  latent_codec.visit_state(prefix, visit);  // CompressAI's names are flat: h_a, h_s, entropy_bottleneck, ...
}

at::Tensor ScaleHyperprior::synthesize(const at::Tensor& y_hat, const at::Tensor&, const ForwardOptions& options) const {
  return g_s.forward(y_hat, options);
}

}  // namespace psic
