#include "entropy/rans.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "errors.h"

namespace psic {

namespace {

constexpr uint64_t kRansL = 1ull << 31;  // lower bound of the normalized state
constexpr uint32_t kMaxBypass = (1u << kRansBypassPrecision) - 1;
constexpr uint32_t kMask = (1u << kRansPrecision) - 1;

// Encoder output grows backwards; we append in emission order and reverse once at the end.
struct Rans64Encoder {
  uint64_t x = kRansL;
  std::vector<uint32_t> words;

  void put(uint32_t start, uint32_t freq) {
    const uint64_t x_max = ((kRansL >> kRansPrecision) << 32) * freq;
    if (x >= x_max) {
      words.push_back(static_cast<uint32_t>(x));
      x >>= 32;
    }
    x = ((x / freq) << kRansPrecision) + (x % freq) + start;
  }
  void put_bits(uint32_t value, uint32_t nbits) {
    const uint64_t freq = 1ull << (kRansPrecision - nbits);
    const uint64_t x_max = ((kRansL >> kRansPrecision) << 32) * freq;  // 2^59 for 4 bits
    if (x >= x_max) {
      words.push_back(static_cast<uint32_t>(x));
      x >>= 32;
    }
    x = (x << nbits) | value;
  }
  std::vector<uint8_t> finish() {
    // Flush writes the state as two words, low first, in front of everything else.
    words.push_back(static_cast<uint32_t>(x >> 32));
    words.push_back(static_cast<uint32_t>(x));
    std::reverse(words.begin(), words.end());
    std::vector<uint8_t> bytes(words.size() * 4);
    for (size_t i = 0; i < words.size(); ++i) {
      const uint32_t w = words[i];
      bytes[4 * i] = static_cast<uint8_t>(w);
      bytes[4 * i + 1] = static_cast<uint8_t>(w >> 8);
      bytes[4 * i + 2] = static_cast<uint8_t>(w >> 16);
      bytes[4 * i + 3] = static_cast<uint8_t>(w >> 24);
    }
    return bytes;
  }
};

struct Rans64Decoder {
  uint64_t x = 0;
  const uint8_t* data;
  size_t size;
  size_t pos = 0;

