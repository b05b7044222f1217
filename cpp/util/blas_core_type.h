// OpenBLAS picks its sgemm kernels, and with them the float rounding of every BLAS-backed conv,
// from OPENBLAS_CORETYPE, read once when the library loads. CompressAI's reference fixtures
// were made with OpenBLAS's own detection on an AVX-512-BF16 CPU (the Cooperlake kernels), and
// some environments pin a lesser core type. psic chooses it from the CPU flags so results are
// reproducible: Cooperlake (AVX-512 + BF16), SkylakeX (AVX-512), Haswell (AVX2), or none.
// PSIC_OPENBLAS_CORETYPE overrides. The SDK applies the same rule in src/native.ts.
#pragma once
#include <string>

namespace psic {

// The core type psic wants for this CPU ("" = leave OpenBLAS's own detection).
std::string preferred_openblas_core_type();

// For executables: if OPENBLAS_CORETYPE differs from the preferred one, set it and re-exec
// (OpenBLAS has already initialized by the time main() runs). Returns on failure or no-op.
void pin_openblas_core_type_and_reexec(char** argv);

}  // namespace psic
