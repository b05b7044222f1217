// PSIC model checks: the reference architecture's parameter counts, one bitstream with two
// decodes, the role of the CLTG projections, plug-and-play backbones, seeding from CompressAI.
#include <ATen/ATen.h>

#include <filesystem>
#include <random>

#include "check.h"
#include "codec.h"
#include "errors.h"
#include "formats/torch_checkpoint.h"
#include "models/model_loader.h"
#include "models/psic_balle_model.h"
#include "models/psic_model.h"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> random_image(int64_t w, int64_t h, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> rgb(static_cast<size_t>(w * h * 3));
  // Smooth-ish content, so that the latents are not all zero.
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(y * w + x) * 3 + c] = static_cast<uint8_t>((x * (c + 1) * 3 + y * 2 + rng() % 32) % 256);
  return rgb;
}

psic::PsicModel& psic_model(const psic::LoadedModel& loaded) { return dynamic_cast<psic::PsicModel&>(*loaded.model); }

}  // namespace

PSIC_CHECK_CASE("psic: parameter counts of the reference architecture (N=192, M=320) and the plain hyperprior") {
  at::NoGradGuard no_grad;
  auto reference = psic::build_model(psic::ModelConfig::make("reference", 192, 320));
  auto counts = reference->parameter_counts();
  EXPECT_MSG(counts["total"] == 21404940, "total " + std::to_string(counts["total"]));
  EXPECT_MSG(counts["g_s_cond"] == 12820044, "g_s_cond " + std::to_string(counts["g_s_cond"]));
  EXPECT_MSG(counts["cltg_projections"] == 786432, "cltg_projections " + std::to_string(counts["cltg_projections"]));
  EXPECT_MSG(counts["global_cond"] == 273920, "global_cond " + std::to_string(counts["global_cond"]));
  auto plain = psic::build_model(psic::ModelConfig::make("bmshj2018-hyperprior", 128, 192));
  EXPECT_MSG(plain->parameter_counts()["total"] == 5075843, "plain hyperprior " + std::to_string(plain->parameter_counts()["total"]));
  // A d-dim keyed condition only widens the first conditioning layer: 21 d inputs.
  auto keyed = psic::build_model(psic::ModelConfig::make("psic-hyperprior", 192, 320, 16));
  EXPECT(keyed->parameter_counts()["global_cond"] == 273920 + 21 * 15 * 512);
}

PSIC_CHECK_CASE("psic: Fourier features are [c, sin(2^k c), cos(2^k c)] per value") {
  const at::Tensor c = at::tensor({0.5f, -1.0f}).view({1, 2});
  const at::Tensor f = psic::fourier_features(c);
  EXPECT(f.sizes() == at::IntArrayRef({1, 42}));
  EXPECT(std::abs(f[0][0].item<float>() - 0.5f) < 1e-7);
  EXPECT(std::abs(f[0][1 + 3].item<float>() - std::sin(0.5f * 8.0f)) < 1e-6);   // sin(2^3 c)
  EXPECT(std::abs(f[0][11 + 9].item<float>() - std::cos(0.5f * 512.0f)) < 1e-5);  // cos(2^9 c)
  EXPECT(std::abs(f[0][21].item<float>() + 1.0f) < 1e-7);
}

