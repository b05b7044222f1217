// What codec.cpp and codec_sealed.cpp share: clocks and the forward options a codec call runs.
#pragma once
#include <chrono>

#include "codec.h"

namespace psic {

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Measured on a 2-core AVX-512 CPU at 768x512 (benchmarks/): channels-last halves g_a's time at
// 2 threads; for g_s the sub-pixel rewrite is what counts and channels-last adds nothing.
inline ForwardOptions encoder_options(const CodecOptions& o) {
  ForwardOptions f;
  f.channels_last = o.fast;
  return f;
}

inline ForwardOptions decoder_options(const CodecOptions& o) {
  ForwardOptions f;
  f.subpixel_deconv = o.subpixel < 0 ? o.fast : o.subpixel == 1;
  return f;
}

}  // namespace psic
