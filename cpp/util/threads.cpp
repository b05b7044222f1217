#include "util/threads.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <thread>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace psic {

namespace {
std::atomic<int> g_threads{0};

void set_calling_thread(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  at::set_num_threads(threads);
#endif
}

int calling_thread() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return at::get_num_threads();
#endif
}
}  // namespace

void set_intra_op_threads(int threads) {
  if (threads < 1) threads = 1;
  g_threads.store(threads);
  at::set_num_threads(threads);
}

int intra_op_threads() {
  const int t = g_threads.load();
  if (t > 0) return t;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

ScopedIntraOpThreads::ScopedIntraOpThreads(int threads) : previous_(calling_thread()) {
  set_calling_thread(threads < 1 ? 1 : threads);
}

ScopedIntraOpThreads::~ScopedIntraOpThreads() { set_calling_thread(previous_); }

}  // namespace psic
