#include "util/blas_core_type.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace psic {

std::string preferred_openblas_core_type() {
  if (const char* forced = std::getenv("PSIC_OPENBLAS_CORETYPE")) return forced;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    const std::string flags = line + " ";
    auto has = [&](const char* f) { return flags.find(std::string(" ") + f + " ") != std::string::npos; };
    const bool avx512 = has("avx512f") && has("avx512bw") && has("avx512dq") && has("avx512vl");
    if (avx512 && has("avx512_bf16")) return "Cooperlake";
    if (avx512) return "SkylakeX";
    if (has("avx2") && has("fma")) return "Haswell";
    return "";
  }
  return "";
}

void pin_openblas_core_type_and_reexec(char** argv) {
  const std::string wanted = preferred_openblas_core_type();
  const char* current = std::getenv("OPENBLAS_CORETYPE");
  if (wanted.empty() || (current && wanted == current)) return;
  ::setenv("OPENBLAS_CORETYPE", wanted.c_str(), 1);
  ::execv("/proc/self/exe", argv);
}

}  // namespace psic
