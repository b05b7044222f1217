#include "attacks/target_agreement.h"

#include "errors.h"
#include "training/target_similarity.h"

namespace psic {

std::vector<TargetOutputs> clean_readings(const std::vector<AttackTarget>& targets, const at::Tensor& clean) {
  at::NoGradGuard no_grad;
  std::vector<TargetOutputs> out;
  for (const AttackTarget& t : targets) out.push_back(t.model->forward(clean));
  return out;
}

at::Tensor target_agreement(const std::vector<AttackTarget>& targets, const std::vector<TargetOutputs>& clean,
                            const at::Tensor& x) {
  if (targets.size() != clean.size()) throw InputError("one clean reading per target is needed");
  at::Tensor total = at::zeros({}, at::kFloat);
  double weight_sum = 0;
  for (size_t t = 0; t < targets.size(); ++t) {
    const auto& specs = targets[t].model->heads();
    const TargetOutputs out = targets[t].model->forward(x);
    at::Tensor sum = at::zeros({}, at::kFloat);
    int used = 0;
    for (size_t h = 0; h < specs.size(); ++h) {
      const at::Tensor& ref = clean[t].heads[h];
      const at::Tensor& p = out.heads[h];
      if (ref.size(0) != p.size(0)) throw InputError("clean and attacked batches differ in size");
      switch (specs[h].kind) {
        case TargetHeadKind::Classifier:
          sum = sum + p.clamp_min(1e-12).log().gather(1, ref.argmax(1, true)).mean();
          break;
        case TargetHeadKind::Embedding:
          sum = sum + embedding_similarity(p, ref).diagonal().mean();
          break;
        case TargetHeadKind::Detector:
          sum = sum + detector_suppression_loss(ref, p);
          break;
        case TargetHeadKind::Regression:
          continue;
      }
      ++used;
    }
    if (used == 0) continue;
    total = total + targets[t].weight * sum / used;
    weight_sum += targets[t].weight;
  }
  if (weight_sum <= 0) throw InputError("no target has a classifier, embedding or detector head to attack");
  return total / weight_sum;
}

}  // namespace psic
