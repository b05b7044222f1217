// LibTorch intra-op threads. With the OpenMP backend the thread count is a per-thread setting
// (each Node worker thread starts with the OpenMP default), so every entry point scopes it.
#pragma once

namespace psic {

// The process-wide count used by every library call (PSIC_THREADS in the SDK).
void set_intra_op_threads(int threads);
int intra_op_threads();

// Sets the calling thread's intra-op thread count for a scope, then restores it.
class ScopedIntraOpThreads {
 public:
  explicit ScopedIntraOpThreads(int threads);
  ~ScopedIntraOpThreads();
  ScopedIntraOpThreads(const ScopedIntraOpThreads&) = delete;
  ScopedIntraOpThreads& operator=(const ScopedIntraOpThreads&) = delete;

 private:
  int previous_;
};

}  // namespace psic