  Rans64Decoder(const uint8_t* d, size_t n) : data(d), size(n) {
    if (size % 4 != 0) throw FormatError("rANS stream length " + std::to_string(size) + " is not a multiple of 4");
    if (size < 8) throw FormatError("rANS stream is truncated (" + std::to_string(size) + " bytes)");
    x = read_word();
    x |= static_cast<uint64_t>(read_word()) << 32;
  }
  uint32_t read_word() {
    if (pos + 4 > size) throw FormatError("rANS stream is truncated");
    uint32_t w;
    std::memcpy(&w, data + pos, 4);  // little-endian hosts only (x86, ARM)
    pos += 4;
    return w;
  }
  uint32_t peek() const { return static_cast<uint32_t>(x & kMask); }
  void advance(uint32_t start, uint32_t freq) {
    x = freq * (x >> kRansPrecision) + (x & kMask) - start;
    if (x < kRansL) x = (x << 32) | read_word();
  }
  uint32_t get_bits(uint32_t nbits) {
    const uint32_t value = static_cast<uint32_t>(x & ((1u << nbits) - 1));
    x >>= nbits;
    if (x < kRansL) x = (x << 32) | read_word();
    return value;
  }
};

}  // namespace

void validate_cdf_table(const CdfTable& t) {
  if (t.rows <= 0 || t.stride < 3) throw WeightsError("CDF table is empty");
  for (int64_t r = 0; r < t.rows; ++r) {
    const int32_t len = t.lengths[r];
    if (len < 3 || len > t.stride)
      throw WeightsError("CDF row " + std::to_string(r) + " has invalid length " + std::to_string(len));
    const int32_t* cdf = t.cdfs + r * t.stride;
    if (cdf[0] != 0 || cdf[len - 1] != (1 << kRansPrecision))
      throw WeightsError("CDF row " + std::to_string(r) + " does not span [0, 65536]");
    for (int32_t i = 0; i + 1 < len; ++i)
      if (cdf[i + 1] <= cdf[i]) throw WeightsError("CDF row " + std::to_string(r) + " is not strictly increasing");
  }
}

std::vector<uint8_t> rans_encode(const int32_t* symbols, const int32_t* indexes, size_t count, const CdfTable& t) {
  Rans64Encoder enc;
  enc.words.reserve(count / 2 + 16);
  // rANS is LIFO: encode backwards so that the decoder runs forwards. Within one symbol the
  // sub-symbols (CDF slot, bypass count, bypass nibbles) are pushed in reverse as well.
  for (size_t k = count; k-- > 0;) {
    const int32_t idx = indexes[k];
    if (idx < 0 || idx >= t.rows) throw InputError("rANS: CDF index " + std::to_string(idx) + " out of range");
    const int32_t* cdf = t.cdfs + idx * t.stride;
    const int32_t max_value = t.lengths[idx] - 2;
    const int64_t value = static_cast<int64_t>(symbols[k]) - t.offsets[idx];
    if (value >= 0 && value < max_value) {
      enc.put(static_cast<uint32_t>(cdf[value]), static_cast<uint32_t>(cdf[value + 1] - cdf[value]));
      continue;
    }
    const uint64_t raw = value < 0 ? static_cast<uint64_t>(-2 * value - 1) : static_cast<uint64_t>(2 * (value - max_value));
    if (raw > 0xFFFFFFFFull) throw InputError("rANS: symbol " + std::to_string(symbols[k]) + " is too far outside its CDF");
    uint32_t n_bypass = 0;
    while ((raw >> (n_bypass * kRansBypassPrecision)) != 0) ++n_bypass;
    for (uint32_t j = n_bypass; j-- > 0;)
      enc.put_bits(static_cast<uint32_t>((raw >> (j * kRansBypassPrecision)) & kMaxBypass), kRansBypassPrecision);
    // The count: runs of 15 while >= 15, then the remainder (pushed in reverse).
    enc.put_bits(n_bypass % kMaxBypass, kRansBypassPrecision);
    for (uint32_t j = 0; j < n_bypass / kMaxBypass; ++j) enc.put_bits(kMaxBypass, kRansBypassPrecision);
    enc.put(static_cast<uint32_t>(cdf[max_value]), static_cast<uint32_t>(cdf[max_value + 1] - cdf[max_value]));
  }
  return enc.finish();
}

void rans_decode(const uint8_t* data, size_t size, const int32_t* indexes, size_t count, const CdfTable& t,
                 int32_t* out) {
  Rans64Decoder dec(data, size);
  for (size_t k = 0; k < count; ++k) {
    const int32_t idx = indexes[k];
    if (idx < 0 || idx >= t.rows) throw InputError("rANS: CDF index " + std::to_string(idx) + " out of range");
    const int32_t* cdf = t.cdfs + idx * t.stride;
    const int32_t len = t.lengths[idx];
    const int32_t max_value = len - 2;
    const uint32_t cum = dec.peek();
    // s = (first entry greater than cum) - 1, by binary search over the strictly increasing
    // row (Gaussian rows reach 3133 entries); cdf[len - 1] = 65536 > cum bounds it.
    const int32_t* first_greater = std::upper_bound(cdf + 1, cdf + len - 1, static_cast<int32_t>(cum));
    const int32_t s = static_cast<int32_t>(first_greater - cdf) - 1;
    dec.advance(static_cast<uint32_t>(cdf[s]), static_cast<uint32_t>(cdf[s + 1] - cdf[s]));
    int64_t value = s;
    if (s == max_value) {
      uint32_t nibble = dec.get_bits(kRansBypassPrecision);
      uint32_t n_bypass = nibble;
      while (nibble == kMaxBypass) {
        nibble = dec.get_bits(kRansBypassPrecision);
        n_bypass += nibble;
        if (n_bypass > 8) break;
      }
      if (n_bypass > 8) throw FormatError("rANS stream is corrupted (bypass length " + std::to_string(n_bypass) + ")");
      uint64_t raw = 0;
      for (uint32_t j = 0; j < n_bypass; ++j)
        raw |= static_cast<uint64_t>(dec.get_bits(kRansBypassPrecision)) << (j * kRansBypassPrecision);
      value = static_cast<int64_t>(raw >> 1);
      value = (raw & 1) ? -value - 1 : value + max_value;
    }
    const int64_t symbol = value + t.offsets[idx];
    if (symbol < INT32_MIN || symbol > INT32_MAX) throw FormatError("rANS stream is corrupted (symbol out of range)");
    out[k] = static_cast<int32_t>(symbol);
  }
  if (dec.x != kRansL || dec.pos != size) throw FormatError("rANS stream is corrupted (does not end where it should)");
}

}  // namespace psic
