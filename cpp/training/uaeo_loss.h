// The UAEO attack loss (uncertainty-aware encryption-oriented, PSIC paper eqs 5–9) and its two
// comparison variants, on similarity matrices so it serves every target alike: CLIP cosines
// (texts), a classifier's normalised logits (classes) or embedding cosines (other identities);
// target_similarity.h makes those matrices.
//
// The idea: rather than only pushing a protected image away from its true match, pull it toward
// the match the model believes LEAST on the clean image, with the evidence computed on the clean
// image and the gradient flowing only through the protected decode.
#pragma once
#include <ATen/ATen.h>

#include "training/uaeo_options.h"

namespace psic {

struct UaeoResult {
  at::Tensor loss;          // scalar
  at::Tensor target_index;  // [K] int64: n(i) (Paper; Code's noisy rows), else −1
  at::Tensor clean_mask;    // [K] bool: Code only (row i's clean argmax is its true match); undefined otherwise
};

// clean_sim [K, J]: similarity of clean image i to candidate j (text, class, identity), used as a
// constant (detached here). protected_sim [K, J]: the same on the protected decode; carries the
// gradient. true_index [K] int64: the true match of row i (for a CLIP batch, i itself).
//
// Paired batch: when J == K and true_index is the identity (K images with their K texts), the
// evidence is bidirectional, e^b = e + eᵀ (image→text plus text→image). Otherwise — e.g. the
// texts are a classifier's classes — there is no text→image direction (column j is not "the
// j-th image's text"), so e^b = e, and Code uses the image→text terms only.
//
// Paper:  e_ij = exp(tanh(clean_ij / s)); u_ij = e^b_ij / Σ_j (e^b_ij + 1);
//         n(i) = argmin_{j ≠ true(i)} u_ij — the true pair is excluded: it is the one match an
//         attack must not pull toward, yet on a clean image the model may believe it least;
//         loss = mean_i −log softmax_j(protected_ij / s)[n(i)].
// Naive:  loss = mean_i protected[i, true(i)].
// Code:   see uaeo_loss.cpp (logits at 1/0.07, clean/noisy split, 10 : 1 or inverse-loss weights).
//
// Throws InputError on mismatched shapes, a true_index that is not [K] int64 in [0, J), J < 2,
// or s outside (0, 1).
UaeoResult uaeo_loss(const at::Tensor& clean_sim, const at::Tensor& protected_sim, const at::Tensor& true_index,
                     const UaeoOptions& o);

}  // namespace psic
