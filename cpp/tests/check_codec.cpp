// Numeric checks of the codec against CompressAI's reference fixtures
// (../shared/fixtures/compressai-hyperprior), at one LibTorch thread as they were made.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "check.h"
#include "codec.h"
#include "entropy/quantized_cdf.h"
#include "entropy/rans.h"
#include "errors.h"
#include "util/base64.h"
#include "models/model_loader.h"
#include "models/scale_hyperprior.h"
#include "nn/conv.h"
#include "util/blas_core_type.h"
#include "util/threads.h"

namespace fs = std::filesystem;
using psic::ForwardOptions;

namespace {

fs::path fixtures() { return fs::path(psic_test::shared_dir()) / "fixtures" / "compressai-hyperprior"; }

std::vector<uint8_t> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), {});
}

at::Tensor read_tensor(const fs::path& p, at::ScalarType type, std::vector<int64_t> shape) {
  std::vector<uint8_t> bytes = read_file(p);
  at::Tensor t = at::empty(shape, type);
  if (bytes.size() != t.nbytes()) throw std::runtime_error("fixture size mismatch: " + p.string());
  std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

std::vector<int32_t> ints(const nlohmann::json& j) { return j.get<std::vector<int32_t>>(); }

struct FixtureCase {
  std::string model, stem;
  fs::path dir;
  nlohmann::json manifest;
};

std::vector<FixtureCase> fixture_cases() {
  std::vector<FixtureCase> out;
  for (const char* model : {"tiny-N16-M24", "hyperprior-N128-M192"}) {
    const fs::path root = fixtures() / "cases" / model;
    if (!fs::exists(root)) continue;
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(root)) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
      std::ifstream mf(d / "manifest.json");
      out.push_back({model, d.filename().string(), d, nlohmann::json::parse(mf)});
    }
  }
  return out;
}

fs::path checkpoint_for(const std::string& model) { return fixtures() / (model + ".pth.tar"); }

