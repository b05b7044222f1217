// A seeded smooth RGB image with some texture, for checks and benchmarks: what a codec sees,
// unlike uniform noise (which no learned codec compresses like a photo).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace psic_test {

inline std::vector<uint8_t> synthetic_image(int64_t w, int64_t h, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> rgb(static_cast<size_t>(w * h * 3));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t c = 0; c < 3; ++c) {
        const double v = 128 + 90 * std::sin(0.03 * x * (c + 1) + 0.02 * y) + static_cast<double>(rng() % 21) - 10;
        rgb[static_cast<size_t>((y * w + x) * 3 + c)] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
  return rgb;
}

}  // namespace psic_test
