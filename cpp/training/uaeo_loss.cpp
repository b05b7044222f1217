#include "training/uaeo_loss.h"

#include <limits>
#include <string>

#include "errors.h"

namespace psic {

namespace {

void check_inputs(const at::Tensor& clean_sim, const at::Tensor& protected_sim, const at::Tensor& true_index,
                  const UaeoOptions& o) {
  auto is_matrix = [](const at::Tensor& t) { return t.defined() && t.dim() == 2 && at::isFloatingType(t.scalar_type()); };
  if (!is_matrix(clean_sim) || !is_matrix(protected_sim))
    throw InputError("uaeo_loss: clean_sim and protected_sim must be 2-D floating tensors [K, J]");
  if (clean_sim.sizes() != protected_sim.sizes())
    throw InputError("uaeo_loss: clean_sim and protected_sim must have the same shape [K, J]");
  const int64_t K = clean_sim.size(0), J = clean_sim.size(1);
  if (K < 1 || J < 2) throw InputError("uaeo_loss: needs K >= 1 rows and J >= 2 candidates (a wrong match to pull toward)");
  if (!true_index.defined() || true_index.dim() != 1 || true_index.size(0) != K || true_index.scalar_type() != at::kLong)
    throw InputError("uaeo_loss: true_index must be an int64 tensor [K] with K = " + std::to_string(K));
  if (clean_sim.device() != protected_sim.device() || true_index.device() != clean_sim.device())
    throw InputError("uaeo_loss: all inputs must be on one device");
  if (true_index.min().item<int64_t>() < 0 || true_index.max().item<int64_t>() >= J)
    throw InputError("uaeo_loss: true_index values must be in [0, " + std::to_string(J) + ")");
  if (!(o.s > 0 && o.s < 1)) throw InputError("uaeo_loss: the temperature s must be in (0, 1)");
}

// K images with their own K texts: only then does column j stand for image j's text.
bool is_paired(const at::Tensor& true_index, int64_t J) {
  const int64_t K = true_index.size(0);
  return J == K && true_index.equal(at::arange(K, true_index.options()));
}

// Row i's entry at column index(i), as [K].
at::Tensor pick(const at::Tensor& m, const at::Tensor& index) { return m.gather(1, index.unsqueeze(1)).squeeze(1); }

// Mean of term over the rows in mask, 0 when there are none (and no gradient from other rows).
at::Tensor masked_mean(const at::Tensor& term, const at::Tensor& mask, int64_t count) {
  if (count == 0) return at::zeros({}, term.options());
  return at::where(mask, term, at::zeros_like(term)).sum() / static_cast<double>(count);
}

UaeoResult paper_loss(const at::Tensor& clean, const at::Tensor& prot, const at::Tensor& truth, double s, bool paired) {
  const at::Tensor e = (clean / s).tanh().exp();                           // eq 5: evidence
  const at::Tensor eb = paired ? e + e.t() : e;                            // eq 6: both directions
  const at::Tensor u = eb / (eb + 1).sum(1, /*keepdim=*/true);             // eq 7: belief
  const at::Tensor wrong_only = u.scatter(1, truth.unsqueeze(1), std::numeric_limits<double>::infinity());
  const at::Tensor n = wrong_only.argmin(1);                               // eq 8: least-believed wrong match
  const at::Tensor nll = -pick(at::log_softmax(prot / s, 1), n);           // eq 9
  return {nll.mean(), n, at::Tensor()};
}

// The authors' training code (loss/prediction.py, utils/training.py), step by step:
//   L = clean · (1/0.07) (CLIP's initial logit scale); raw = ½(L + Lᵀ) (paired) or L;
//   e = exp(tanh(raw) / s); E = (e + eᵀ) (paired) or e, row-normalised;
//   clean row: argmax_j E_ij == true(i); its term is protected[i, true(i)] (minimised);
//   noisy row: image→text InfoNCE toward a(i) = argmin_j (e_ij + 1), i.e. −log softmax over row i
//   of protected / s at a(i), averaged (paired only) with text→image InfoNCE toward
//   b(i) = argmin_j (e_ji + 1), −log softmax over column i of protected / s at image b(i).
//   The code does not exclude the true match from these argmins; neither do we.
//   (One difference, by choice: the authors' info_nce scales its logits by 1/0.07 — its
//   temperature argument is unused — where we divide by s, the paper's temperature.)
//   Stage 1: loss = 10 · mean_clean + mean_noisy. Stage 2 (code_stage2_weighting):
//   loss = w_c · mean_clean + w_n · mean_noisy (the clean term without the 10, as the code),
//   w_k = (1/(L_k + 1e-8)) / Σ_m (1/(L_m + 1e-8)) over the groups present, used as constants.
//   A group with no rows contributes 0. The clean term is a cosine and may be ≤ 0, where the
//   inverse-loss weights are ill-defined: the authors' code has the same property.
UaeoResult code_loss(const at::Tensor& clean, const at::Tensor& prot, const at::Tensor& truth, double s, bool paired,
                     bool stage2_weighting) {
  const at::Tensor L = clean * (1.0 / 0.07);
  const at::Tensor raw = paired ? 0.5 * (L + L.t()) : L;
  const at::Tensor e = (raw.tanh() / s).exp();
  at::Tensor E = paired ? e + e.t() : e;
  E = E / E.sum(1, /*keepdim=*/true);
  const at::Tensor is_clean = E.argmax(1).eq(truth);
  const at::Tensor is_noisy = is_clean.logical_not();

  const at::Tensor clean_term = pick(prot, truth);
  const at::Tensor i2t_target = (e + 1).argmin(1);
  at::Tensor noisy_term = -pick(at::log_softmax(prot / s, 1), i2t_target);
  if (paired) {
    const at::Tensor t2i_target = (e.t() + 1).argmin(1);
    // Column i of protected_sim is text i against every image; transposing makes it row i.
    const at::Tensor t2i = -pick(at::log_softmax(prot / s, 0).t(), t2i_target);
    noisy_term = 0.5 * (noisy_term + t2i);
  }

  const int64_t n_clean = is_clean.sum().item<int64_t>();
  const int64_t n_noisy = is_clean.size(0) - n_clean;
  const at::Tensor clean_loss = masked_mean(clean_term, is_clean, n_clean);
  const at::Tensor noisy_loss = masked_mean(noisy_term, is_noisy, n_noisy);

  at::Tensor loss;
  if (!stage2_weighting) {
    loss = 10.0 * clean_loss + noisy_loss;
  } else {
    const at::Tensor zero = at::zeros({}, clean_loss.options());
    const at::Tensor inv_c = n_clean > 0 ? 1.0 / (clean_loss.detach() + 1e-8) : zero;
    const at::Tensor inv_n = n_noisy > 0 ? 1.0 / (noisy_loss.detach() + 1e-8) : zero;
    const at::Tensor total = inv_c + inv_n;
    loss = (inv_c / total) * clean_loss + (inv_n / total) * noisy_loss;
  }
  const at::Tensor target = at::where(is_clean, at::full_like(i2t_target, -1), i2t_target);
  return {loss, target, is_clean};
}

}  // namespace

UaeoResult uaeo_loss(const at::Tensor& clean_sim, const at::Tensor& protected_sim, const at::Tensor& true_index,
                     const UaeoOptions& o) {
  check_inputs(clean_sim, protected_sim, true_index, o);
  // The evidence is a fixed property of the clean image: no gradient into the target model's
  // clean forward pass.
  const at::Tensor clean = clean_sim.detach();
  const bool paired = is_paired(true_index, clean_sim.size(1));
  switch (o.variant) {
    case UaeoVariant::Paper:
      return paper_loss(clean, protected_sim, true_index, o.s, paired);
    case UaeoVariant::Code:
      return code_loss(clean, protected_sim, true_index, o.s, paired, o.code_stage2_weighting);
    case UaeoVariant::Naive:
      return {pick(protected_sim, true_index).mean(), at::full_like(true_index, -1), at::Tensor()};
  }
  throw InputError("uaeo_loss: unknown variant");
}

}  // namespace psic