psic::ScaleHyperprior& hyperprior(const psic::LoadedModel& loaded) {
  return dynamic_cast<psic::ScaleHyperprior&>(*loaded.model);
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace

PSIC_CHECK_CASE("rans: CompressAI vectors encode to identical bytes and decode back") {
  PSIC_NEEDS_SHARED();
  std::ifstream f(fixtures() / "rans" / "vectors.json");
  const nlohmann::json vectors = nlohmann::json::parse(f);
  const nlohmann::json& cases = vectors.contains("cases") ? vectors["cases"] : vectors;
  int checked = 0;
  for (auto it = cases.begin(); it != cases.end(); ++it) {
    const nlohmann::json& c = it.value();
    if (!c.is_object() || !c.contains("symbols")) continue;
    const std::string name = c.contains("name") ? c["name"].get<std::string>() : it.key();
    std::vector<int32_t> symbols = ints(c["symbols"]), indexes = ints(c["indexes"]);
    std::vector<int32_t> lengths = ints(c["cdf_lengths"]), offsets = ints(c["offsets"]);
    // Rows come ragged; the coder takes a rectangular zero-padded table, as CompressAI's.
    int64_t stride = 0;
    for (const auto& row : c["cdfs"]) stride = std::max<int64_t>(stride, static_cast<int64_t>(row.size()));
    std::vector<int32_t> cdfs;
    for (const auto& row : c["cdfs"]) {
      auto r = ints(row);
      r.resize(static_cast<size_t>(stride), 0);
      cdfs.insert(cdfs.end(), r.begin(), r.end());
    }
    psic::CdfTable table{cdfs.data(), stride, lengths.data(), offsets.data(), static_cast<int64_t>(lengths.size())};
    psic::validate_cdf_table(table);
    const auto bytes = psic::rans_encode(symbols.data(), indexes.data(), symbols.size(), table);
    const std::string expected_text = psic::base64_decode(c["expected_bytes_b64"].get<std::string>());
    const std::vector<uint8_t> expected(expected_text.begin(), expected_text.end());
    EXPECT_MSG(bytes == expected, "encoded bytes differ for " + name);
    std::vector<int32_t> decoded(symbols.size());
    psic::rans_decode(expected.data(), expected.size(), indexes.data(), indexes.size(), table, decoded.data());
    EXPECT_MSG(decoded == ints(c["decoded"]), "decoded symbols differ for " + name);
    EXPECT_MSG(decoded == symbols, "round trip differs for " + name);
    ++checked;
  }
  EXPECT_MSG(checked >= 6, "expected at least 6 vector cases, found " + std::to_string(checked));
}

PSIC_CHECK_CASE("rans: truncated and corrupted streams throw, never crash") {
  PSIC_NEEDS_SHARED();
  auto loaded = psic::load_model(checkpoint_for("tiny-N16-M24").string());
  const auto& gc = hyperprior(loaded).latent_codec.gaussian_conditional;
  std::mt19937 rng(7);
  std::vector<int32_t> idx(2000), sym(2000);
  for (size_t i = 0; i < idx.size(); ++i) {
    idx[i] = static_cast<int32_t>(rng() % 64);
    sym[i] = static_cast<int32_t>(rng() % 21) - 10;
  }
  sym[5] = 100000;  // an escape
  const auto bytes = psic::rans_encode(sym.data(), idx.data(), sym.size(), gc.table());
  std::vector<int32_t> out(sym.size());
  psic::rans_decode(bytes.data(), bytes.size(), idx.data(), idx.size(), gc.table(), out.data());
  EXPECT(out == sym);
  int errors = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> bad = bytes;
    if (trial % 2) bad.resize(rng() % bad.size());
    else bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    try {
      psic::rans_decode(bad.data(), bad.size(), idx.data(), idx.size(), gc.table(), out.data());
    } catch (const psic::FormatError&) {
      ++errors;
    }
  }
  EXPECT_MSG(errors > 1900, "most corruptions must be detected, got " + std::to_string(errors));
  // Escapes of 2^27 and beyond hang CompressAI's encoder; here the whole int32 range codes.
  std::vector<int32_t> huge = {INT32_MAX, INT32_MIN, 1 << 27, -(1 << 27), 0};
  std::vector<int32_t> rows = {0, 63, 5, 17, 0};
  const auto huge_bytes = psic::rans_encode(huge.data(), rows.data(), huge.size(), gc.table());
  std::vector<int32_t> huge_back(huge.size());
  psic::rans_decode(huge_bytes.data(), huge_bytes.size(), rows.data(), rows.size(), gc.table(), huge_back.data());
  EXPECT(huge_back == huge);
  // And empty streams work (CompressAI segfaults).
  const auto empty = psic::rans_encode(nullptr, nullptr, 0, gc.table());
  EXPECT(empty.size() == 8);
  psic::rans_decode(empty.data(), empty.size(), nullptr, 0, gc.table(), nullptr);
}

