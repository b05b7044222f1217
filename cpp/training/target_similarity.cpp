#include "training/target_similarity.h"

#include <string>

#include "errors.h"

namespace psic {

namespace {

void check_matrix(const at::Tensor& t, const char* what) {
  if (!t.defined() || t.dim() != 2 || !at::isFloatingType(t.scalar_type()))
    throw InputError(std::string(what) + " must be a 2-D floating tensor");
}

// Rows scaled to unit L2 norm; a zero row stays zero (as torch.nn.functional.normalize).
at::Tensor unit_rows(const at::Tensor& t) { return t / t.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12); }

}  // namespace

at::Tensor classifier_similarity(const at::Tensor& probs) {
  check_matrix(probs, "classifier_similarity: probs");
  if (probs.size(1) < 2) throw InputError("classifier_similarity: needs at least 2 classes");
  // The clamp keeps log finite for classes a softmax rounded to 0.
  const at::Tensor z = probs.clamp_min(1e-12).log();
  return unit_rows(z - z.mean({1}, /*keepdim=*/true));
}

at::Tensor embedding_similarity(const at::Tensor& a, const at::Tensor& b) {
  check_matrix(a, "embedding_similarity: a");
  check_matrix(b, "embedding_similarity: b");
  if (a.size(1) != b.size(1))
    throw InputError("embedding_similarity: a and b have different dimensions (" + std::to_string(a.size(1)) + " vs " +
                     std::to_string(b.size(1)) + ")");
  return at::matmul(unit_rows(a), unit_rows(b).t());
}

at::Tensor detector_suppression_loss(const at::Tensor& clean_scores, const at::Tensor& protected_scores,
                                     double min_score) {
  check_matrix(clean_scores, "detector_suppression_loss: clean_scores");
  check_matrix(protected_scores, "detector_suppression_loss: protected_scores");
  if (clean_scores.sizes() != protected_scores.sizes() || clean_scores.size(1) < 1)
    throw InputError("detector_suppression_loss: clean and protected scores must be the same [B, C]");
  const at::Tensor clean = clean_scores.detach();
  // The top class always counts, so an image whose detections are all weak still has a target.
  at::Tensor shown = clean.ge(min_score);
  shown.scatter_(1, clean.argmax(1, /*keepdim=*/true), true);
  return (protected_scores * shown.to(protected_scores.scalar_type())).sum(1).mean();
}

}  // namespace psic
