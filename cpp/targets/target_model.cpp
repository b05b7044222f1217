#include "targets/target_model.h"

#include "errors.h"

namespace psic {

const char* target_head_kind_name(TargetHeadKind kind) {
  switch (kind) {
    case TargetHeadKind::Classifier: return "classifier";
    case TargetHeadKind::Embedding: return "embedding";
    case TargetHeadKind::Regression: return "regression";
    case TargetHeadKind::Detector: return "detector";
  }
  return "unknown";
}

void check_target_input(const at::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(0) < 1 || images.size(2) < 1 || images.size(3) < 1)
    throw InputError("a target model takes RGB images [B, 3, H, W]");
  if (!images.is_floating_point()) throw InputError("a target model takes float images in [0, 1]");
}

}  // namespace psic
