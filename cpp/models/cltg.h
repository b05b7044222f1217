// CLTG (conditional latent trigger generation, the PSIC paper): a condition vector c becomes one
// feature f that every conditional residual block of the decoder reads.
//   GlobalConditioning: c (d values) -> Fourier features [c, sin(2^k c), cos(2^k c), k = 0..9]
//                       (21 per value) -> Linear(21d -> 512), ReLU, Linear(512 -> 512), ReLU = f
//   ConditionalResidualBlock (CRB): conv3x3 in->out, GELU, + Linear(512->out, no bias)(f),
//                       conv3x3, GELU, + a second Linear(f), + skip (1x1 conv when in != out).
#pragma once
#include <optional>

#include "nn/conv.h"

namespace psic {

constexpr int64_t kCltgFeatures = 512;
constexpr int kFourierOctaves = 10;

// [B, d] -> [B, 21 d]: per value v, [v, sin(2^k v) (k = 0..9), cos(2^k v) (k = 0..9)].
at::Tensor fourier_features(const at::Tensor& condition);

struct Linear {
  Linear(int64_t in, int64_t out, bool with_bias);
  at::Tensor forward(const at::Tensor& x) const;
  void visit_state(const std::string& prefix, const StateVisitor& visit);
  at::Tensor weight, bias;  // bias undefined without one
};

class GlobalConditioning : public StateOwner {
 public:
  explicit GlobalConditioning(int64_t condition_dim);
  at::Tensor forward(const at::Tensor& condition) const;  // [B, d] -> f [B, 512]
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;

  int64_t condition_dim;
  Linear fc1, fc2;
};

class ConditionalResidualBlock : public StateOwner {
 public:
  ConditionalResidualBlock(int64_t in_channels, int64_t out_channels);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& f, const ForwardOptions& options) const;
  void visit_state(const std::string& prefix, const StateVisitor& visit) override;
  // The two projections of f: the CLTG parameters proper.
  void visit_projections(const std::string& prefix, const StateVisitor& visit);

  Conv2d conv1, conv2;
  Linear proj1, proj2;
  std::optional<Conv2d> skip;
};

}  // namespace psic
