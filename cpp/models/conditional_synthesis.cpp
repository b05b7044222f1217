#include "models/conditional_synthesis.h"

namespace psic {

ConditionalSynthesisTransform::ConditionalSynthesisTransform(int64_t N, int64_t M) {
  crbs_.push_back(std::make_shared<ConditionalResidualBlock>(M, N));
  for (int i = 0; i < 3; ++i) {
    upsamples_.push_back(std::make_shared<ResidualBlockUpsample>(N, N, 2));
    crbs_.push_back(std::make_shared<ConditionalResidualBlock>(N, N));
  }
  output_ = std::make_shared<SubpelConv3x3>(N, 3, 2);
}

at::Tensor ConditionalSynthesisTransform::forward(const at::Tensor& y_hat, const at::Tensor& f,
                                                  const ForwardOptions& options) const {
  at::Tensor h = crbs_[0]->forward(y_hat, f, options);
  for (size_t i = 0; i < upsamples_.size(); ++i) {
    h = upsamples_[i]->forward(h, options);
    h = crbs_[i + 1]->forward(h, f, options);
  }
  return output_->forward(h, options);
}

void ConditionalSynthesisTransform::visit_state(const std::string& prefix, const StateVisitor& visit) {
  crbs_[0]->visit_state(join_name(prefix, "0"), visit);
  for (size_t i = 0; i < upsamples_.size(); ++i) {
    upsamples_[i]->visit_state(join_name(prefix, std::to_string(2 * i + 1)), visit);
    crbs_[i + 1]->visit_state(join_name(prefix, std::to_string(2 * i + 2)), visit);
  }
  output_->visit_state(join_name(prefix, "7"), visit);
}

void ConditionalSynthesisTransform::prepare_inference() {
  for (auto& u : upsamples_) u->prepare_inference();
}

void ConditionalSynthesisTransform::visit_projections(const std::string& prefix, const StateVisitor& visit) {
  for (size_t i = 0; i < crbs_.size(); ++i) crbs_[i]->visit_projections(join_name(prefix, std::to_string(2 * i)), visit);
}

}  // namespace psic
