// Turns a TargetModel's heads (targets/target_model.h) into what the attack losses take:
// a [K, J] similarity matrix in [−1, 1] for the UAEO loss (uaeo_loss.h), or a direct loss for
// detectors, which have no "matching text" to move away from.
#pragma once
#include <ATen/ATen.h>

namespace psic {

// Classifier heads ([B, C] class probabilities) as a cosine-like [B, C] matrix, the "normalised
// logit" of class j: z = log(max(p, 1e-12)), centred over the classes, divided by its L2 norm.
// Why this form: softmax is shift-invariant, so log p are the logits up to a per-image constant,
// which centring removes; dividing by the norm makes the value scale-free and bounded in
// [−1, 1], so the same temperature s and tanh evidence as for CLIP cosines apply. It is
// exactly √(1 − 1/C) · cos(centred logits, centred one-hot of class j). A uniform p (zero norm)
// gives all zeros, not NaN. Throws InputError unless probs is [B, C] floating with C ≥ 2.
at::Tensor classifier_similarity(const at::Tensor& probs);

// Embedding heads: the cosine matrix [Ka, Kb], entry (i, j) = cos(a_i, b_j); a: [Ka, D], b: [Kb, D].
// (A zero row gives zeros.) Throws InputError on other shapes or mismatched D.
at::Tensor embedding_similarity(const at::Tensor& a, const at::Tensor& b);

// Detector heads ([B, C] best score per class): the mean over images of the sum of the protected
// scores of the classes the clean image shows, i.e. whose clean score is ≥ min_score, and always
// the clean top class. Minimising it hides what was detected. The class choice is read from
// clean_scores without gradient. Throws InputError unless both are the same [B, C].
at::Tensor detector_suppression_loss(const at::Tensor& clean_scores, const at::Tensor& protected_scores,
                                     double min_score = 0.2);

}  // namespace psic
