// pmf -> 16-bit quantized CDF, exactly as CompressAI's pmf_to_quantized_cdf (C++ extension):
// round each probability to 1/65536 in float, renormalize in integers, prefix-sum, then make
// every symbol's frequency non-zero by stealing from the smallest frequency above 1.
#pragma once
#include <cstdint>
#include <vector>

namespace psic {

std::vector<int32_t> pmf_to_quantized_cdf(const std::vector<float>& pmf, int precision = 16);

}  // namespace psic
