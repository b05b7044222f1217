#include "nn/module.h"

namespace psic {

std::vector<at::Tensor> parameters_of(StateOwner& owner) {
  std::vector<at::Tensor> out;
  owner.visit_state("", [&](const std::string&, at::Tensor& t, StateKind kind) {
    if (kind == StateKind::Parameter) out.push_back(t);
  });
  return out;
}

}  // namespace psic