PSIC_CHECK_CASE("entropy tables: update() reproduces the checkpoint's CDF buffers bit-exactly") {
  PSIC_NEEDS_SHARED();
  psic::ScopedIntraOpThreads one(1);
  for (const char* model : {"tiny-N16-M24", "hyperprior-N128-M192"}) {
    auto loaded = psic::load_model(checkpoint_for(model).string());
    auto& eb = hyperprior(loaded).latent_codec.entropy_bottleneck;
    auto& gc = hyperprior(loaded).latent_codec.gaussian_conditional;
    const at::Tensor eb_cdf = eb.quantized_cdf.clone(), eb_off = eb.offset.clone(), eb_len = eb.cdf_length.clone();
    const at::Tensor gc_cdf = gc.quantized_cdf.clone(), gc_off = gc.offset.clone(), gc_len = gc.cdf_length.clone();
    loaded.model->update_entropy_tables();
    EXPECT_MSG(at::equal(eb.quantized_cdf, eb_cdf), std::string(model) + ": entropy_bottleneck._quantized_cdf differs");
    EXPECT_MSG(at::equal(eb.offset, eb_off), std::string(model) + ": entropy_bottleneck._offset differs");
    EXPECT_MSG(at::equal(eb.cdf_length, eb_len), std::string(model) + ": entropy_bottleneck._cdf_length differs");
    EXPECT_MSG(at::equal(gc.quantized_cdf, gc_cdf), std::string(model) + ": gaussian_conditional._quantized_cdf differs");
    EXPECT_MSG(at::equal(gc.offset, gc_off), std::string(model) + ": gaussian_conditional._offset differs");
    EXPECT_MSG(at::equal(gc.cdf_length, gc_len), std::string(model) + ": gaussian_conditional._cdf_length differs");
    EXPECT_MSG(at::allclose(gc.scale_table, psic::GaussianConditional::default_scale_table()),
              "scale table is exp(linspace(ln 0.11, ln 256, 64))");
  }
}

PSIC_CHECK_CASE("pmf_to_quantized_cdf: every symbol keeps a non-zero frequency") {
  std::vector<float> pmf = {0.5f, 1e-9f, 0.25f, 0.0f, 0.25f, 1e-12f};
  auto cdf = psic::pmf_to_quantized_cdf(pmf);
  EXPECT(cdf.front() == 0 && cdf.back() == 65536);
  for (size_t i = 0; i + 1 < cdf.size(); ++i) EXPECT(cdf[i + 1] > cdf[i]);
  EXPECT_THROWS_AS(psic::pmf_to_quantized_cdf({-1.0f, 2.0f}), psic::WeightsError);
}

PSIC_CHECK_CASE("checkpoints: both EntropyBottleneck key styles load to the same model") {
  PSIC_NEEDS_SHARED();
  auto current = psic::load_model(checkpoint_for("tiny-N16-M24").string());
  auto legacy = psic::load_model((fixtures() / "tiny-N16-M24.legacy-keys.pth.tar").string());
  EXPECT(current.model_id == legacy.model_id);
  EXPECT(current.model->config.N == 16 && current.model->config.M == 24);
  auto big = psic::load_model(checkpoint_for("hyperprior-N128-M192").string());
  EXPECT(big.model->config.N == 128 && big.model->config.M == 192);
  EXPECT(big.model_id != current.model_id);
}

