// tf.image's resampling, as TensorFlow computes it, on NHWC float tensors; differentiable in the
// image (gathers and lerps). Used inside imported graphs and for the human models' preprocessing.
#pragma once
#include <ATen/ATen.h>

namespace psic {

// tf.image.resizeBilinear(x, [h, w]) with align_corners = half_pixel_centers = false:
// source coordinate = destination * in / out, no half-pixel offset.
at::Tensor resize_bilinear_legacy(const at::Tensor& nhwc, int64_t out_h, int64_t out_w);

// tf.image.cropAndResize(x, [[y1, x1, y2, x2]], [0..B-1], [h, w]) with one normalized box for
// every image: source coordinate = y1·(H−1) + i·(y2−y1)·(H−1)/(h−1); bilinear; points outside
// the image take the extrapolation value 0.
at::Tensor crop_and_resize(const at::Tensor& nhwc, double y1, double x1, double y2, double x2, int64_t out_h, int64_t out_w);

}  // namespace psic
