// tf.image resampling (the human models' preprocessing) by hand, and its gradients against
// finite differences: PSIC training backpropagates through it.
#include <ATen/ATen.h>

#include <cmath>

#include "check.h"
#include "targets/target_model.h"
#include "targets/tf_image.h"

namespace {

// A 1x3x4x1 NHWC ramp: value = 10·y + x.
at::Tensor ramp() {
  return at::tensor({0.f, 1.f, 2.f, 3.f, 10.f, 11.f, 12.f, 13.f, 20.f, 21.f, 22.f, 23.f}).view({1, 3, 4, 1});
}

double max_abs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

PSIC_CHECK_CASE("tf_image: legacy resizeBilinear samples at dst * in / out") {
  // 3x4 -> 2x3: rows at 0 and 1.5, columns at 0, 4/3, 8/3.
  const at::Tensor y = psic::resize_bilinear_legacy(ramp(), 2, 3);
  const at::Tensor want = at::tensor({0.f, 4.f / 3, 8.f / 3, 15.f, 15.f + 4.f / 3, 15.f + 8.f / 3}).view({1, 2, 3, 1});
  EXPECT_MSG(max_abs(y, want) < 1e-5, "error " + std::to_string(max_abs(y, want)));
  // Upsampling past the last source pixel clamps to it: 3x4 -> 3x8 column 7 samples x = 3.5.
  const at::Tensor up = psic::resize_bilinear_legacy(ramp(), 3, 8);
  EXPECT(std::abs(up[0][0][7][0].item<float>() - 3.f) < 1e-6);
}

PSIC_CHECK_CASE("tf_image: cropAndResize spans the box corners, 0 outside the image") {
  // Box [y1, x1, y2, x2] = [0, 0, 1, 1] -> 3x4 is the identity.
  EXPECT(max_abs(psic::crop_and_resize(ramp(), 0, 0, 1, 1, 3, 4), ramp()) < 1e-5);
  // [0.5, 0, 1, 1/3] -> 2x2: rows at 1 and 2, columns at 0 and 1.
  const at::Tensor y = psic::crop_and_resize(ramp(), 0.5, 0, 1, 1.0 / 3, 2, 2);
  EXPECT(max_abs(y, at::tensor({10.f, 11.f, 20.f, 21.f}).view({1, 2, 2, 1})) < 1e-5);
  // A box reaching past the right edge: columns at 0, 3, 6 -> the last is outside -> 0.
  const at::Tensor out = psic::crop_and_resize(ramp(), 0, 0, 0, 2, 1, 3);
  EXPECT(max_abs(out, at::tensor({0.f, 3.f, 0.f}).view({1, 1, 3, 1})) < 1e-5);
}

PSIC_CHECK_CASE("tf_image: gradients match finite differences") {
  at::manual_seed(3);
  const at::Tensor x0 = at::rand({2, 5, 7, 3}, at::kDouble);
  const at::Tensor w = at::rand({2, 4, 3, 3}, at::kDouble);  // a fixed weighting of the output
  auto fns = {+[](const at::Tensor& x) { return psic::resize_bilinear_legacy(x, 4, 3); },
              +[](const at::Tensor& x) { return psic::crop_and_resize(x, 0.1, 0.2, 0.9, 0.7, 4, 3); }};
  for (auto f : fns) {
    at::Tensor x = x0.clone().requires_grad_(true);
    (f(x) * w).sum().backward();
    const at::Tensor g = x.grad();
    double worst = 0;
    const double h = 1e-6;
    at::Tensor flat = x0.clone().flatten();
    for (int64_t i = 0; i < flat.numel(); i += 7) {
      at::Tensor p = flat.clone(), m = flat.clone();
      p[i] += h;
      m[i] -= h;
      const double num = ((f(p.view_as(x0)) * w).sum().item<double>() - (f(m.view_as(x0)) * w).sum().item<double>()) / (2 * h);
      worst = std::max(worst, std::abs(num - g.flatten()[i].item<double>()));
    }
    EXPECT_MSG(worst < 1e-6, "max gradient error " + std::to_string(worst));
  }
}

PSIC_CHECK_CASE("targets: images must be [B, 3, H, W] floats") {
  EXPECT_THROWS_AS(psic::check_target_input(at::zeros({1, 1, 8, 8})), psic::InputError);
  EXPECT_THROWS_AS(psic::check_target_input(at::zeros({3, 8, 8})), psic::InputError);
  EXPECT_THROWS_AS(psic::check_target_input(at::zeros({1, 3, 8, 8}, at::kByte)), psic::InputError);
  psic::check_target_input(at::zeros({2, 3, 5, 9}));
}
