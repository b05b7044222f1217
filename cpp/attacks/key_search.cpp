#include "attacks/key_search.h"

#include <cmath>
#include <limits>

#include "attacks/target_agreement.h"
#include "errors.h"
#include "training/adam.h"

namespace psic {

KeySearchResult key_search(const CompressionModel& model, const std::vector<KeySearchItem>& items,
                           const std::vector<AttackTarget>& targets, const KeySearchOptions& o) {
  const int64_t d = model.condition_dim();
  if (d == 0) throw InputError("this model has a single decode: there is no condition to search");
  if (items.empty()) throw InputError("key search needs at least one bitstream");
  if (o.steps < 1 || o.steps > 1000000 || o.restarts < 1 || o.restarts > 1000 || !(o.lr > 0) || o.trace_every < 1)
    throw InputError("key search needs steps ≥ 1, restarts ≥ 1, lr > 0 and trace_every ≥ 1");
  if (o.objective == KeySearchObjective::Target && targets.empty()) throw InputError("the target objective needs target models");
  std::vector<std::vector<TargetOutputs>> clean;
  for (const KeySearchItem& it : items) {
    if (it.y_hat.dim() != 4 || it.y_hat.size(0) != 1 || it.y_hat.size(1) != model.config.M || it.clean.dim() != 4 ||
        it.clean.size(0) != 1 || it.clean.size(1) != 3)
      throw InputError("each key-search item needs y_hat [1, M, h, w] and a clean image [1, 3, H, W]");
    if (o.objective == KeySearchObjective::Target) clean.push_back(clean_readings(targets, it.clean));
  }
  const ForwardOptions synthesis;  // the training op sequence: differentiable everywhere

  // One item's loss for condition c [1, d]: decoded, cropped to the original, compared.
  auto item_loss = [&](size_t i, const at::Tensor& c) {
    const KeySearchItem& it = items[i];
    const at::Tensor x = model.synthesize(it.y_hat, c, synthesis).clamp(0, 1)
                             .narrow(2, it.padding.top, it.clean.size(2))
                             .narrow(3, it.padding.left, it.clean.size(3));
    if (o.objective == KeySearchObjective::Pixels) return (x - it.clean).pow(2).mean();
    return -target_agreement(targets, clean[i], x);
  };
  auto condition_of = [&](const at::Tensor& u) { return o.bounded ? at::tanh(u) : u; };

  at::manual_seed(o.seed);
  KeySearchResult result;
  result.objective = std::numeric_limits<double>::infinity();
  const double n = static_cast<double>(items.size());
  for (int r = 0; r < o.restarts; ++r) {
    // A random key's condition: uniform in (−1, 1)^d, like HKDF's.
    const at::Tensor start = at::rand({1, d}) * 1.9 - 0.95;
    at::Tensor u = (o.bounded ? at::atanh(start) : start).requires_grad_(true);
    Adam adam({u}, o.lr);
    std::vector<double> trace;
    for (int s = 0; s <= o.steps; ++s) {
      adam.zero_grad();
      double loss = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        const at::Tensor l = item_loss(i, condition_of(u)) / n;
        if (s < o.steps) l.backward();  // the last pass only scores the final condition
        loss += l.item<double>();
      }
      if (loss < result.objective) {
        result.objective = loss;
        result.condition = condition_of(u).detach().view({d}).clone();
      }
      if (s % o.trace_every == 0 || s == o.steps) trace.push_back(loss);
      if (s < o.steps) adam.step();
    }
    result.traces.push_back(std::move(trace));
  }
  return result;
}

}  // namespace psic
