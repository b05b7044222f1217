// GDN / IGDN (Ballé et al. 2016) with CompressAI's non-negative reparametrization:
//   y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)   (IGDN multiplies by the sqrt instead)
// beta and gamma are stored reparametrized: effective = max(p, bound)^2 - pedestal, with
// pedestal = (2^-18)^2 = 2^-36 and bound = sqrt(minimum + pedestal) (minimum 1e-6 for beta).
#pragma once
#include "nn/module.h"

namespace psic {

// CompressAI's NonNegativeParametrizer: the buffers are part of the state_dict.
struct NonNegativeParametrizer {
  explicit NonNegativeParametrizer(double minimum = 0.0, double reparam_offset = 1.0 / 262144.0);
  at::Tensor init(const at::Tensor& x) const;     // stored value for an effective value
  at::Tensor apply(const at::Tensor& x) const;    // effective value from the stored one
  void visit_state(const std::string& prefix, const StateVisitor& visit);

  at::Tensor pedestal;  // [1]
  at::Tensor bound;     // [1] (state name lower_bound.bound)
};

class GDN : public Layer {
 public:
  GDN(int64_t channels, bool inverse, double beta_min = 1e-6, double gamma_init = 0.1);
  at::Tensor forward(const at::Tensor& x, const ForwardOptions& options) const override;
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  void prepare_inference() override;

  bool inverse;
  at::Tensor beta;   // [C] reparametrized
  at::Tensor gamma;  // [C, C] reparametrized
  NonNegativeParametrizer beta_reparam;
  NonNegativeParametrizer gamma_reparam;

 private:
  at::Tensor effective_beta_, effective_gamma_;  // cached for inference
};

}  // namespace psic
