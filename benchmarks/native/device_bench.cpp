// psic_bench: codec and training throughput on one device, from C++ alone (a GPU machine may
// have no Node). Medians of --runs timed runs after a warm-up; one JSON object on stdout.
//
//   psic_bench --model CKPT [--device cpu|cuda] [--runs 5] [--sizes 768x512,3840x2160]
//              [--batch 8] [--train-steps 6] [--no-clip]
//
// codec: compress and decompress ms and MP/s per size (one image per call), and a batched
// compress of --batch 768x512 images per call. training: ms per step of the N=128/M=192
// psic-hyperprior (encoder side seeded from --model), batch 8, 128x128 crops, stages 1 and 2,
// without a target and with a ViT-B/32-shaped CLIP (random weights) on the same device.
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "clip/clip_model.h"
#include "codec.h"
#include "tests/synthetic_image.h"
#include "errors.h"
#include "models/model_loader.h"
#include "targets/clip_target.h"
#include "training/psic_trainer.h"
#include "util/blas_core_type.h"
#include "util/device.h"
#include "util/threads.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? NAN : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <typename F>
std::vector<double> time_runs(int runs, F&& work) {
  work();  // warm-up: allocator, kernels, cuDNN autotuning
  std::vector<double> ms;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = Clock::now();
    work();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return ms;
}

double round_to(double v, int digits) {
  const double p = std::pow(10.0, digits);
  return std::round(v * p) / p;
}

struct Args {
  std::string model, device = "cpu";
  int runs = 5, batch = 8, train_steps = 6;
  std::vector<std::pair<int64_t, int64_t>> sizes = {{768, 512}, {3840, 2160}};
  bool clip = true;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw psic::InputError(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--model") a.model = value();
    else if (flag == "--device") a.device = value();
    else if (flag == "--runs") a.runs = std::stoi(value());
    else if (flag == "--batch") a.batch = std::stoi(value());
    else if (flag == "--train-steps") a.train_steps = std::stoi(value());
    else if (flag == "--no-clip") a.clip = false;
    else if (flag == "--sizes") {
      a.sizes.clear();
      std::stringstream list(value());
      for (std::string item; std::getline(list, item, ',');) {
        const size_t x = item.find('x');
        if (x == std::string::npos) throw psic::InputError("--sizes takes WxH,WxH...");
        a.sizes.emplace_back(std::stoll(item.substr(0, x)), std::stoll(item.substr(x + 1)));
      }
    } else {
      throw psic::InputError("unknown flag " + flag + " (see the header of benchmarks/native/device_bench.cpp)");
    }
  }
  if (a.model.empty()) throw psic::InputError("--model CKPT is required (e.g. ../shared/fixtures/compressai-hyperprior/hyperprior-N128-M192.pth.tar)");
  if (a.runs < 1 || a.batch < 1 || a.train_steps < 2) throw psic::InputError("--runs and --batch must be >= 1, --train-steps >= 2");
  return a;
}

nlohmann::json codec_bench(const Args& a) {
  auto codec = psic::Codec::load(a.model, a.device);
  const psic::CodecOptions o;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [w, h] : a.sizes) {
    const auto rgb = psic_test::synthetic_image(w, h, 1);
    std::vector<uint8_t> container;
    const auto enc = time_runs(a.runs, [&] { container = codec->compress(rgb.data(), w, h, o).container; });
    const auto dec = time_runs(a.runs, [&] { (void)codec->decompress(container.data(), container.size(), o, false); });
    const double mp = static_cast<double>(w * h) / 1e6;
    rows.push_back({{"width", w}, {"height", h}, {"bpp", round_to(8.0 * container.size() / (w * h), 4)},
                    {"compressMs", round_to(median(enc), 1)}, {"decompressMs", round_to(median(dec), 1)},
                    {"compressMPs", round_to(mp / (median(enc) / 1000), 2)}, {"decompressMPs", round_to(mp / (median(dec) / 1000), 2)}});
    std::cerr << "[codec] " << w << "x" << h << ": compress " << median(enc) << " ms, decompress " << median(dec) << " ms\n";
  }
  // Grouped transforms: --batch 768x512 images per call.
  std::vector<std::vector<uint8_t>> pixels;
  std::vector<psic::ImageView> views;
  for (int i = 0; i < a.batch; ++i) pixels.push_back(psic_test::synthetic_image(768, 512, static_cast<uint32_t>(i)));
  for (const auto& p : pixels) views.push_back({p.data(), 768, 512});
  std::vector<psic::CompressResult> packed;
  const auto enc = time_runs(a.runs, [&] { packed = codec->compress_batch(views, o, a.batch); });
  std::vector<psic::ContainerView> containers;
  for (const auto& r : packed) containers.push_back({r.container.data(), r.container.size(), {}});
  const auto dec = time_runs(a.runs, [&] { (void)codec->decompress_batch(containers, o, false, a.batch); });
  const double mp = a.batch * 768.0 * 512.0 / 1e6;
  return {{"model", a.model}, {"rows", rows},
          {"batched", {{"images", a.batch}, {"width", 768}, {"height", 512},
                       {"compressMPs", round_to(mp / (median(enc) / 1000), 2)}, {"decompressMPs", round_to(mp / (median(dec) / 1000), 2)}}}};
}

