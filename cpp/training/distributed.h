// Data-parallel training over LibTorch's c10d: one process per rank, rendezvous through a
// TCPStore hosted by rank 0, collectives over Gloo (CPU; Debian's LibTorch ships it) or NCCL
// (a CUDA LibTorch built with it). The c10d headers stay in distributed.cpp, so the rest of the
// library compiles without them.
//
// Every collective is bounded by the timeout: a peer that exits closes its sockets and the
// others fail at once; one that stops answering fails them after the timeout. Either way the
// caller gets a DistributedError, and the group is unusable afterwards.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace psic {

struct DistributedOptions {
  int world_size = 1;
  int rank = 0;
  std::string host = "127.0.0.1";  // rank 0's address: it hosts the rendezvous store
  int port = 29500;
  double timeout_seconds = 60;  // rendezvous and every collective
  std::string backend = "gloo";  // "gloo" (CPU tensors) or "nccl" (CUDA tensors, CUDA builds only)
};

// Whether this build can use the backend ("nccl" only with a CUDA LibTorch that has it).
bool distributed_backend_available(const std::string& backend);

class ProcessGroup {
 public:
  // Joins the group (blocks until every rank has joined or the timeout passes). Throws
  // DistributedError (unreachable master, port in use, a missing rank) or InputError (options).
  explicit ProcessGroup(const DistributedOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  const DistributedOptions& options() const { return options_; }
  // Where collectives run: CUDA for NCCL, the CPU for Gloo (tensors elsewhere are copied).
  at::Device collective_device() const;

  // In place, across ranks. `what` names the operation in error messages.
  void all_reduce_sum(at::Tensor& t, const char* what);
  void all_reduce_max(at::Tensor& t, const char* what);
  // Copies root's tensors into every rank's (same shapes everywhere), as one flat buffer.
  void broadcast(const std::vector<at::Tensor>& tensors, int root, const char* what);
  void barrier(const char* what);

 private:
  void all_reduce(at::Tensor& t, int op, const char* what);
  [[noreturn]] void fail(const char* what, const std::string& cause);

  struct Impl;
  DistributedOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Sums the gradients of `params` across ranks in one flat buffer. A parameter gets a gradient
// when any rank has one (zeros elsewhere) and keeps none when no rank has: Adam moves a
// parameter with a zero gradient but skips one without, as a single process would.
void sum_gradients(ProcessGroup& group, const std::vector<at::Tensor>& params);

// The rows of a batch spread over ranks, put together: `local` [n, ...] holds this rank's rows
// at positions `rows` (int64 [n]) of a [total, ...] batch; every rank gets the whole batch, its
// own rows still carrying their gradient and the others' detached. A loss computed on it on
// every rank has, summed over ranks, the gradient of that loss on one process.
at::Tensor gather_rows(ProcessGroup& group, const at::Tensor& local, const at::Tensor& rows, int64_t total);

// Checks that every rank passed the same values (shapes, step, a config fingerprint), so that
// a mismatched rank fails at once with `what` instead of corrupting the run or hanging.
void expect_same_on_all_ranks(ProcessGroup& group, const std::vector<int64_t>& values, const char* what);

}  // namespace psic
