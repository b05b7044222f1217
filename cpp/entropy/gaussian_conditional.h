// GaussianConditional (Ballé et al. 2018): y is coded with a zero-mean Gaussian whose scale
// comes from the hyperprior. Scales are bucketed into a fixed table of 64 scales,
// exp(linspace(ln 0.11, ln 256, 64)), each with its own quantized CDF.
#pragma once
#include "entropy/entropy_model.h"

namespace psic {

class GaussianConditional : public EntropyModel {
 public:
  GaussianConditional();
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;

  static at::Tensor default_scale_table();

  // Index of the scale-table bucket for every scale: s = max(scale, 0.11);
  // idx = 63 - #{k < 63 : s <= table[k]}. Pure float comparisons, computed on the CPU in one
  // fixed way on both sides, so encoder and decoder always agree given the same scales.
  at::Tensor build_indexes(const at::Tensor& scales) const;
  // Likelihood of the unit interval around each value under N(0, max(scale, 0.11)).
  at::Tensor likelihood(const at::Tensor& values, const at::Tensor& scales) const;
  // Training forward: noisy (training) or rounded y and its likelihoods.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& y, const at::Tensor& scales, bool training) const;
  // Rebuilds the tables from the scale table (CompressAI's update_scale_table + update).
  void update();

  std::vector<uint8_t> compress(const at::Tensor& y, const at::Tensor& indexes) const;  // one batch element
  at::Tensor decompress(const std::vector<uint8_t>& string, const at::Tensor& indexes) const;

  at::Tensor scale_table;        // float [64]
  at::Tensor scale_bound;        // float [1] = 0.11
  at::Tensor lower_bound_scale;  // float [1] = 0.11 (state name lower_bound_scale.bound)
  double tail_mass = 1e-9;
};

}  // namespace psic
