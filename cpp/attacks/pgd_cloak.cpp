#include "attacks/pgd_cloak.h"

#include <cmath>

#include "attacks/target_agreement.h"
#include "errors.h"

namespace psic {

at::Tensor pgd_cloak(const std::vector<AttackTarget>& targets, const at::Tensor& images, const PgdOptions& o) {
  check_target_input(images);
  if (!(o.epsilon >= 0 && o.epsilon <= 1) || !(o.step_size > 0 && o.step_size <= 1) || o.steps < 0 || o.steps > 100000)
    throw InputError("PGD needs epsilon in [0, 1], step_size in (0, 1] and steps in [0, 100000]");
  const at::Tensor x = images.to(at::kFloat).contiguous();
  const std::vector<TargetOutputs> clean = clean_readings(targets, x);
  at::Tensor adv = x.clone();
  if (o.random_start && o.epsilon > 0) {
    at::manual_seed(o.seed);
    adv = (x + (at::rand_like(x) * 2 - 1) * o.epsilon).clamp(0, 1);
  }
  const at::Tensor lo = (x - o.epsilon).clamp_min(0), hi = (x + o.epsilon).clamp_max(1);
  for (int s = 0; s < o.steps; ++s) {
    at::Tensor a = adv.detach().requires_grad_(true);
    target_agreement(targets, clean, a).backward();
    at::NoGradGuard no_grad;
    adv = at::min(at::max(a.detach() - o.step_size * a.grad().sign(), lo), hi);
  }
  return adv.detach();
}

}  // namespace psic
