#include "targets/tf_image.h"

#include <vector>

namespace psic {

namespace {

// Linear interpolation along `dim` at fractional source coordinates `src` [out]. With
// zero_outside, coordinates outside [0, in − 1] give 0 (crop_and_resize's extrapolation value);
// otherwise they take the edge pixel (resize's clamping).
at::Tensor lerp_axis(const at::Tensor& x, int64_t dim, const at::Tensor& src, bool zero_outside) {
  const int64_t in = x.size(dim);
  const at::Tensor s = src.clamp(0, in - 1);
  const at::Tensor lo = at::floor(s).to(at::kLong).clamp_max(in - 1);
  const at::Tensor hi = (lo + 1).clamp_max(in - 1);
  std::vector<int64_t> shape(x.dim(), 1);
  shape[dim] = src.size(0);
  const at::Tensor frac = (s - lo.to(at::kFloat)).view(shape).to(x.scalar_type());
  const at::Tensor a = x.index_select(dim, lo), b = x.index_select(dim, hi);
  const at::Tensor y = a + (b - a) * frac;
  if (!zero_outside) return y;
  return y * ((src >= 0) & (src <= in - 1)).view(shape).to(x.scalar_type());
}

}  // namespace

at::Tensor resize_bilinear_legacy(const at::Tensor& nhwc, int64_t out_h, int64_t out_w) {
  auto axis = [](const at::Tensor& x, int64_t dim, int64_t out) {
    return lerp_axis(x, dim, at::arange(out, at::kFloat) * (static_cast<double>(x.size(dim)) / out), false);
  };
  return axis(axis(nhwc, 1, out_h), 2, out_w);
}

at::Tensor crop_and_resize(const at::Tensor& nhwc, double y1, double x1, double y2, double x2, int64_t out_h, int64_t out_w) {
  auto axis = [](const at::Tensor& x, int64_t dim, double from, double to, int64_t out) {
    const double extent = static_cast<double>(x.size(dim) - 1);
    // TF: a 1-pixel output samples the box's centre.
    if (out == 1) return lerp_axis(x, dim, at::full({1}, 0.5 * (from + to) * extent, at::kFloat), true);
    const at::Tensor src = from * extent + at::arange(out, at::kDouble) * ((to - from) * extent / (out - 1));
    return lerp_axis(x, dim, src.to(at::kFloat), true);
  };
  return axis(axis(nhwc, 1, y1, y2, out_h), 2, x1, x2, out_w);
}

}  // namespace psic