nlohmann::json training_bench(const Args& a) {
  const int64_t B = 8, S = 128;
  at::manual_seed(0);
  const at::Tensor x = at::rand({B, 3, S, S});
  std::vector<std::pair<std::string, std::vector<psic::AttackTarget>>> setups = {{"none", {}}};
  if (a.clip) {
    auto clip = std::make_shared<psic::ClipModel>(psic::ClipModel::random_weights(psic::ClipModel::vit_b_32(), 0));
    clip->to(psic::parse_device(a.device));
    setups.push_back({"clip ViT-B/32 (random weights)", {{psic::make_clip_target(clip, "clip:random", at::Tensor(), {}), 1.0}}});
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [name, targets] : setups) {
    for (const int stage : {1, 2}) {
      psic::LoadedModel model = psic::init_model(psic::ModelConfig::make("psic-hyperprior", 128, 192), 0);
      psic::import_encoder_state(*model.model, psic::model_state(*psic::load_model(a.model).model));
      psic::TrainerConfig c;
      c.stage = stage;
      c.lambda = 0.013;
      c.wrong_keys = 2;
      c.device = a.device;
      c.full_condition.assign(static_cast<size_t>(model.model->condition_dim()), -0.5f);
      psic::PsicTrainer trainer(model, targets, c);
      (void)trainer.step(x);  // warm-up (a full step): timing starts on a protected one
      std::vector<double> full, prot;
      for (int s = 0; s < a.train_steps; ++s) {
        const auto t0 = Clock::now();
        (void)trainer.step(x);
        (s % 2 == 0 ? prot : full).push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      const double mean = (median(full) + median(prot)) / 2;
      rows.push_back({{"target", name}, {"stage", stage}, {"batch", B}, {"crop", S}, {"wrongKeys", 2},
                      {"fullStepMs", round_to(median(full), 1)}, {"protectedStepMs", round_to(median(prot), 1)},
                      {"stepsPerS", round_to(1000 / mean, 2)}});
      std::cerr << "[training] " << name << " stage " << stage << ": full " << median(full) << " ms, protected " << median(prot) << " ms\n";
    }
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  psic::pin_openblas_core_type_and_reexec(argv);
  try {
    const Args a = parse(argc, argv);
    // PSIC_THREADS, else every core (as the SDK).
    const char* env = std::getenv("PSIC_THREADS");
    const int threads = env && std::atoi(env) > 0 ? std::atoi(env) : psic::intra_op_threads();
    psic::set_intra_op_threads(threads);
    psic::ScopedIntraOpThreads scoped(threads);
    nlohmann::json out = {{"device", a.device}, {"cudaAvailable", psic::cuda_available()}, {"threads", threads},
                          {"runs", a.runs}, {"openblasCoreType", psic::preferred_openblas_core_type()}};
    out["codec"] = codec_bench(a);
    out["training"] = training_bench(a);
    std::cout << out.dump(2) << "\n";
    return 0;
  } catch (const psic::Error& e) {
    std::cerr << "psic_bench: " << e.kind() << ": " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "psic_bench: " << e.what() << "\n";
  }
  return 1;
}
