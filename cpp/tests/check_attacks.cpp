// The attacks the evaluation compares PSIC with (cpp/attacks): the agreement objective against a
// hand computation, PGD's projection and first step against the analytic gradient, and the
// key search's bookkeeping and progress on a small random-init model.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "attacks/key_search.h"
#include "attacks/pgd_cloak.h"
#include "attacks/target_agreement.h"
#include "check.h"
#include "codec.h"
#include "errors.h"
#include "models/model_loader.h"

namespace {

// A target small enough to differentiate by hand: class probabilities softmax(W·m + b) of the
// image's mean colour m, and (optionally) m itself as an embedding.
class MeanColourTarget : public psic::TargetModel {
 public:
  explicit MeanColourTarget(bool with_embedding) {
    heads_.push_back({"colour", psic::TargetHeadKind::Classifier, {"a", "b", "c"}});
    if (with_embedding) heads_.push_back({"mean", psic::TargetHeadKind::Embedding, {}});
  }
  const std::string& name() const override { return name_; }
  const std::vector<psic::TargetHead>& heads() const override { return heads_; }
  std::string preprocessing() const override { return "mean colour"; }
  psic::TargetOutputs forward(const at::Tensor& images) const override {
    const at::Tensor m = images.mean({2, 3});  // [B, 3]
    psic::TargetOutputs out;
    out.heads.push_back(at::softmax(at::matmul(m, W().t()) + bias(), 1));
    if (heads_.size() > 1) out.heads.push_back(m);
    return out;
  }
  static at::Tensor W() { return at::tensor({2.0, -1.0, 0.5, -1.5, 1.0, 2.0, 0.5, 0.5, -2.0}, at::kFloat).view({3, 3}); }
  static at::Tensor bias() { return at::tensor({0.1, -0.2, 0.0}, at::kFloat); }

 private:
  std::string name_ = "mean-colour";
  std::vector<psic::TargetHead> heads_;
};

std::vector<psic::AttackTarget> targets(bool with_embedding, double weight = 1.0) {
  return {{std::make_shared<MeanColourTarget>(with_embedding), weight}};
}

}  // namespace

PSIC_CHECK_CASE("attacks: agreement is the mean of log p(clean class) and cos(f(x), f(clean)) over heads") {
  at::manual_seed(1);
  const at::Tensor clean = at::rand({2, 3, 4, 5}), x = at::rand({2, 3, 4, 5});
  const auto t = targets(true);
  const double got = psic::target_agreement(t, psic::clean_readings(t, clean), x).item<double>();
  // Hand computation in doubles.
  const at::Tensor mc = clean.mean({2, 3}).to(at::kDouble), mx = x.mean({2, 3}).to(at::kDouble);
  const at::Tensor W = MeanColourTarget::W().to(at::kDouble), b = MeanColourTarget::bias().to(at::kDouble);
  double cls = 0, emb = 0;
  for (int64_t i = 0; i < 2; ++i) {
    std::vector<double> zc(3), zx(3);
    for (int j = 0; j < 3; ++j) {
      zc[j] = b[j].item<double>();
      zx[j] = b[j].item<double>();
      for (int k = 0; k < 3; ++k) {
        zc[j] += W[j][k].item<double>() * mc[i][k].item<double>();
        zx[j] += W[j][k].item<double>() * mx[i][k].item<double>();
      }
    }
    const int top = static_cast<int>(std::max_element(zc.begin(), zc.end()) - zc.begin());
    double lse = 0;
    for (double z : zx) lse += std::exp(z);
    cls += (zx[top] - std::log(lse)) / 2;
    double dot = 0, na = 0, nb = 0;
    for (int k = 0; k < 3; ++k) {
      dot += mx[i][k].item<double>() * mc[i][k].item<double>();
      na += mx[i][k].item<double>() * mx[i][k].item<double>();
      nb += mc[i][k].item<double>() * mc[i][k].item<double>();
    }
    emb += dot / std::sqrt(na * nb) / 2;
  }
  const double want = (cls + emb) / 2;
  EXPECT_MSG(std::abs(got - want) < 1e-6, "agreement " + std::to_string(got) + " != " + std::to_string(want));
  // Weights average targets: two copies of one target give the same value.
  auto two = targets(true, 3.0);
  two.push_back(targets(true, 1.0)[0]);
  const double both = psic::target_agreement(two, psic::clean_readings(two, clean), x).item<double>();
  EXPECT_MSG(std::abs(both - got) < 1e-6, "weighted mean of equal targets changed the value");
  EXPECT_THROWS_AS(psic::target_agreement({}, {}, x), psic::InputError);
}