PSIC_CHECK_CASE("fixtures: compat path reproduces CompressAI's tensors and strings (1 thread)") {
  PSIC_NEEDS_SHARED();
  psic::set_intra_op_threads(1);
  psic::ScopedIntraOpThreads one(1);
  at::NoGradGuard no_grad;
  // The fixtures' floats come from OpenBLAS's Cooperlake sgemm kernels (AVX-512 + BF16). Other
  // CPUs run other kernels, whose sums round differently by a few ulp: there the float tensors
  // are compared within a tolerance, while the strings and indexes (what bit-exactness is
  // about) must still match exactly.
  const bool reference_kernels = psic::preferred_openblas_core_type() == "Cooperlake";
  const double float_tol = reference_kernels ? 0.0 : 1e-4;
  std::map<std::string, psic::LoadedModel> models;
  int cases = 0;
  for (const auto& c : fixture_cases()) {
    if (!models.count(c.model)) models.emplace(c.model, psic::load_model(checkpoint_for(c.model).string()));
    auto& model = hyperprior(models.at(c.model));
    const std::string tag = c.model + "/" + c.stem + ": ";
    const auto hw = c.manifest["original_hw"].get<std::vector<int64_t>>();
    const auto padded = c.manifest["padding"]["padded_hw"].get<std::vector<int64_t>>();
    const int64_t H = padded[0], W = padded[1], N = model.config.N, M = model.config.M;
    const psic::ForwardOptions compat;
    const auto y_string = read_file(c.dir / "y_string.bin");
    const auto z_string = read_file(c.dir / "z_string.bin");

    if (fs::exists(c.dir / "x_padded.bin")) {
      const at::Tensor x = read_tensor(c.dir / "x_padded.bin", at::kFloat, {1, 3, H, W});
      const at::Tensor y = model.g_a.forward(x, compat);
      const double ydiff = max_abs_diff(y, read_tensor(c.dir / "y.bin", at::kFloat, {1, M, H / 16, W / 16}));
      EXPECT_MSG(ydiff <= float_tol, tag + "y differs by " + std::to_string(ydiff));
      const at::Tensor z = model.latent_codec.h_a.forward(at::abs(y), compat);
      const double zdiff = max_abs_diff(z, read_tensor(c.dir / "z.bin", at::kFloat, {1, N, H / 64, W / 64}));
      EXPECT_MSG(zdiff <= float_tol, tag + "z differs by " + std::to_string(zdiff));
      psic::LatentShapes shapes{};
      const auto strings = model.compress(x, compat, nullptr, &shapes);
      EXPECT_MSG(strings.y == y_string, tag + "y string differs from CompressAI's");
      EXPECT_MSG(strings.z == z_string, tag + "z string differs from CompressAI's");
      const at::Tensor z_hat = model.latent_codec.entropy_bottleneck.decompress({&strings.z}, H / 64, W / 64);
      EXPECT_MSG(at::equal(z_hat, read_tensor(c.dir / "z_hat.bin", at::kFloat, {1, N, H / 64, W / 64})), tag + "z_hat differs");
      const at::Tensor scales = model.latent_codec.hyper_scales(z_hat);
      const double sdiff = max_abs_diff(scales, read_tensor(c.dir / "scales_hat.bin", at::kFloat, {1, M, H / 16, W / 16}));
      EXPECT_MSG(sdiff <= float_tol, tag + "scales_hat differs by " + std::to_string(sdiff));
      const at::Tensor indexes = model.latent_codec.gaussian_conditional.build_indexes(scales);
      EXPECT_MSG(at::equal(indexes, read_tensor(c.dir / "indexes.bin", at::kInt, {1, M, H / 16, W / 16})), tag + "indexes differ");
    }
    // Decode CompressAI's own strings.
    psic::LatentStrings strings{y_string, z_string};
    psic::LatentShapes shapes{M, H / 16, W / 16, N, H / 64, W / 64};
    at::Tensor x_hat = model.decode(model.latent().decompress(strings, shapes, nullptr), at::Tensor(), compat, nullptr);
    const psic::Padding p = psic::compute_padding(hw[0], hw[1]);
    x_hat = x_hat.slice(2, p.top, p.top + hw[0]).slice(3, p.left, p.left + hw[1]);
    const at::Tensor expected = read_tensor(c.dir / "x_hat.bin", at::kFloat, {1, 3, hw[0], hw[1]});
    const double err = max_abs_diff(x_hat, expected);
    EXPECT_MSG(err <= 1e-4, tag + "x_hat max abs error " + std::to_string(err) + " > 1e-4");
    ++cases;
  }
  EXPECT_MSG(cases == 9, "expected 9 fixture cases, found " + std::to_string(cases));
}

