// Devices and batches: device names, batched transforms equal to one-at-a-time calls, and (where
// a CUDA LibTorch sees a GPU) bitstreams that decode alike on the CPU and the GPU.
#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "check.h"
#include "codec.h"
#include "tests/synthetic_image.h"
#include "errors.h"
#include "models/model_loader.h"
#include "util/device.h"

namespace fs = std::filesystem;

namespace {

std::string checkpoint(const std::string& name) {
  return (fs::path(psic_test::shared_dir()) / "fixtures" / "compressai-hyperprior" / (name + ".pth.tar")).string();
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])));
  return m;
}

// A random-init PSIC model whose CLTG shifts are non-zero (init zeroes them), so that every
// condition decodes differently; the same seed gives the same model.
std::shared_ptr<psic::Codec> random_psic(uint64_t seed, const std::string& device = "cpu") {
  psic::LoadedModel loaded = psic::init_model(psic::ModelConfig::make("psic-balle", 16, 24, 8), seed);
  at::manual_seed(seed);
  at::NoGradGuard no_grad;
  loaded.model->visit_state("", [](const std::string& name, at::Tensor& t, psic::StateKind) {
    if (name.rfind("g_s_shift.", 0) == 0) t.normal_(0, 0.5);
  });
  psic::refresh(loaded);
  return std::make_shared<psic::Codec>(loaded, psic::parse_device(device));
}

}  // namespace

PSIC_CHECK_CASE("device: names parse; CUDA without a CUDA build or GPU is a DeviceError") {
  EXPECT(psic::parse_device("cpu").is_cpu());
  EXPECT(psic::parse_device("").is_cpu());
  EXPECT_THROWS_AS(psic::parse_device("gpu"), psic::DeviceError);
  EXPECT_THROWS_AS(psic::parse_device("cuda:x"), psic::DeviceError);
  if (psic::cuda_available()) {
    EXPECT(psic::parse_device("cuda").is_cuda());
  } else {
    EXPECT_THROWS_AS(psic::parse_device("cuda"), psic::DeviceError);
    EXPECT_THROWS_AS(psic::parse_device("cuda:0"), psic::DeviceError);
    PSIC_NEEDS_SHARED();
    EXPECT_THROWS_AS(psic::Codec::load(checkpoint("tiny-N16-M24"), "cuda"), psic::DeviceError);
  }
}

PSIC_CHECK_CASE("batch: compress_batch and decompress_batch equal one-at-a-time calls (mixed sizes, keyed rows)") {
  PSIC_NEEDS_SHARED();
  for (const bool keyed : {false, true}) {
    auto codec = keyed ? random_psic(3) : psic::Codec::load(checkpoint("tiny-N16-M24"));
    const std::vector<std::pair<int64_t, int64_t>> sizes = {{70, 45}, {45, 70}, {70, 45}, {128, 64}, {66, 50}};
    std::vector<std::vector<uint8_t>> pixels;
    std::vector<psic::ImageView> views;
    for (size_t i = 0; i < sizes.size(); ++i) pixels.push_back(psic_test::synthetic_image(sizes[i].first, sizes[i].second, static_cast<uint32_t>(i)));
    for (size_t i = 0; i < sizes.size(); ++i) views.push_back({pixels[i].data(), sizes[i].first, sizes[i].second});
    psic::CodecOptions o;
    o.threads = 1;
    const auto batched = codec->compress_batch(views, o, /*max_batch=*/2);
    EXPECT(batched.size() == sizes.size());
    std::vector<psic::ContainerView> containers;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const auto single = codec->compress(views[i].rgb, views[i].width, views[i].height, o);
      EXPECT_MSG(single.container == batched[i].container, "image " + std::to_string(i) + ": batched bitstream differs");
      // Rows alternate between a key's condition and the protected decode.
      std::vector<float> condition;
      if (keyed && i % 2 == 0) condition = std::vector<float>(8, -0.5f + 0.1f * static_cast<float>(i));
      containers.push_back({batched[i].container.data(), batched[i].container.size(), condition});
    }
    const auto decoded = codec->decompress_batch(containers, o, /*float_output=*/true, /*max_batch=*/3);
    for (size_t i = 0; i < sizes.size(); ++i) {
      const auto single = codec->decompress(containers[i].data, containers[i].size, o, true, containers[i].condition);
      EXPECT(decoded[i].width == sizes[i].first && decoded[i].height == sizes[i].second);
      const double diff = max_abs_diff(single.rgb32, decoded[i].rgb32);
      EXPECT_MSG(diff <= 1e-5, "container " + std::to_string(i) + ": batched decode differs by " + std::to_string(diff));
    }
    if (keyed) {
      // The rows' conditions are their own: the keyed and the protected decode of one container differ.
      std::vector<psic::ContainerView> pair = {containers[0], containers[0]};
      pair[1].condition.clear();
      const auto two = codec->decompress_batch(pair, o, true, 2);
      EXPECT(max_abs_diff(two[0].rgb32, two[1].rgb32) > 0);
    }
  }
  auto codec = psic::Codec::load(checkpoint("tiny-N16-M24"));
  const auto rgb = psic_test::synthetic_image(20, 20, 1);
  psic::CodecOptions small;
  small.pixel_limit = 100;
  EXPECT_THROWS_AS(codec->compress_batch({{rgb.data(), 20, 20}}, small, 4), psic::LimitError);
  EXPECT(codec->compress_batch({}, psic::CodecOptions{}, 4).empty());
}

