#include "training/distributed.h"

#include <chrono>
#include <cstdlib>
#include <sstream>

#include "errors.h"

// PSIC_WITH_C10D: CMake found c10d's Gloo backend (Debian's libgloo-dev, or a LibTorch that
// links Gloo in). Without it the library still builds, and joining a group says why it cannot.
#ifdef PSIC_WITH_C10D
#ifndef USE_C10D_GLOO
#error "this LibTorch was built without c10d's Gloo backend (USE_C10D_GLOO), which distributed training needs"
#endif
#include <c10/util/Exception.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef PSIC_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace psic {

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  bool broken = false;
};

bool distributed_backend_available(const std::string& backend) {
#ifdef PSIC_WITH_NCCL
  if (backend == "nccl") return true;
#endif
  return backend == "gloo";
}

at::Device ProcessGroup::collective_device() const {
  // NCCL reduces CUDA tensors only; Gloo is given CPU tensors (its CUDA paths vary by build).
  return options_.backend == "nccl" ? at::Device(at::kCUDA) : at::Device(at::kCPU);
}

namespace {

std::string message_of(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

std::string seconds(double s) {
  std::ostringstream out;
  out << s << " s";
  return out.str();
}

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

// Gloo binds each rank to one interface: loopback when the master is local (all ranks on this
// machine), GLOO_SOCKET_IFNAME when set (as in PyTorch), else the address of this host's name.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (is_loopback(master)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

ProcessGroup::ProcessGroup(const DistributedOptions& options) : options_(options), impl_(std::make_unique<Impl>()) {
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size)
    throw InputError("distributed: rank must be in [0, world size)");
  if (options_.port < 1 || options_.port > 65535) throw InputError("distributed: the master port must be in [1, 65535]");
  if (!(options_.timeout_seconds > 0)) throw InputError("distributed: the timeout must be positive");
  if (!distributed_backend_available(options_.backend))
    throw InputError("distributed backend '" + options_.backend + "' is not in this build (gloo is; nccl needs a CUDA LibTorch with NCCL)");
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000));
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(options_.port);
    store_options.isServer = options_.rank == 0;
    store_options.numWorkers = static_cast<size_t>(options_.world_size);
    store_options.waitWorkers = true;  // rank 0 returns once every rank has connected
    store_options.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(options_.host, store_options);
  } catch (const std::exception& e) {
    throw DistributedError("distributed: rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.world_size) +
                           " could not meet the others at " + where + " within " + seconds(options_.timeout_seconds) +
                           " (" + (options_.rank == 0 ? "is the port free?" : "is rank 0 running?") + "): " + message_of(e));
  }
  try {
    if (options_.backend == "gloo") {
      auto gloo = c10d::ProcessGroupGloo::Options::create(timeout);
      gloo->devices.push_back(gloo_device(options_.host));
      impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, options_.rank, options_.world_size, gloo);
    } else {
#ifdef PSIC_WITH_NCCL
      auto nccl = c10d::ProcessGroupNCCL::Options::create();
      nccl->timeout = timeout;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, options_.rank, options_.world_size, nccl);
#endif
    }
  } catch (const std::exception& e) {
    throw DistributedError("distributed: rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.world_size) +
                           " could not connect to every other rank (" + options_.backend + ", rendezvous at " + where + ") within " +
                           seconds(options_.timeout_seconds) + "; is every rank running? (" + message_of(e) + ")");
  }
}

ProcessGroup::~ProcessGroup() {
  // A group broken by a dead or stuck peer is leaked on purpose: its destructor joins worker
  // threads and closes connections to peers that may never answer, and a failed run must exit.
  if (impl_->broken) {
    (void)impl_->group.release();
    (void)impl_->store.release();
  }
}

void ProcessGroup::fail(const char* what, const std::string& cause) {
  impl_->broken = true;
  throw DistributedError("distributed: rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.world_size) + ": " +
                         what + " failed; another rank exited or did not answer within " + seconds(options_.timeout_seconds) +
                         " (" + cause + ")");
}

void ProcessGroup::all_reduce(at::Tensor& t, int op, const char* what) {
  if (impl_->broken) throw DistributedError(std::string("distributed: ") + what + ": the process group failed earlier");
  if (options_.world_size == 1) return;
  const bool moved = t.device().type() != collective_device().type();
  std::vector<at::Tensor> tensors = {moved ? t.to(collective_device()) : t};
  try {
    c10d::AllreduceOptions opts;
    opts.reduceOp = static_cast<c10d::ReduceOp::RedOpType>(op);
    impl_->group->allreduce(tensors, opts)->wait();  // bounded by the group's timeout
  } catch (const std::exception& e) {
    fail(what, message_of(e));
  }
  if (moved) t.copy_(tensors[0]);
}

void ProcessGroup::all_reduce_sum(at::Tensor& t, const char* what) { all_reduce(t, c10d::ReduceOp::SUM, what); }
void ProcessGroup::all_reduce_max(at::Tensor& t, const char* what) { all_reduce(t, c10d::ReduceOp::MAX, what); }