PSIC_CHECK_CASE("synthesis: conv + pixel-shuffle rewrite equals ConvTranspose2d within 1e-5") {
  at::NoGradGuard no_grad;
  at::manual_seed(3);
  for (auto [in, out] : std::vector<std::pair<int64_t, int64_t>>{{8, 5}, {16, 3}, {24, 16}}) {
    psic::ConvTranspose2d deconv(in, out, 5, 2);
    deconv.prepare_inference();
    const at::Tensor x = at::randn({2, in, 7, 9});
    const double err = max_abs_diff(deconv.forward_transposed(x), deconv.forward_subpixel(x));
    EXPECT_MSG(err <= 1e-5, "rewrite error " + std::to_string(err));
  }
  if (!psic_test::shared_dir().empty()) {
    auto loaded = psic::load_model(checkpoint_for("hyperprior-N128-M192").string());
    auto& model = hyperprior(loaded);
    const at::Tensor y_hat = at::round(at::randn({1, 192, 8, 12}) * 3);
    ForwardOptions fast;
    fast.subpixel_deconv = true;
    fast.channels_last = true;
    const double err = max_abs_diff(model.g_s.forward(y_hat, ForwardOptions{}), model.g_s.forward(y_hat, fast));
    EXPECT_MSG(err <= 1e-5, "whole g_s rewrite error " + std::to_string(err));
  }
}

PSIC_CHECK_CASE("hyper scales: identical whatever the caller's thread count") {
  PSIC_NEEDS_SHARED();
  at::NoGradGuard no_grad;
  auto loaded = psic::load_model(checkpoint_for("hyperprior-N128-M192").string());
  const at::Tensor z_hat = at::round(at::randn({1, 128, 8, 12}) * 4);
  at::Tensor a, b;
  {
    psic::ScopedIntraOpThreads t(1);
    a = hyperprior(loaded).latent_codec.hyper_scales(z_hat);
  }
  {
    psic::ScopedIntraOpThreads t(2);
    b = hyperprior(loaded).latent_codec.hyper_scales(z_hat);
  }
  EXPECT(at::equal(a, b));
}

PSIC_CHECK_CASE("codec: fast path round trip, container checks, model mismatch") {
  PSIC_NEEDS_SHARED();
  auto codec = psic::Codec::load(checkpoint_for("tiny-N16-M24").string());
  auto other = psic::Codec::load(checkpoint_for("hyperprior-N128-M192").string());
  std::mt19937 rng(1);
  const int64_t w = 70, h = 45;
  std::vector<uint8_t> rgb(w * h * 3);
  for (auto& v : rgb) v = static_cast<uint8_t>(rng() % 256);
  for (bool fast : {false, true}) {
    psic::CodecOptions o;
    o.fast = fast;
    auto enc = codec->compress(rgb.data(), w, h, o);
    auto dec = codec->decompress(enc.container.data(), enc.container.size(), o, false);
    EXPECT(dec.width == w && dec.height == h && dec.rgb8.size() == rgb.size());
    EXPECT_THROWS_AS(other->decompress(enc.container.data(), enc.container.size(), o, false), psic::ModelMismatchError);
    auto truncated = enc.container;
    truncated.pop_back();
    EXPECT_THROWS_AS(codec->decompress(truncated.data(), truncated.size(), o, false), psic::FormatError);
    psic::CodecOptions small = o;
    small.pixel_limit = 100;
    EXPECT_THROWS_AS(codec->decompress(enc.container.data(), enc.container.size(), small, false), psic::LimitError);
    EXPECT_THROWS_AS(codec->compress(rgb.data(), w, h, small), psic::LimitError);
  }
  EXPECT_THROWS_AS(codec->compress(rgb.data(), 0, h, psic::CodecOptions{}), psic::InputError);
}

PSIC_CHECK_CASE("model files: save then load gives the same id and outputs; bad weights are named") {
  PSIC_NEEDS_SHARED();
  auto loaded = psic::load_model(checkpoint_for("tiny-N16-M24").string());
  const fs::path tmp = fs::temp_directory_path() / ("psic-check-" + std::to_string(::getpid()) + ".safetensors");
  psic::save_model(*loaded.model, tmp.string());
  auto again = psic::load_model(tmp.string());
  EXPECT(again.model_id == loaded.model_id);
  EXPECT(again.source == "psic");
  fs::remove(tmp);

  // A state_dict with a wrong shape is rejected with the key's name.
  psic::NamedTensors state;
  loaded.model->visit_state("", [&](const std::string& n, at::Tensor& t, psic::StateKind) { state.emplace_back(n, t); });
  for (auto& [name, t] : state)
    if (name == "g_s.2.weight") t = at::zeros({3, 3, 5, 5});
  try {
    psic::model_from_state_dict(state, "test");
    EXPECT_MSG(false, "wrong shape accepted");
  } catch (const psic::WeightsError& e) {
    EXPECT_MSG(std::string(e.what()).find("g_s.2.weight") != std::string::npos, e.what());
  }
  EXPECT_THROWS_AS(psic::load_model("/nonexistent/model.pth"), psic::WeightsError);
  EXPECT_THROWS_AS(psic::load_model((fixtures() / "inputs" / "k15-64x64.png").string()), psic::FormatError);
}