PSIC_CHECK_CASE("cuda: bitstreams decode alike on CPU and GPU (within 1e-3), both ways, batched and keyed") {
  if (!psic::cuda_available()) PSIC_SKIP("this LibTorch has no CUDA or sees no GPU");
  PSIC_NEEDS_SHARED();
  auto cpu = psic::Codec::load(checkpoint("hyperprior-N128-M192"));
  auto gpu = psic::Codec::load(checkpoint("hyperprior-N128-M192"), "cuda");
  EXPECT(gpu->device().is_cuda());
  const int64_t w = 768, h = 512;
  const auto rgb = psic_test::synthetic_image(w, h, 7);
  const psic::CodecOptions o;
  const auto from_cpu = cpu->compress(rgb.data(), w, h, o);
  const auto from_gpu = gpu->compress(rgb.data(), w, h, o);
  for (const auto* c : {&from_cpu, &from_gpu}) {
    const auto on_cpu = cpu->decompress(c->container.data(), c->container.size(), o, true);
    const auto on_gpu = gpu->decompress(c->container.data(), c->container.size(), o, true);
    const double diff = max_abs_diff(on_cpu.rgb32, on_gpu.rgb32);
    EXPECT_MSG(diff <= 1e-3, std::string(c == &from_cpu ? "CPU" : "GPU") + "-made bitstream: CPU and GPU decodes differ by " +
                                 std::to_string(diff));
  }
  // A bitstream of the GPU's encoder rounds the GPU's g_a: its size stays within 1% of the CPU's.
  const double ratio = static_cast<double>(from_gpu.container.size()) / static_cast<double>(from_cpu.container.size());
  EXPECT_MSG(std::abs(ratio - 1) < 0.01, "GPU/CPU container size ratio " + std::to_string(ratio));

  auto psic_cpu = random_psic(5);
  auto psic_gpu = random_psic(5, "cuda");
  EXPECT(psic_gpu->container_model_id() == psic_cpu->container_model_id());
  const auto enc = psic_cpu->compress(rgb.data(), w, h, o);
  const std::vector<float> key(8, 0.25f);
  std::vector<psic::ContainerView> rows = {{enc.container.data(), enc.container.size(), key},
                                           {enc.container.data(), enc.container.size(), {}}};
  const auto batched = psic_gpu->decompress_batch(rows, o, true, 2);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto ref = psic_cpu->decompress(rows[i].data, rows[i].size, o, true, rows[i].condition);
    const double diff = max_abs_diff(ref.rgb32, batched[i].rgb32);
    EXPECT_MSG(diff <= 1e-3, "keyed row " + std::to_string(i) + ": GPU batch vs CPU decode differ by " + std::to_string(diff));
  }
}