void ProcessGroup::broadcast(const std::vector<at::Tensor>& tensors, int root, const char* what) {
  if (impl_->broken) throw DistributedError(std::string("distributed: ") + what + ": the process group failed earlier");
  if (options_.world_size == 1 || tensors.empty()) return;
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.detach().reshape({-1}));
  std::vector<at::Tensor> buffer = {at::cat(flat).to(collective_device())};
  try {
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    impl_->group->broadcast(buffer, opts)->wait();
  } catch (const std::exception& e) {
    fail(what, message_of(e));
  }
  int64_t offset = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.detach().copy_(buffer[0].narrow(0, offset, n).view_as(t));  // copy_ crosses devices
    offset += n;
  }
}

void ProcessGroup::barrier(const char* what) {
  // An all-reduce rather than c10d's barrier: the same timeout and error path as the rest.
  at::Tensor one = at::ones({1}, at::kFloat);
  all_reduce_sum(one, what);
}

}  // namespace psic

#else  // no c10d in this build

namespace psic {

struct ProcessGroup::Impl {};

bool distributed_backend_available(const std::string&) { return false; }

at::Device ProcessGroup::collective_device() const { return at::Device(at::kCPU); }

ProcessGroup::ProcessGroup(const DistributedOptions& options) : options_(options), impl_(std::make_unique<Impl>()) {
  if (options.world_size == 1) return;  // a group of one needs no collectives
  throw DistributedError("distributed training is not in this build: CMake found no c10d Gloo backend (Debian: apt install libgloo-dev, then rebuild)");
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::fail(const char* what, const std::string& cause) { throw DistributedError(std::string(what) + ": " + cause); }

void ProcessGroup::all_reduce(at::Tensor&, int, const char* what) {
  if (options_.world_size != 1) fail(what, "no c10d in this build");
}
void ProcessGroup::all_reduce_sum(at::Tensor& t, const char* what) { all_reduce(t, 0, what); }
void ProcessGroup::all_reduce_max(at::Tensor& t, const char* what) { all_reduce(t, 0, what); }
void ProcessGroup::broadcast(const std::vector<at::Tensor>&, int, const char* what) {
  if (options_.world_size != 1) fail(what, "no c10d in this build");
}
void ProcessGroup::barrier(const char* what) {
  if (options_.world_size != 1) fail(what, "no c10d in this build");
}

}  // namespace psic

#endif  // PSIC_WITH_C10D

namespace psic {

void sum_gradients(ProcessGroup& group, const std::vector<at::Tensor>& params) {
  at::NoGradGuard no_grad;
  if (params.empty()) return;
  const at::TensorOptions options = params[0].options().dtype(at::kFloat).requires_grad(false);  // the model's device
  at::Tensor has = at::zeros({static_cast<int64_t>(params.size())}, at::kFloat);  // 1 where a rank has a gradient
  std::vector<at::Tensor> parts = {at::Tensor()};
  for (size_t i = 0; i < params.size(); ++i) {
    const at::Tensor& g = params[i].grad();
    has[static_cast<int64_t>(i)] = g.defined() ? 1.0f : 0.0f;
    parts.push_back(g.defined() ? g.to(at::kFloat).reshape({-1}) : at::zeros({params[i].numel()}, options));
  }
  parts[0] = has.to(options.device());
  at::Tensor buffer = at::cat(parts);
  group.all_reduce_sum(buffer, "all-reduce of the gradients");
  const at::Tensor any = buffer.narrow(0, 0, static_cast<int64_t>(params.size())).cpu();  // one device sync
  int64_t offset = static_cast<int64_t>(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    at::Tensor p = params[i];
    const int64_t n = p.numel();
    if (any[static_cast<int64_t>(i)].item<float>() > 0)
      p.mutable_grad() = buffer.narrow(0, offset, n).view_as(p).to(p.dtype()).clone();
    else
      p.mutable_grad() = at::Tensor();
    offset += n;
  }
}

at::Tensor gather_rows(ProcessGroup& group, const at::Tensor& local, const at::Tensor& rows, int64_t total) {
  std::vector<int64_t> shape = local.sizes().vec();
  shape[0] = total;
  // Zeros elsewhere: the sum of the ranks' buffers is every rank's rows, exactly (x + 0 = x).
  at::Tensor all = at::zeros(shape, local.options().requires_grad(false));
  all.index_copy_(0, rows, local.detach());
  group.all_reduce_sum(all, "gathering the batch's target outputs");
  return all.index_copy(0, rows, local);  // this rank's rows with their gradient
}

void expect_same_on_all_ranks(ProcessGroup& group, const std::vector<int64_t>& values, const char* what) {
  if (group.world_size() == 1) return;
  // max(v) and max(-v) in one reduction: every rank equal iff max(v) == -max(-v).
  const int64_t n = static_cast<int64_t>(values.size());
  at::Tensor t = at::empty({2, n}, at::kLong);
  int64_t* v = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    v[i] = values[static_cast<size_t>(i)];
    v[n + i] = -values[static_cast<size_t>(i)];
  }
  group.all_reduce_max(t, ("checking " + std::string(what) + " across ranks").c_str());
  if (!at::equal(t[0], -t[1]))
    throw DistributedError(std::string("distributed: rank ") + std::to_string(group.rank()) + ": " + what +
                           " differ between ranks (every rank must run the same config on its shard of the same batches)");
}

}  // namespace psic
