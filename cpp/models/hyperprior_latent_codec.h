// The latent codec of the scale hyperprior: y -> (h_a) z -> EntropyBottleneck,
// z_hat -> (h_s) scales -> GaussianConditional codes y. A component of its own so that other
// backbones (and PSIC's conditional decoder) reuse it unchanged: the encoder side never sees
// the synthesis transform.
#pragma once
#include "entropy/entropy_bottleneck.h"
#include "entropy/gaussian_conditional.h"
#include "models/latent_codec.h"

namespace psic {

class HyperpriorLatentCodec : public LatentCodec {
 public:
  HyperpriorLatentCodec(int64_t N, int64_t M);
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  void prepare_inference() override;
  at::Tensor aux_loss() const override { return entropy_bottleneck.loss(); }
  void update_entropy_tables() override;
  void validate_entropy_tables() const override;
  std::vector<std::string> coding_state_prefixes() const override { return {"h_s.", "entropy_bottleneck.", "gaussian_conditional."}; }

  ForwardResult forward(const at::Tensor& y, bool training, const ForwardOptions& options) override;

  // One batch element. The hyper-synthesis always runs on the CPU at one thread through the
  // compat op path, on both sides: a scale index that differs between encoder and decoder
  // would corrupt the stream.
  LatentStrings compress(const at::Tensor& y, const ForwardOptions& options, StageTimings* timings,
                         LatentShapes* shapes) const override;
  at::Tensor decompress(const LatentStrings& strings, const LatentShapes& shapes, StageTimings* timings) const override;
  // Scales for a z_hat, the one way both sides compute them.
  at::Tensor hyper_scales(const at::Tensor& z_hat) const;
  // Sealed files' conditional coding: the scales σ the z string (of the public section) gives,
  // [M, h, w] on the CPU, and the scale-table indexes of σ / 2^shift_c with one shift per channel.
  // Deterministic on both sides.
  at::Tensor public_scales(const std::vector<uint8_t>& z_string, const LatentShapes& shapes) const;
  at::Tensor shifted_indexes(const at::Tensor& scales, const std::vector<uint8_t>& shifts) const;

  double estimate_bits(const at::Tensor& y) override;

  int64_t N, M;
  Sequential h_a, h_s;
  EntropyBottleneck entropy_bottleneck;
  GaussianConditional gaussian_conditional;
};

}  // namespace psic