PSIC_CHECK_CASE("psic: one bitstream, two decodes; identical when the CLTG projections are zero") {
  for (const char* arch : {"psic-hyperprior", "psic-factorized", "reference"}) {
    auto loaded = psic::init_model(psic::ModelConfig::make(arch, 16, 24, arch == std::string("reference") ? 1 : 4), 7);
    psic::Codec codec(loaded);
    const auto rgb = random_image(80, 48, 3);
    psic::CodecOptions o;
    const auto enc = codec.compress(rgb.data(), 80, 48, o);
    const std::vector<float> full = arch == std::string("reference") ? std::vector<float>{0.0f}
                                                                     : std::vector<float>{0.3f, -0.7f, 0.9f, -0.1f};
    const auto protected1 = codec.decompress(enc.container.data(), enc.container.size(), o, true);
    const auto protected2 = codec.decompress(enc.container.data(), enc.container.size(), o, true);
    const auto unlocked = codec.decompress(enc.container.data(), enc.container.size(), o, true, full);
    EXPECT_MSG(protected1.rgb32 == protected2.rgb32, std::string(arch) + ": decompress is deterministic");
    EXPECT_MSG(protected1.rgb32 != unlocked.rgb32, std::string(arch) + ": protected and full decodes differ");
    // Fast and compat synthesis agree.
    psic::CodecOptions compat;
    compat.fast = false;
    const auto compat_full = codec.decompress(enc.container.data(), enc.container.size(), compat, true, full);
    double err = 0;
    for (size_t i = 0; i < unlocked.rgb32.size(); ++i) err = std::max(err, double(std::abs(unlocked.rgb32[i] - compat_full.rgb32[i])));
    EXPECT_MSG(err < 1e-4, std::string(arch) + ": fast vs compat decode error " + std::to_string(err));

    // Zero the projections: the condition no longer reaches the decoder.
    {
      at::NoGradGuard no_grad;
      psic_model(loaded).g_s_cond.visit_projections("", [](const std::string&, at::Tensor& t, psic::StateKind) { t.zero_(); });
    }
    psic::refresh(loaded);
    psic::Codec zeroed(loaded);
    const auto enc2 = zeroed.compress(rgb.data(), 80, 48, o);
    EXPECT_MSG(enc2.container.size() > 76, "compresses");
    const auto a = zeroed.decompress(enc2.container.data(), enc2.container.size(), o, true);
    const auto b = zeroed.decompress(enc2.container.data(), enc2.container.size(), o, true, full);
    EXPECT_MSG(a.rgb32 == b.rgb32, std::string(arch) + ": zeroed projections make the decodes identical");
    // The encoder never depends on the decoder: same payload after the decoder changed, but
    // a new model id (so old containers are not silently decoded by the new model).
    EXPECT_MSG(enc.container.size() == enc2.container.size() &&
                   std::equal(enc.container.begin() + 76, enc.container.end(), enc2.container.begin() + 76),
               std::string(arch) + ": payload independent of the decoder");
    EXPECT_MSG(codec.container_model_id() != zeroed.container_model_id(), "changing the decoder changes the model id");
    // Wrong-size conditions and keys on unconditional models are typed errors.
    EXPECT_THROWS_AS(codec.decompress(enc.container.data(), enc.container.size(), o, true, {1, 2, 3, 4, 5, 6}),
                     psic::KeyError);
  }
}

PSIC_CHECK_CASE("psic: the encoder side is CompressAI's and can be seeded from a checkpoint") {
  PSIC_NEEDS_SHARED();
  const fs::path ckpt = fs::path(psic_test::shared_dir()) / "fixtures" / "compressai-hyperprior" / "hyperprior-N128-M192.pth.tar";
  auto backbone = psic::load_model(ckpt.string());
  auto model = psic::init_model(psic::ModelConfig::make("psic-hyperprior", 128, 192), 1);
  psic::import_encoder_state(*model.model, psic::read_torch_checkpoint(ckpt.string()));
  psic::refresh(model);
  // Same encoder, so the same bitstream payload as the CompressAI model.
  psic::Codec a(backbone), b(model);
  const auto rgb = random_image(64, 64, 5);
  psic::CodecOptions o;
  const auto ea = a.compress(rgb.data(), 64, 64, o);
  const auto eb = b.compress(rgb.data(), 64, 64, o);
  EXPECT(ea.container.size() == eb.container.size());
  EXPECT(std::equal(ea.container.begin() + 76, ea.container.end(), eb.container.begin() + 76));
  EXPECT_THROWS_AS(b.decompress(ea.container.data(), ea.container.size(), o, false), psic::ModelMismatchError);
  // Export gives CompressAI names that import back.
  const auto exported = psic::export_encoder_state(*model.model);
  EXPECT(!exported.empty() && exported.front().first.rfind("g_a.", 0) == 0);
  auto small = psic::init_model(psic::ModelConfig::make("psic-hyperprior", 16, 24), 1);
  EXPECT_THROWS_AS(psic::import_encoder_state(*small.model, exported), psic::WeightsError);
}

