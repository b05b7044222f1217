// rANS coder byte-compatible with CompressAI's (ryg_rans rans64 + its bypass escape):
// 64-bit state, lower bound 2^31, 32-bit output words (little-endian), 16-bit CDF precision.
// A symbol outside its CDF's support codes the escape slot (cdf_length - 2) and then its raw
// value in 4-bit bypass nibbles. Unlike CompressAI, empty or one-symbol streams work, huge
// escapes are rejected instead of hanging, and the decoder checks every read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace psic {

constexpr int kRansPrecision = 16;
constexpr int kRansBypassPrecision = 4;

// A rectangular table of quantized CDFs, row r valid up to lengths[r] entries
// (the last one being 1 << 16), with a symbol offset per row. Not owned.
struct CdfTable {
  const int32_t* cdfs = nullptr;
  int64_t stride = 0;  // entries per row
  const int32_t* lengths = nullptr;
  const int32_t* offsets = nullptr;
  int64_t rows = 0;
};

// Throws psic::WeightsError if a table is not a valid set of 16-bit CDFs (so that the coder
// itself never divides by zero or reads out of a row).
void validate_cdf_table(const CdfTable& table);

// Encodes symbols[i] with CDF row indexes[i]. Throws psic::InputError for an index out of
// range or a symbol whose escape does not fit 32 bits.
std::vector<uint8_t> rans_encode(const int32_t* symbols, const int32_t* indexes, size_t count,
                                 const CdfTable& table);

// Decodes count symbols into out. Throws psic::FormatError on a truncated or corrupted stream
// (every word read is bounds-checked, and a complete stream must end in the initial state).
void rans_decode(const uint8_t* data, size_t size, const int32_t* indexes, size_t count, const CdfTable& table,
                 int32_t* out);

}  // namespace psic
