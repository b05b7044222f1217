// The factorized prior's latent codec (bmshj2018-factorized): y is coded with a per-channel
// EntropyBottleneck, with no hyper-latent.
#pragma once
#include "entropy/entropy_bottleneck.h"
#include "models/latent_codec.h"

namespace psic {

class FactorizedLatentCodec : public LatentCodec {
 public:
  explicit FactorizedLatentCodec(int64_t M);
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  ForwardResult forward(const at::Tensor& y, bool training, const ForwardOptions& options) override;
  LatentStrings compress(const at::Tensor& y, const ForwardOptions& options, StageTimings* timings,
                         LatentShapes* shapes) const override;
  at::Tensor decompress(const LatentStrings& strings, const LatentShapes& shapes, StageTimings* timings) const override;
  double estimate_bits(const at::Tensor& y) override;
  at::Tensor aux_loss() const override { return entropy_bottleneck.loss(); }
  void update_entropy_tables() override { entropy_bottleneck.update(); }
  void validate_entropy_tables() const override;
  std::vector<std::string> coding_state_prefixes() const override { return {"entropy_bottleneck."}; }

  int64_t M;
  EntropyBottleneck entropy_bottleneck;
};

}  // namespace psic
