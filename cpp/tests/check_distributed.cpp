// The c10d wrapper (training/distributed.h): two ranks as two threads of this process, each with
// its own Gloo process group over a TCPStore on 127.0.0.1.
#include <ATen/ATen.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <functional>
#include <future>
#include <memory>

#include "check.h"
#include "errors.h"
#include "training/distributed.h"

namespace {

// A port the kernel just handed out (closed again; the race with other programs is harmless here).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Runs body(rank, group) on two threads, one rank each; returns what each threw ("" if nothing).
std::array<std::string, 2> two_ranks(double timeout_seconds, const std::function<void(int, psic::ProcessGroup&)>& body) {
  const int port = free_port();
  auto run = [&](int rank) {
    try {
      psic::DistributedOptions o;
      o.world_size = 2;
      o.rank = rank;
      o.port = port;
      o.timeout_seconds = timeout_seconds;
      psic::ProcessGroup group(o);
      body(rank, group);
      return std::string();
    } catch (...) {
      return psic_test::describe_current_exception();
    }
  };
  auto other = std::async(std::launch::async, run, 1);
  const std::string first = run(0);
  return {first, other.get()};
}

}  // namespace

PSIC_CHECK_CASE("distributed: two ranks sum gradients, gather rows and broadcast over Gloo") {
  std::array<at::Tensor, 2> grads, gathered, weights;
  std::array<bool, 2> third_has_grad{};
  const auto errors = two_ranks(20, [&](int rank, psic::ProcessGroup& group) {
    // Three parameters: both ranks have a gradient for the first, one rank for the second, none for the third.
    std::vector<at::Tensor> params = {at::zeros({2, 3}, at::kFloat), at::zeros({4}, at::kFloat), at::zeros({1}, at::kFloat)};
    for (auto& p : params) p.set_requires_grad(true);
    params[0].mutable_grad() = at::full({2, 3}, rank + 1.0f);
    if (rank == 1) params[1].mutable_grad() = at::arange(4, at::kFloat);
    psic::sum_gradients(group, params);
    grads[rank] = at::cat({params[0].grad().reshape({-1}), params[1].grad()});
    third_has_grad[rank] = params[2].grad().defined();

    // Rank r holds rows {r, r + 2} of a 4-row batch; the gathered batch keeps the local rows' gradient.
    at::Tensor local = at::full({2, 2}, 10.0f * (rank + 1)).requires_grad_(true);
    const at::Tensor rows = at::tensor({int64_t{rank}, int64_t{rank + 2}}, at::kLong);
    const at::Tensor all = psic::gather_rows(group, local, rows, 4);
    all.sum().backward();
    gathered[rank] = all.detach();
    EXPECT(at::equal(local.grad(), at::ones({2, 2})));

    at::Tensor w = at::full({3}, static_cast<float>(rank));
    group.broadcast({w}, 0, "broadcast");
    weights[rank] = w;
    psic::expect_same_on_all_ranks(group, {7, 8}, "values");
    group.barrier("barrier");
  });
  EXPECT_MSG(errors[0].empty() && errors[1].empty(), errors[0] + " / " + errors[1]);
  if (!errors[0].empty() || !errors[1].empty()) return;
  const at::Tensor want = at::cat({at::full({6}, 3.0f), at::arange(4, at::kFloat)});
  for (int r = 0; r < 2; ++r) {
    EXPECT(at::equal(grads[r], want));
    EXPECT_MSG(!third_has_grad[r], "a parameter no rank has a gradient for keeps none");
    EXPECT(at::equal(gathered[r], at::tensor(std::vector<float>{10, 10, 20, 20, 10, 10, 20, 20}).view({4, 2})));
    EXPECT(at::equal(weights[r], at::zeros({3})));
  }
}

PSIC_CHECK_CASE("distributed: ranks that disagree fail together, and a rank that leaves fails the other, not hangs") {
  const auto mismatch = two_ranks(20, [](int rank, psic::ProcessGroup& group) {
    psic::expect_same_on_all_ranks(group, {1, rank}, "the batch shapes");
  });
  for (const auto& e : mismatch) EXPECT_MSG(e.find("PsicDistributedError") != std::string::npos && e.find("differ between ranks") != std::string::npos, e);

  // Rank 1 leaves (its group is destroyed, as when its process exits); rank 0's next all-reduce
  // must fail with a DistributedError well before a hang would end (the timeout is 5 s).
  const auto start = std::chrono::steady_clock::now();
  const auto left = two_ranks(5, [](int rank, psic::ProcessGroup& group) {
    group.barrier("a first barrier");
    if (rank == 1) return;
    at::Tensor t = at::ones({1000});
    group.all_reduce_sum(t, "all-reduce of the gradients");
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_MSG(left[0].find("PsicDistributedError") != std::string::npos && left[0].find("all-reduce of the gradients failed") != std::string::npos, left[0]);
  EXPECT(left[1].empty());
  EXPECT_MSG(seconds < 60, "took " + std::to_string(seconds) + " s");  // loose: only a hang fails it
  EXPECT_THROWS_AS(psic::ProcessGroup(psic::DistributedOptions{2, 2}), psic::InputError);
  EXPECT(psic::distributed_backend_available("gloo"));
}