PSIC_CHECK_CASE("psic-balle: seeded from a trained backbone, every condition decodes as the backbone until trained") {
  PSIC_NEEDS_SHARED();
  const fs::path ckpt = fs::path(psic_test::shared_dir()) / "fixtures" / "compressai-hyperprior" / "tiny-N16-M24.pth.tar";
  auto backbone = psic::load_model(ckpt.string());
  auto model = psic::init_model(psic::ModelConfig::make("psic-balle", 16, 24, 4), 3);
  psic::import_encoder_state(*model.model, psic::read_torch_checkpoint(ckpt.string()));
  psic::refresh(model);
  auto counts = model.model->parameter_counts();
  EXPECT(counts["g_s_shift"] == 3 * 16 * 512);
  EXPECT(counts["g_s"] == backbone.model->parameter_counts()["g_s"]);
  psic::Codec plain(backbone), balle(model);
  const auto rgb = random_image(80, 48, 9);
  psic::CodecOptions o;
  const auto ep = plain.compress(rgb.data(), 80, 48, o);
  const auto eb = balle.compress(rgb.data(), 80, 48, o);
  EXPECT_MSG(std::equal(ep.container.begin() + 76, ep.container.end(), eb.container.begin() + 76), "the same payload as the backbone");
  const auto want = plain.decompress(ep.container.data(), ep.container.size(), o, true);
  const auto prot = balle.decompress(eb.container.data(), eb.container.size(), o, true);
  const auto full = balle.decompress(eb.container.data(), eb.container.size(), o, true, {0.3f, -0.7f, 0.9f, -0.1f});
  EXPECT_MSG(prot.rgb32 == want.rgb32 && full.rgb32 == want.rgb32, "zero shifts: protected = full = the backbone's decode");
  // Non-zero shifts make the decode depend on the condition.
  auto* m = dynamic_cast<psic::PsicBalleModel*>(model.model.get());
  EXPECT(m != nullptr);
  for (auto& s : m->shifts) s.weight.uniform_(-0.05, 0.05);
  psic::refresh(model);
  psic::Codec shifted(model);
  const auto enc = shifted.compress(rgb.data(), 80, 48, o);
  const auto p2 = shifted.decompress(enc.container.data(), enc.container.size(), o, true);
  const auto f2 = shifted.decompress(enc.container.data(), enc.container.size(), o, true, {0.3f, -0.7f, 0.9f, -0.1f});
  EXPECT(p2.rgb32 != f2.rgb32);
  psic::CodecOptions compat;
  compat.fast = false;
  const auto f3 = shifted.decompress(enc.container.data(), enc.container.size(), compat, true, {0.3f, -0.7f, 0.9f, -0.1f});
  double worst = 0;
  for (size_t i = 0; i < f2.rgb32.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(f2.rgb32[i] - f3.rgb32[i])));
  EXPECT_MSG(worst < 1e-4, "fast and compat paths agree: " + std::to_string(worst));
}

PSIC_CHECK_CASE("psic: model files round-trip with their config; configs are validated") {
  auto loaded = psic::init_model(psic::ModelConfig::make("psic-factorized", 8, 12, 3), 11);
  const fs::path tmp = fs::temp_directory_path() / ("psic-check-psic-" + std::to_string(::getpid()) + ".safetensors");
  psic::save_model(*loaded.model, tmp.string());
  auto again = psic::load_model(tmp.string());
  fs::remove(tmp);
  EXPECT(again.model_id == loaded.model_id);
  EXPECT(again.model->config.architecture == "psic-factorized" && again.model->config.condition_dim == 3);
  EXPECT_THROWS_AS(psic::ModelConfig::make("psic-magic", 8, 8), psic::WeightsError);
  EXPECT_THROWS_AS(psic::ModelConfig::make("reference", 8, 8, 4), psic::WeightsError);
  EXPECT_THROWS_AS(psic::ModelConfig::from_json("{\"architecture\":\"psic-hyperprior\",\"N\":0,\"M\":8}"), psic::WeightsError);
}