PSIC_CHECK_CASE("attacks: PGD's first step is the projected signed gradient; later steps stay in the ε-ball") {
  at::manual_seed(2);
  const at::Tensor x = at::rand({2, 3, 6, 7});
  const auto t = targets(false);
  psic::PgdOptions o;
  o.random_start = false;
  o.steps = 1;
  o.epsilon = 4.0 / 255;
  o.step_size = 3.0 / 255;
  const at::Tensor one = psic::pgd_cloak(t, x, o);
  // d/dm log p_k(m) = W_k − Σ_j p_j W_j, the same for every pixel of a channel.
  const at::Tensor m = x.mean({2, 3}).to(at::kDouble);
  const at::Tensor W = MeanColourTarget::W().to(at::kDouble);
  const at::Tensor p = at::softmax(at::matmul(m, W.t()) + MeanColourTarget::bias().to(at::kDouble), 1);
  for (int64_t i = 0; i < 2; ++i) {
    const int64_t k = p[i].argmax().item<int64_t>();
    for (int64_t c = 0; c < 3; ++c) {
      double g = W[k][c].item<double>();
      for (int64_t j = 0; j < 3; ++j) g -= p[i][j].item<double>() * W[j][c].item<double>();
      const at::Tensor want = (x[i][c] - o.step_size * (g > 0 ? 1 : -1))
                                  .clamp(x[i][c] - o.epsilon, x[i][c] + o.epsilon).clamp(0, 1);
      EXPECT_MSG((one[i][c] - want).abs().max().item<double>() < 1e-6, "first step differs, image " + std::to_string(i));
    }
  }
  o.steps = 20;
  o.random_start = true;
  const at::Tensor adv = psic::pgd_cloak(t, x, o);
  EXPECT((adv - x).abs().max().item<double>() <= o.epsilon + 1e-6);
  EXPECT(adv.min().item<double>() >= 0 && adv.max().item<double>() <= 1);
  const auto clean = psic::clean_readings(t, x);
  EXPECT(psic::target_agreement(t, clean, adv).item<double>() < psic::target_agreement(t, clean, x).item<double>());
  o.steps = 0;
  o.random_start = false;
  EXPECT(at::equal(psic::pgd_cloak(t, x, o), x));
  o.epsilon = 2;
  EXPECT_THROWS_AS(psic::pgd_cloak(t, x, o), psic::InputError);
}

PSIC_CHECK_CASE("attacks: the key search keeps its best condition and reports its true loss") {
  auto loaded = psic::init_model(psic::ModelConfig::make("psic-hyperprior", 16, 24, 4), 5);
  psic::CompressionModel& model = *loaded.model;
  at::NoGradGuard no_grad_setup;
  at::manual_seed(3);
  const at::Tensor img = at::rand({1, 3, 64, 64});
  const at::Tensor y_hat = at::round(model.g_a.forward(img, psic::ForwardOptions{}));
  const at::Tensor secret = at::tensor({0.3, -0.5, 0.7, 0.1}, at::kFloat).view({1, 4});
  const psic::Padding pad{2, 2, 3, 3};
  const at::Tensor clean = model.synthesize(y_hat, secret, psic::ForwardOptions{}).clamp(0, 1).narrow(2, 3, 58).narrow(3, 2, 60);
  const std::vector<psic::KeySearchItem> items{{y_hat, clean, pad}};
  psic::KeySearchOptions o;
  o.objective = psic::KeySearchObjective::Pixels;
  o.steps = 40;
  o.restarts = 2;
  o.lr = 0.03;
  at::GradMode::set_enabled(true);
  const psic::KeySearchResult r = psic::key_search(model, items, {}, o);
  at::GradMode::set_enabled(false);
  EXPECT(r.traces.size() == 2 && r.traces[0].size() == 5);
  EXPECT(r.condition.numel() == 4 && r.condition.abs().max().item<double>() < 1);
  // The reported loss is the MSE of the returned condition's decode, and no worse than any start.
  const at::Tensor x = model.synthesize(y_hat, r.condition.view({1, 4}), psic::ForwardOptions{}).clamp(0, 1).narrow(2, 3, 58).narrow(3, 2, 60);
  const double mse = (x - clean).pow(2).mean().item<double>();
  EXPECT_MSG(std::abs(mse - r.objective) < 1e-7, "reported " + std::to_string(r.objective) + ", recomputed " + std::to_string(mse));
  // ... and the search made progress from every start.
  for (const auto& trace : r.traces) EXPECT_MSG(r.objective < trace.front(), "no progress from a start");
  // The target objective moves agreement up.
  o.objective = psic::KeySearchObjective::Target;
  o.restarts = 1;
  at::GradMode::set_enabled(true);
  const psic::KeySearchResult rt = psic::key_search(model, items, targets(true), o);
  at::GradMode::set_enabled(false);
  EXPECT(rt.objective <= rt.traces[0].front());
  EXPECT_THROWS_AS(psic::key_search(model, items, {}, o), psic::InputError);  // target objective, no targets
  auto plain = psic::init_model(psic::ModelConfig::make("bmshj2018-hyperprior", 16, 24), 5);
  EXPECT_THROWS_AS(psic::key_search(*plain.model, items, {}, o), psic::InputError);
}
