#include "nn/conv.h"

#include <cmath>

#include "errors.h"

namespace psic {

namespace {
at::Tensor uniform_init(std::vector<int64_t> shape, int64_t fan_in) {
  // Kaiming-uniform bound of torch's default conv init (a = sqrt(5)): 1/sqrt(fan_in).
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return at::empty(shape, at::kFloat).uniform_(-bound, bound);
}

at::Tensor maybe_channels_last(const at::Tensor& x, const ForwardOptions& options) {
  return options.channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}
}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride_)
    : stride(stride_), padding(kernel_size / 2) {
  const int64_t fan_in = in_channels * kernel_size * kernel_size;
  weight = uniform_init({out_channels, in_channels, kernel_size, kernel_size}, fan_in);
  bias = uniform_init({out_channels}, fan_in);
}

at::Tensor Conv2d::forward(const at::Tensor& x, const ForwardOptions& options) const {
  return at::conv2d(maybe_channels_last(x, options), weight, bias, {stride, stride}, {padding, padding});
}

void Conv2d::visit_state(const std::string& prefix, const StateVisitor& visit) {
  visit(join_name(prefix, "weight"), weight, StateKind::Parameter);
  visit(join_name(prefix, "bias"), bias, StateKind::Parameter);
}

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride_)
    : stride(stride_), padding(kernel_size / 2), output_padding(stride_ - 1) {
  // torch computes fan_in of a transposed weight [in, out, k, k] from dim 1.
  const int64_t fan_in = out_channels * kernel_size * kernel_size;
  weight = uniform_init({in_channels, out_channels, kernel_size, kernel_size}, fan_in);
  bias = uniform_init({out_channels}, fan_in);
}

at::Tensor ConvTranspose2d::forward_transposed(const at::Tensor& x) const {
  return at::conv_transpose2d(x, weight, bias, {stride, stride}, {padding, padding},
                              {output_padding, output_padding});
}

at::Tensor ConvTranspose2d::forward_subpixel(const at::Tensor& x) const {
  if (!phase_weights_[0][0].defined()) throw Error("ConvTranspose2d: prepare_inference() was not called");
  const int64_t H = x.size(2), W = x.size(3);
  const at::Tensor padded = at::constant_pad_nd(x, {1, 1, 1, 1}, 0);
  at::Tensor out = at::empty({x.size(0), weight.size(1), 2 * H, 2 * W}, x.options());
  at::Tensor phases = out.view({x.size(0), weight.size(1), H, 2, W, 2});
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      // Phase 0 reads input offsets -1..1, phase 1 offsets 0..1.
      const at::Tensor in = padded.slice(2, a, H + 2).slice(3, b, W + 2);
      phases.select(3, a).select(4, b).copy_(at::conv2d(in, phase_weights_[a][b], bias));
    }
  return out;
}

at::Tensor ConvTranspose2d::forward(const at::Tensor& x, const ForwardOptions& options) const {
  // Measured on a 2-core AVX-512 CPU (768x512 Kodak, N=128): the sub-pixel form is 3-4x faster
  // than oneDNN's ConvTranspose2d for the N->N layers, but slower for the 3-channel output layer.
  const bool rewritable = phase_weights_[0][0].defined() && weight.size(1) >= 16;
  if (options.subpixel_deconv && rewritable && !at::GradMode::is_enabled()) return forward_subpixel(x);
  return forward_transposed(x);
}

void ConvTranspose2d::visit_state(const std::string& prefix, const StateVisitor& visit) {
  visit(join_name(prefix, "weight"), weight, StateKind::Parameter);
  visit(join_name(prefix, "bias"), bias, StateKind::Parameter);
}

void ConvTranspose2d::prepare_inference() {
  if (weight.size(2) != 5 || weight.size(3) != 5 || stride != 2 || padding != 2 || output_padding != 1) return;
  at::NoGradGuard no_grad;
  const at::Tensor by_phase =
      subpixel_weight_from_transposed(weight.detach()).view({weight.size(1), 2, 2, weight.size(0), 3, 3});
  // Phase 1 has no tap at input offset -1: drop that zero row / column.
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      phase_weights_[a][b] = by_phase.select(1, a).select(1, b).slice(2, a, 3).slice(3, b, 3).contiguous();
}

at::Tensor subpixel_weight_from_transposed(const at::Tensor& w) {
  // Output row Y = 2m + a takes input row m + d through kernel row ky = a + 2 - 2d
  // (padding 2): phase a = 0 uses ky = 4, 2, 0 for d = -1, 0, 1; phase a = 1 uses ky = 3, 1
  // for d = 0, 1 and nothing for d = -1. Columns likewise.
  const int64_t in = w.size(0), out = w.size(1);
  at::Tensor k = at::zeros({out, 2, 2, in, 3, 3}, w.options());
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int ky = a + 2 - 2 * dy, kx = b + 2 - 2 * dx;
          if (ky < 0 || ky > 4 || kx < 0 || kx > 4) continue;
          // w[:, :, ky, kx] is [in, out]; the conv wants [out, in].
          k.select(1, a).select(1, b).select(2, dy + 1).select(2, dx + 1).copy_(w.select(2, ky).select(2, kx).t());
        }
  // pixel_shuffle reads channel c*4 + a*2 + b into out[c, 2m+a, 2n+b].
  return k.reshape({out * 4, in, 3, 3}).contiguous();
}

}  // namespace psic
