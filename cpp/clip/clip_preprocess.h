// CLIP's image transforms.
// - Inference (OpenAI's _transform): PIL bicubic resize of the short side (antialiased, a = -0.5,
//   with PIL's 8-bit fixed-point passes: horizontal, then vertical), center crop, /255, normalize.
// - Training: a differentiable tensor op, F.interpolate(bicubic, align_corners=False, no
//   antialias) to the model's resolution, then normalize.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace psic {

// PIL's Image.resize(BICUBIC) of an 8-bit RGB image (HWC).
std::vector<uint8_t> pil_bicubic_resize(const uint8_t* rgb, int64_t width, int64_t height, int64_t out_width,
                                        int64_t out_height);

// _transform(resolution) of an 8-bit RGB image (HWC) -> float [3, R, R], normalized.
at::Tensor clip_preprocess_image(const uint8_t* rgb, int64_t width, int64_t height, int64_t resolution);

// The resized and cropped 8-bit pixels, CHW (the fixture's *.u8.bin), for debugging.
std::vector<uint8_t> clip_resize_crop(const uint8_t* rgb, int64_t width, int64_t height, int64_t resolution);

// Differentiable: x [B, 3, H, W] in [0, 1] -> normalized [B, 3, R, R].
at::Tensor clip_preprocess_tensor(const at::Tensor& x, int64_t resolution);

}  // namespace psic
