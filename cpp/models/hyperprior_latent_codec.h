// The latent codec of the scale hyperprior: y -> (h_a) z -> EntropyBottleneck,
// z_hat -> (h_s) scales -> GaussianConditional codes y. A component of its own so that other
// backbones (and PSIC's conditional decoder) reuse it unchanged: the encoder side never sees
// the synthesis transform.
#pragma once
#include "entropy/entropy_bottleneck.h"
#include "entropy/gaussian_conditional.h"
#include "nn/module.h"

namespace psic {

struct LatentStrings {
  std::vector<uint8_t> y;
  std::vector<uint8_t> z;
};

struct LatentShapes {
  int64_t y_channels, y_height, y_width;
  int64_t z_channels, z_height, z_width;
};

struct StageTimings {
  double transform_ms = 0;  // h_a, h_s
  double entropy_ms = 0;    // quantization, indexes, rANS
};

class HyperpriorLatentCodec : public StateOwner {
 public:
  HyperpriorLatentCodec(int64_t N, int64_t M);
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  void prepare_inference();

  // Training forward: y_hat (noisy or rounded) and the likelihoods of y and z.
  struct ForwardResult {
    at::Tensor y_hat, y_likelihoods, z_likelihoods;
  };
  ForwardResult forward(const at::Tensor& y, bool training, const ForwardOptions& options);

  // One batch element. The hyper-synthesis always runs on the CPU at one thread through the
  // compat op path, on both sides: a scale index that differs between encoder and decoder
  // would corrupt the stream.
  LatentStrings compress(const at::Tensor& y, const ForwardOptions& options, StageTimings* timings) const;
  at::Tensor decompress(const LatentStrings& strings, const LatentShapes& shapes, StageTimings* timings) const;
  // Scales for a z_hat, the one way both sides compute them.
  at::Tensor hyper_scales(const at::Tensor& z_hat) const;

  // -log2 likelihood of the rounded y and z (the "estimated" bits).
  double estimate_bits(const at::Tensor& y) const;

  int64_t N, M;
  Sequential h_a, h_s;
  EntropyBottleneck entropy_bottleneck;
  GaussianConditional gaussian_conditional;
};

}  // namespace psic
