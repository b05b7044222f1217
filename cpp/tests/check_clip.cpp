// CLIP against OpenAI's reference outputs on seeded weights (../shared/fixtures/clip-tiny),
// through every weight format.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "check.h"
#include "clip/clip_model.h"
#include "clip/clip_preprocess.h"
#include "clip/clip_weights.h"
#include "errors.h"
#include <nlohmann/json.hpp>
#include <algorithm>
#include <map>

namespace fs = std::filesystem;

namespace {

fs::path clip_dir() { return fs::path(psic_test::shared_dir()) / "fixtures" / "clip-tiny"; }

at::Tensor read_bin(const fs::path& p, at::ScalarType type, std::vector<int64_t> shape) {
  std::ifstream f(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  at::Tensor t = at::empty(shape, type);
  if (bytes.size() != t.nbytes()) throw std::runtime_error("fixture size mismatch: " + p.string());
  std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

PSIC_CHECK_CASE("clip: every weight format reproduces OpenAI's features and logits within 1e-4") {
  PSIC_NEEDS_SHARED();
  at::NoGradGuard no_grad;
  const at::Tensor images = read_bin(clip_dir() / "images.bin", at::kFloat, {3, 3, 64, 64});
  const at::Tensor tokens = read_bin(clip_dir() / "tokens.bin", at::kLong, {4, 77});
  const at::Tensor ref_img = read_bin(clip_dir() / "image_features.bin", at::kFloat, {3, 64});
  const at::Tensor ref_txt = read_bin(clip_dir() / "text_features.bin", at::kFloat, {4, 64});
  const at::Tensor ref_lpi = read_bin(clip_dir() / "logits_per_image.bin", at::kFloat, {3, 4});
  for (const char* file : {"clip-tiny.jit.pt", "clip-tiny.state_dict.pt", "clip-tiny.fp16.state_dict.pt",
                           "clip-tiny.safetensors", "clip-tiny.hf.safetensors"}) {
    const psic::ClipModel clip(psic::read_clip_weights((clip_dir() / file).string()));
    const auto& d = clip.dims();
    EXPECT_MSG(d.embed_dim == 64 && d.vision_width == 128 && d.vision_layers == 2 && d.vision_heads == 2 &&
                   d.image_resolution == 64 && d.transformer_width == 64 && d.transformer_heads == 1 &&
                   d.transformer_layers == 2 && d.context_length == 77 && d.vocab_size == 49408,
               std::string(file) + ": dimensions read from the weights");
    const at::Tensor img = clip.encode_image(images);
    const at::Tensor txt = clip.encode_text(tokens);
    const at::Tensor lpi = clip.logits(img, txt);
    const double e1 = max_diff(img, ref_img), e2 = max_diff(txt, ref_txt), e3 = max_diff(lpi, ref_lpi);
    EXPECT_MSG(e1 <= 1e-4, std::string(file) + ": image features error " + std::to_string(e1));
    EXPECT_MSG(e2 <= 1e-4, std::string(file) + ": text features error " + std::to_string(e2));
    EXPECT_MSG(e3 <= 1e-4, std::string(file) + ": logits error " + std::to_string(e3));
  }
}

PSIC_CHECK_CASE("clip: intermediates and bad inputs") {
  PSIC_NEEDS_SHARED();
  at::NoGradGuard no_grad;
  const psic::ClipModel clip(psic::read_clip_weights((clip_dir() / "clip-tiny.safetensors").string()));
  const at::Tensor tokens = read_bin(clip_dir() / "tokens.bin", at::kLong, {4, 77});
  EXPECT_THROWS_AS(clip.encode_image(at::zeros({1, 3, 32, 32})), psic::InputError);
  EXPECT_THROWS_AS(clip.encode_text(at::zeros({1, 10}, at::kLong)), psic::InputError);
  EXPECT_THROWS_AS(clip.encode_text(at::full({1, 77}, 60000, at::kLong)), psic::InputError);
  EXPECT_THROWS_AS(psic::read_clip_weights("/nonexistent.pt"), psic::WeightsError);
  // Batch independence: one image alone gives the same features as in the batch.
  const at::Tensor images = read_bin(clip_dir() / "images.bin", at::kFloat, {3, 3, 64, 64});
  EXPECT(max_diff(clip.encode_image(images.slice(0, 1, 2)), clip.encode_image(images).slice(0, 1, 2)) < 1e-5);
  EXPECT(max_diff(clip.encode_text(tokens.slice(0, 2, 3)), clip.encode_text(tokens).slice(0, 2, 3)) < 1e-5);
}

PSIC_CHECK_CASE("clip preprocessing: PIL bicubic resize + crop and the differentiable tensor path") {
  PSIC_NEEDS_SHARED();
  // The file path (PIL's resize of decoded Kodak PNGs) is checked in test/clip.test.ts, which
  // decodes the PNGs with sharp; this checks the differentiable tensor path.
  const at::Tensor input = read_bin(clip_dir() / "preprocess" / "train_rand.input.bin", at::kFloat, {1, 3, 256, 256});
  const at::Tensor expected = read_bin(clip_dir() / "preprocess" / "train_rand.normalized.bin", at::kFloat, {1, 3, 224, 224});
  at::Tensor x = input.clone().set_requires_grad(true);
  const at::Tensor y = psic::clip_preprocess_tensor(x, 224);
  EXPECT_MSG(max_diff(y.detach(), expected) <= 1e-5, "tensor path error " + std::to_string(max_diff(y.detach(), expected)));
  y.sum().backward();
  EXPECT_MSG(x.grad().defined() && x.grad().abs().sum().item<double>() > 0, "differentiable");
}

PSIC_CHECK_CASE("clip: random ViT-B/32-shaped weights load with the published dimensions and train") {
  const psic::ClipDims b32 = psic::ClipModel::vit_b_32();
  psic::ClipDims small = b32;
  small.vision_layers = small.transformer_layers = 1;  // keep the check fast
  psic::ClipModel clip(psic::ClipModel::random_weights(small, 0));
  const auto& d = clip.dims();
  EXPECT(d.embed_dim == 512 && d.image_resolution == 224 && d.vision_width == 768 && d.vision_heads == 12 &&
         d.vision_patch_size == 32 && d.transformer_width == 512 && d.transformer_heads == 8);
  clip.set_requires_grad(true);
  const at::Tensor loss = clip.encode_image(at::randn({1, 3, 224, 224})).pow(2).mean();
  loss.backward();
  EXPECT(clip.weight("visual.conv1.weight").grad().defined());
}

PSIC_CHECK_CASE("clip: the loader expects exactly the keys and shapes of the released ViT-B/32, B/16, L/14") {
  PSIC_NEEDS_SHARED();
  std::ifstream f(clip_dir() / "vit-b-32-manifest.json");
  const auto manifest = nlohmann::json::parse(f);
  for (const auto& [name, m] : manifest["models"].items()) {
    const auto& c = m["config"];
    psic::ClipDims d{c["embed_dim"], c["image_resolution"], c["vision_layers"], c["vision_width"], c["vision_patch_size"],
                     c["vision_width"].get<int64_t>() / 64, c["context_length"], c["vocab_size"], c["transformer_width"],
                     c["transformer_heads"], c["transformer_layers"]};
    std::map<std::string, std::vector<int64_t>> expected;
    for (const auto& k : m["keys"]) {
      const std::string key = k["key"];
      if (key == "input_resolution" || key == "context_length" || key == "vocab_size") continue;
      expected[key] = k["shape"].get<std::vector<int64_t>>();
    }
    std::map<std::string, std::vector<int64_t>> ours;
    for (const auto& [key, shape] : psic::ClipModel::state_layout(d)) ours[key] = shape;
    EXPECT_MSG(ours == expected, name + ": the layout differs from the release (" + std::to_string(ours.size()) + " vs " +
                                     std::to_string(expected.size()) + " keys)");
  }
  // A missing or unexpected key, or a wrong shape, is a clear error.
  psic::ClipDims tiny = psic::ClipModel::vit_b_32();
  tiny.vision_layers = tiny.transformer_layers = 1;
  auto weights = psic::ClipModel::random_weights(tiny, 1);
  auto missing = weights;
  missing.erase(std::remove_if(missing.begin(), missing.end(), [](const auto& kv) { return kv.first == "visual.ln_post.bias"; }), missing.end());
  try {
    psic::ClipModel bad(missing);
    EXPECT_MSG(false, "a missing key was accepted");
  } catch (const psic::WeightsError& e) {
    EXPECT_MSG(std::string(e.what()).find("missing visual.ln_post.bias") != std::string::npos, e.what());
  }
  auto extra = weights;
  extra.emplace_back("visual.extra", at::zeros({1}));
  EXPECT_THROWS_AS(psic::ClipModel{extra}, psic::WeightsError);
}
