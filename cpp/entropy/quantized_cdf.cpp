#include "entropy/quantized_cdf.h"

#include <cmath>
#include <string>

#include "errors.h"

namespace psic {

std::vector<int32_t> pmf_to_quantized_cdf(const std::vector<float>& pmf, int precision) {
  for (float p : pmf)
    if (p < 0 || !std::isfinite(p)) throw WeightsError("pmf_to_quantized_cdf: invalid probability " + std::to_string(p));
  const uint32_t one = 1u << precision;
  std::vector<uint32_t> cdf(pmf.size() + 1, 0);
  // Float product and float rounding, as CompressAI (std::round on a float).
  for (size_t i = 0; i < pmf.size(); ++i)
    cdf[i + 1] = static_cast<uint32_t>(std::round(pmf[i] * static_cast<float>(one)));
  uint64_t total = 0;
  for (uint32_t f : cdf) total += f;
  if (total == 0) throw WeightsError("pmf_to_quantized_cdf: all probabilities round to zero");
  for (auto& f : cdf) f = static_cast<uint32_t>((static_cast<uint64_t>(one) * f) / total);
  for (size_t i = 1; i < cdf.size(); ++i) cdf[i] += cdf[i - 1];
  cdf.back() = one;

  const int n = static_cast<int>(cdf.size());
  for (int i = 0; i < n - 1; ++i) {
    if (cdf[i] != cdf[i + 1]) continue;
    // A zero-frequency symbol: steal one count from the smallest frequency above 1.
    uint32_t best_freq = ~0u;
    int best_steal = -1;
    for (int j = 0; j < n - 1; ++j) {
      const uint32_t freq = cdf[j + 1] - cdf[j];
      if (freq > 1 && freq < best_freq) {
        best_freq = freq;
        best_steal = j;
      }
    }
    if (best_steal < 0) throw WeightsError("pmf_to_quantized_cdf: too many symbols for the precision");
    if (best_steal < i) {
      for (int j = best_steal + 1; j <= i; ++j) cdf[j]--;
    } else {
      for (int j = i + 1; j <= best_steal; ++j) cdf[j]++;
    }
  }
  return std::vector<int32_t>(cdf.begin(), cdf.end());
}

}  // namespace psic