PSIC_CHECK_CASE("training forward: noisy latents, likelihoods, gradients, aux loss") {
  PSIC_NEEDS_SHARED();
  auto loaded = psic::load_model(checkpoint_for("tiny-N16-M24").string());
  auto& model = hyperprior(loaded);
  at::manual_seed(0);
  const at::Tensor x = at::rand({2, 3, 64, 64});
  {
    at::NoGradGuard no_grad;
    // Eval-mode forward: y_hat = round(y), and the likelihood of each rounded symbol.
    const auto eval = model.forward(x, /*training=*/false);
    EXPECT(eval.x_hat.sizes() == x.sizes());
    EXPECT(eval.likelihoods[0].sizes() == at::IntArrayRef({2, 24, 4, 4}));
    EXPECT(eval.likelihoods[1].sizes() == at::IntArrayRef({2, 16, 1, 1}));
    EXPECT(eval.likelihoods[0].min().item<float>() >= 1e-9f && eval.likelihoods[0].max().item<float>() <= 1.0f);
    // Its estimated bits agree with the real stream for the same input (within 10 %).
    psic::LatentShapes shapes{};
    const auto strings = model.compress(x.slice(0, 0, 1), ForwardOptions{}, nullptr, &shapes);
    const double real_bits = 8.0 * static_cast<double>(strings.y.size() + strings.z.size());
    const double est_bits = -(at::log2(eval.likelihoods[0][0]).sum().item<double>() + at::log2(eval.likelihoods[1][0]).sum().item<double>());
    EXPECT_MSG(std::abs(real_bits - est_bits) < 0.1 * real_bits + 64,
               "estimated " + std::to_string(est_bits) + " vs real " + std::to_string(real_bits) + " bits");
  }
  // Training-mode forward (additive uniform noise): a rate-distortion loss sends gradients to
  // every parameter of the transforms and of the entropy models' densities.
  for (auto& p : psic::parameters_of(model)) p.set_requires_grad(true);
  const auto train = model.forward(x, /*training=*/true);
  const double pixels = 2.0 * 64 * 64;
  const at::Tensor bpp = -(at::log2(train.likelihoods[0]).sum() + at::log2(train.likelihoods[1]).sum()) / pixels;
  const at::Tensor loss = 0.01 * 255 * 255 * at::mse_loss(train.x_hat, x) + bpp;
  loss.backward();
  int with_grad = 0, total = 0;
  model.visit_state("", [&](const std::string& name, at::Tensor& t, psic::StateKind kind) {
    if (kind != psic::StateKind::Parameter || name.find("quantiles") != std::string::npos) return;
    ++total;
    if (t.grad().defined() && t.grad().abs().sum().item<double>() > 0) ++with_grad;
  });
  EXPECT_MSG(with_grad == total, std::to_string(with_grad) + " of " + std::to_string(total) + " parameters got gradients");
  const at::Tensor aux = model.latent_codec.entropy_bottleneck.loss();
  EXPECT(std::isfinite(aux.item<double>()) && aux.item<double>() > 0);
  aux.backward();
  EXPECT(model.latent_codec.entropy_bottleneck.quantiles.grad().defined());
}
