// A latent codec turns the analysis output y into entropy-coded strings and back (CompressAI's
// "latent codec" idea). Backbones differ here: the scale hyperprior codes y with a Gaussian whose
// scales come from a hyper-latent z; the factorized prior codes y with an EntropyBottleneck.
// The synthesis side (plain or conditional) never depends on which one is used.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nn/module.h"

namespace psic {

struct LatentStrings {
  std::vector<uint8_t> y;
  std::vector<uint8_t> z;  // empty without a hyper-latent
};

struct LatentShapes {
  int64_t y_channels, y_height, y_width;
  int64_t z_channels, z_height, z_width;  // zeros without a hyper-latent
};

struct StageTimings {
  double transform_ms = 0;  // neural transforms
  double entropy_ms = 0;    // quantization, indexes, rANS
};

class LatentCodec : public StateOwner {
 public:
  struct ForwardResult {
    at::Tensor y_hat;
    std::vector<at::Tensor> likelihoods;  // y's, then z's when there is a z
  };
  // Training forward: y_hat (noisy when training, else rounded) and the likelihoods.
  virtual ForwardResult forward(const at::Tensor& y, bool training, const ForwardOptions& options) = 0;
  // One batch element.
  virtual LatentStrings compress(const at::Tensor& y, const ForwardOptions& options, StageTimings* timings,
                                 LatentShapes* shapes) const = 0;
  virtual at::Tensor decompress(const LatentStrings& strings, const LatentShapes& shapes,
                                StageTimings* timings) const = 0;
  // -log2 likelihood of the rounded latents (the model's "estimated" bits).
  virtual double estimate_bits(const at::Tensor& y) = 0;
  // The entropy bottleneck's quantile loss (CompressAI's aux_loss), trained by its own optimizer.
  virtual at::Tensor aux_loss() const = 0;
  virtual void prepare_inference() {}
  // State-dict name prefixes of what decides the rANS tables of a bitstream (h_s, the entropy
  // models). It stays on the CPU when the transforms move to a GPU, so the scale indexes, and
  // with them the bitstream, are the same whatever device encodes or decodes.
  virtual std::vector<std::string> coding_state_prefixes() const = 0;
  virtual void update_entropy_tables() = 0;
  virtual void validate_entropy_tables() const = 0;
};

}  // namespace psic
