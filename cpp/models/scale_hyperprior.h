// ScaleHyperprior (Ballé et al. 2018, CompressAI's bmshj2018-hyperprior), layer for layer:
//   g_a: conv(3,N) GDN conv(N,N) GDN conv(N,N) GDN conv(N,M)        (5x5, stride 2)
//   g_s: deconv(M,N) IGDN deconv(N,N) IGDN deconv(N,N) IGDN deconv(N,3)
//   plus the hyperprior latent codec (h_a, h_s, EntropyBottleneck, GaussianConditional).
#pragma once
#include "models/compression_model.h"
#include "models/hyperprior_latent_codec.h"

namespace psic {

class ScaleHyperprior : public CompressionModel {
 public:
  explicit ScaleHyperprior(const ModelConfig& config);
  // g_s as above (also the backbone decoder of psic-balle).
  static Sequential make_synthesis(int64_t N, int64_t M);
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  LatentCodec& latent() override { return latent_codec; }
  at::Tensor synthesize(const at::Tensor& y_hat, const at::Tensor& condition, const ForwardOptions& options) const override;

  Sequential g_s;
  HyperpriorLatentCodec latent_codec;

 protected:
  void prepare_synthesis() override { g_s.prepare_inference(); }
};

}  // namespace psic
