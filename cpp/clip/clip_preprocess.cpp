#include "clip/clip_preprocess.h"

#include <cmath>

#include "errors.h"

namespace psic {

namespace {

constexpr float kMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr float kStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};
constexpr int kPrecisionBits = 32 - 8 - 2;  // PIL's fixed point for 8-bit images

double bicubic(double x) {
  const double a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

struct Taps {
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;  // fixed point, ksize per output
  int64_t ksize = 0;
};

// PIL's precompute_coeffs + normalize_coeffs_8bpc.
Taps taps(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  Taps t;
  t.ksize = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.weights.assign(static_cast<size_t>(out_size * t.ksize), 0);
  std::vector<double> k(static_cast<size_t>(t.ksize));
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int64_t xmin = static_cast<int64_t>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int64_t xmax = static_cast<int64_t>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0;
    for (int64_t x = 0; x < xmax; ++x) {
      k[x] = bicubic((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int64_t x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      t.weights[xx * t.ksize + x] =
          static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    t.first.push_back(xmin);
    t.count.push_back(xmax);
  }
  return t;
}

uint8_t clip8(int64_t v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

}  // namespace

namespace {
// One separable pass along an axis of an 8-bit RGB image: `lines` lines of `in_len` pixels, the
// pixel i of line l at (l * line_stride + i * pixel_stride) * 3 in both images.
std::vector<uint8_t> resample_axis(const std::vector<uint8_t>& src, int64_t lines, int64_t in_len, int64_t out_len,
                                   int64_t in_line_stride, int64_t in_pixel_stride, int64_t out_line_stride,
                                   int64_t out_pixel_stride) {
  const Taps t = taps(in_len, out_len);
  std::vector<uint8_t> out(static_cast<size_t>(lines * out_len * 3));
  for (int64_t l = 0; l < lines; ++l)
    for (int64_t x = 0; x < out_len; ++x)
      for (int c = 0; c < 3; ++c) {
        int64_t ss = int64_t(1) << (kPrecisionBits - 1);
        for (int64_t i = 0; i < t.count[x]; ++i)
          ss += int64_t(src[(l * in_line_stride + (t.first[x] + i) * in_pixel_stride) * 3 + c]) * t.weights[x * t.ksize + i];
        out[(l * out_line_stride + x * out_pixel_stride) * 3 + c] = clip8(ss);
      }
  return out;
}
}  // namespace

std::vector<uint8_t> pil_bicubic_resize(const uint8_t* rgb, int64_t w, int64_t h, int64_t ow, int64_t oh) {
  if (w <= 0 || h <= 0 || ow <= 0 || oh <= 0) throw InputError("resize: sizes must be positive");
  // Horizontal pass (to 8 bits), then vertical, as PIL does; a pass is skipped when that size is unchanged.
  std::vector<uint8_t> img(rgb, rgb + w * h * 3);
  if (ow != w) img = resample_axis(img, h, w, ow, /*in line*/ w, 1, /*out line*/ ow, 1);
  if (oh != h) img = resample_axis(img, ow, h, oh, /*in line*/ 1, ow, /*out line*/ 1, ow);
  return img;
}

std::vector<uint8_t> clip_resize_crop(const uint8_t* rgb, int64_t w, int64_t h, int64_t r) {
  // torchvision Resize(r): the short side becomes r, the long one int(r * long / short).
  const int64_t ow = w <= h ? r : static_cast<int64_t>(static_cast<double>(r) * w / h);
  const int64_t oh = w <= h ? static_cast<int64_t>(static_cast<double>(r) * h / w) : r;
  const std::vector<uint8_t> resized = pil_bicubic_resize(rgb, w, h, ow, oh);
  // CenterCrop(r): offsets int(round((size - r) / 2)), Python rounding (half to even).
  const int64_t top = static_cast<int64_t>(std::nearbyint((oh - r) / 2.0));
  const int64_t left = static_cast<int64_t>(std::nearbyint((ow - r) / 2.0));
  std::vector<uint8_t> chw(static_cast<size_t>(3 * r * r));
  for (int c = 0; c < 3; ++c)
    for (int64_t y = 0; y < r; ++y)
      for (int64_t x = 0; x < r; ++x) chw[(c * r + y) * r + x] = resized[((y + top) * ow + x + left) * 3 + c];
  return chw;
}

at::Tensor clip_preprocess_image(const uint8_t* rgb, int64_t w, int64_t h, int64_t r) {
  std::vector<uint8_t> chw = clip_resize_crop(rgb, w, h, r);
  at::Tensor x = at::from_blob(chw.data(), {3, r, r}, at::kByte).to(at::kFloat).div(255);
  const at::Tensor mean = at::tensor(std::vector<float>(kMean, kMean + 3)).view({3, 1, 1});
  const at::Tensor std = at::tensor(std::vector<float>(kStd, kStd + 3)).view({3, 1, 1});
  return (x - mean) / std;
}

at::Tensor clip_preprocess_tensor(const at::Tensor& x, int64_t r) {
  if (x.dim() != 4 || x.size(1) != 3) throw InputError("clip_preprocess_tensor: x must be [B, 3, H, W]");
  const at::Tensor resized = at::upsample_bicubic2d(x, {r, r}, /*align_corners=*/false);
  const at::Tensor mean = at::tensor(std::vector<float>(kMean, kMean + 3), x.options()).view({1, 3, 1, 1});
  const at::Tensor std = at::tensor(std::vector<float>(kStd, kStd + 3), x.options()).view({1, 3, 1, 1});
  return (resized - mean) / std;
}

}  // namespace psic
