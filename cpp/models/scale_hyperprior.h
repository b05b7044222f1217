// ScaleHyperprior (Ballé et al. 2018, CompressAI's bmshj2018-hyperprior), layer for layer:
//   g_a: conv(3,N) GDN conv(N,N) GDN conv(N,N) GDN conv(N,M)        (5x5, stride 2)
//   g_s: deconv(M,N) IGDN deconv(N,N) IGDN deconv(N,N) IGDN deconv(N,3)
//   plus the hyperprior latent codec (h_a, h_s, EntropyBottleneck, GaussianConditional).
#pragma once
#include "models/hyperprior_latent_codec.h"
#include "models/model_config.h"

namespace psic {

class ScaleHyperprior : public StateOwner {
 public:
  explicit ScaleHyperprior(const ModelConfig& config);
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  // Refreshes derived inference tensors (GDN effective weights, sub-pixel decoder weights).
  void prepare_inference();
  // Rebuilds both entropy models' CDF tables (CompressAI's update(force=True)).
  void update_entropy_tables();
  // Checks the CDF tables before any coding.
  void validate_entropy_tables() const;

  struct ForwardResult {
    at::Tensor x_hat, y_likelihoods, z_likelihoods;
  };
  // Training forward on a padded batch [B, 3, H, W] (H, W multiples of 64).
  ForwardResult forward(const at::Tensor& x, bool training);

  // x: [1, 3, H, W] padded input in [0, 1].
  LatentStrings compress(const at::Tensor& x, const ForwardOptions& options, StageTimings* timings,
                         LatentShapes* shapes) const;
  // Returns x_hat [1, 3, H, W] clamped to [0, 1] (not cropped).
  at::Tensor decompress(const LatentStrings& strings, const LatentShapes& shapes, const ForwardOptions& options,
                        StageTimings* timings) const;

  ModelConfig config;
  Sequential g_a, g_s;
  HyperpriorLatentCodec latent_codec;
};

}  // namespace psic
