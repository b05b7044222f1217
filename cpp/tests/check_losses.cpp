// The training losses (cpp/training: rd_loss, uaeo_loss, target_similarity) against independent
// hand computations in plain doubles, their autograd gradients against central finite
// differences, and their input checks.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "errors.h"
#include "training/rd_loss.h"
#include "training/target_similarity.h"
#include "training/uaeo_loss.h"

namespace {

using Mat = std::vector<std::vector<double>>;
using Index = std::vector<int64_t>;

// Deterministic values in [lo, hi) (no std distribution: those differ between libraries).
std::vector<double> uniform(size_t n, uint32_t seed, double lo = -1, double hi = 1) {
  std::mt19937 rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = lo + (hi - lo) * (static_cast<double>(rng()) / 4294967296.0);
  return v;
}

Mat random_mat(size_t rows, size_t cols, uint32_t seed, double lo = -1, double hi = 1) {
  const std::vector<double> v = uniform(rows * cols, seed, lo, hi);
  Mat m(rows, std::vector<double>(cols));
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) m[i][j] = v[i * cols + j];
  return m;
}

at::Tensor to_tensor(const Mat& m) {
  std::vector<double> flat;
  for (const auto& row : m) flat.insert(flat.end(), row.begin(), row.end());
  return at::tensor(flat, at::kDouble).view({static_cast<int64_t>(m.size()), static_cast<int64_t>(m[0].size())});
}

at::Tensor to_tensor(const std::vector<double>& v, at::IntArrayRef shape) { return at::tensor(v, at::kDouble).view(shape); }

at::Tensor to_index(const Index& v) { return at::tensor(v, at::kLong); }

Mat from_tensor(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kDouble).contiguous();
  auto a = c.accessor<double, 2>();
  Mat m(c.size(0), std::vector<double>(c.size(1)));
  for (int64_t i = 0; i < c.size(0); ++i)
    for (int64_t j = 0; j < c.size(1); ++j) m[i][j] = a[i][j];
  return m;
}

Index index_values(const at::Tensor& t) {
  Index v;
  for (int64_t i = 0; i < t.size(0); ++i) v.push_back(t[i].item<int64_t>());
  return v;
}

double max_abs_diff(const at::Tensor& t, const Mat& want) {
  const Mat got = from_tensor(t);
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i)
    for (size_t j = 0; j < want[i].size(); ++j) worst = std::max(worst, std::abs(got[i][j] - want[i][j]));
  return worst;
}

// log softmax of v at k, by log-sum-exp with the max taken out.
double log_softmax_at(const std::vector<double>& v, size_t k) {
  const double mx = *std::max_element(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += std::exp(x - mx);
  return v[k] - mx - std::log(sum);
}

std::vector<double> scaled_row(const Mat& m, size_t i, double s) {
  std::vector<double> r;
  for (double x : m[i]) r.push_back(x / s);
  return r;
}

std::vector<double> scaled_col(const Mat& m, size_t j, double s) {
  std::vector<double> c;
  for (const auto& row : m) c.push_back(row[j] / s);
  return c;
}

// First index of the strict minimum / maximum (as ATen's argmin / argmax), skipping `skip`.
size_t argmin_of(const std::vector<double>& v, int64_t skip = -1) {
  size_t best = v.size();
  for (size_t j = 0; j < v.size(); ++j)
    if (static_cast<int64_t>(j) != skip && (best == v.size() || v[j] < v[best])) best = j;
  return best;
}
size_t argmax_of(const std::vector<double>& v) { return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin()); }

bool is_paired(const Mat& c, const Index& truth) {
  if (c[0].size() != c.size()) return false;
  for (size_t i = 0; i < truth.size(); ++i)
    if (truth[i] != static_cast<int64_t>(i)) return false;
  return true;
}

struct HandPaper {
  double loss = 0;
  Index n;             // argmin over j != true(i)
  Index n_unexcluded;  // argmin over every j (what excluding the true pair avoids)
};

// Paper eqs 5–9, written out.
HandPaper hand_paper(const Mat& C, const Mat& P, const Index& truth, double s) {
  const size_t K = C.size(), J = C[0].size();
  const bool paired = is_paired(C, truth);
  Mat e(K, std::vector<double>(J));
  for (size_t i = 0; i < K; ++i)
    for (size_t j = 0; j < J; ++j) e[i][j] = std::exp(std::tanh(C[i][j] / s));
  HandPaper out;
  for (size_t i = 0; i < K; ++i) {
    std::vector<double> eb(J), u(J);
    double den = 0;
    for (size_t j = 0; j < J; ++j) {
      eb[j] = paired ? e[i][j] + e[j][i] : e[i][j];
      den += eb[j] + 1;
    }
    for (size_t j = 0; j < J; ++j) u[j] = eb[j] / den;
    const size_t n = argmin_of(u, truth[i]);
    out.n.push_back(static_cast<int64_t>(n));
    out.n_unexcluded.push_back(static_cast<int64_t>(argmin_of(u)));
    out.loss += -log_softmax_at(scaled_row(P, i, s), n) / static_cast<double>(K);
  }
  return out;
}

double hand_naive(const Mat& P, const Index& truth) {
  double sum = 0;
  for (size_t i = 0; i < P.size(); ++i) sum += P[i][truth[i]];
  return sum / static_cast<double>(P.size());
}

struct HandCode {
  double loss = 0, clean_loss = 0, noisy_loss = 0, w_clean = 0, w_noisy = 0;
  Index target;
  std::vector<bool> clean;
  int n_clean = 0, n_noisy = 0;
};

// The authors' code, written out (see uaeo_loss.cpp for the steps).
HandCode hand_code(const Mat& C, const Mat& P, const Index& truth, double s, bool weighting) {
  const size_t K = C.size(), J = C[0].size();
  const bool paired = is_paired(C, truth);
  Mat e(K, std::vector<double>(J));
  for (size_t i = 0; i < K; ++i)
    for (size_t j = 0; j < J; ++j) {
      const double raw = paired ? 0.5 * (C[i][j] / 0.07 + C[j][i] / 0.07) : C[i][j] / 0.07;
      e[i][j] = std::exp(std::tanh(raw) / s);
    }
  HandCode out;
  double clean_sum = 0, noisy_sum = 0;
  for (size_t i = 0; i < K; ++i) {
    std::vector<double> E(J), a(J), b(J);
    double row = 0;
    for (size_t j = 0; j < J; ++j) row += paired ? e[i][j] + e[j][i] : e[i][j];
    for (size_t j = 0; j < J; ++j) {
      E[j] = (paired ? e[i][j] + e[j][i] : e[i][j]) / row;
      a[j] = e[i][j] + 1;
      if (paired) b[j] = e[j][i] + 1;
    }
    const bool clean = static_cast<int64_t>(argmax_of(E)) == truth[i];
    out.clean.push_back(clean);
    if (clean) {
      ++out.n_clean;
      clean_sum += P[i][truth[i]];
      out.target.push_back(-1);
      continue;
    }
    ++out.n_noisy;
    const size_t ai = argmin_of(a);
    double term = -log_softmax_at(scaled_row(P, i, s), ai);
    if (paired) {
      const size_t bi = argmin_of(b);
      term = 0.5 * (term - log_softmax_at(scaled_col(P, i, s), bi));
    }
    noisy_sum += term;
    out.target.push_back(static_cast<int64_t>(ai));
  }
  out.clean_loss = out.n_clean ? clean_sum / out.n_clean : 0;
  out.noisy_loss = out.n_noisy ? noisy_sum / out.n_noisy : 0;
  if (!weighting) {
    out.w_clean = 10;
    out.w_noisy = 1;
  } else {
    const double ic = out.n_clean ? 1 / (out.clean_loss + 1e-8) : 0;
    const double in = out.n_noisy ? 1 / (out.noisy_loss + 1e-8) : 0;
    out.w_clean = ic / (ic + in);
    out.w_noisy = in / (ic + in);
  }
  out.loss = out.w_clean * out.clean_loss + out.w_noisy * out.noisy_loss;
  return out;
}

// Worst relative error, max_i |numeric_i − autograd_i| / max(1, |autograd_i|), of loss's
// gradient at x0 against central differences of value (by default loss itself).
double gradient_error(const std::function<at::Tensor(const at::Tensor&)>& loss, const at::Tensor& x0,
                      std::function<double(const at::Tensor&)> value = nullptr) {
  if (!value) value = [&](const at::Tensor& x) { return loss(x).item<double>(); };
  at::Tensor x = x0.clone().requires_grad_(true);
  loss(x).backward();
  const at::Tensor g = x.grad().flatten();
  const at::Tensor flat = x0.flatten();
  const double h = 1e-6;
  double worst = 0;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    at::Tensor p = flat.clone(), m = flat.clone();
    p[i] += h;
    m[i] -= h;
    const double num = (value(p.view_as(x0)) - value(m.view_as(x0))) / (2 * h);
    const double ana = g[i].item<double>();
    worst = std::max(worst, std::abs(num - ana) / std::max(1.0, std::abs(ana)));
  }
  return worst;
}

psic::UaeoOptions options(psic::UaeoVariant v, double s, bool weighting = false) {
  psic::UaeoOptions o;
  o.variant = v;
  o.s = s;
  o.code_stage2_weighting = weighting;
  return o;
}

const Index kIdentity4 = {0, 1, 2, 3};

// A paired batch the authors' code splits into clean rows 0, 1 and noisy rows 2, 3: after
// symmetrisation, row 2's largest entry is column 3 and row 3's is column 2. Values are small so
// that tanh(cos / 0.07) is not saturated.
const Mat kCodeClean = {{0.09, 0.01, -0.03, 0.02},
                        {0.00, 0.08, 0.03, -0.05},
                        {-0.02, 0.04, 0.01, 0.07},
                        {0.05, -0.04, 0.06, 0.02}};

std::string num(double x) { return std::to_string(x); }

}  // namespace

PSIC_CHECK_CASE("losses: rate-distortion is lambda*255^2*MSE + bpp from the likelihoods") {
  const std::vector<double> x = uniform(2 * 3 * 4 * 5, 1, 0, 1), noise = uniform(x.size(), 2, -0.1, 0.1);
  std::vector<double> x_hat(x.size());
  for (size_t i = 0; i < x.size(); ++i) x_hat[i] = x[i] + noise[i];
  const std::vector<double> ly = uniform(2 * 4 * 2 * 3, 3, 0.01, 1), lz = uniform(2 * 4, 4, 0.01, 1);
  const double lambda = 0.0130;

  double se = 0, bits = 0;
  for (size_t i = 0; i < x.size(); ++i) se += (x_hat[i] - x[i]) * (x_hat[i] - x[i]);
  for (double l : ly) bits += -std::log2(l);
  for (double l : lz) bits += -std::log2(l);
  const double want_mse = se / static_cast<double>(x.size());
  const double want_bpp = bits / (2.0 * 4 * 5);  // N·H·W pixels, not N·C·H·W values
  const double want_loss = lambda * 255 * 255 * want_mse + want_bpp;

  const at::Tensor tx = to_tensor(x, {2, 3, 4, 5}), tx_hat = to_tensor(x_hat, {2, 3, 4, 5});
  const at::Tensor tly = to_tensor(ly, {2, 4, 2, 3}), tlz = to_tensor(lz, {2, 4, 1, 1});
  const psic::RateDistortion rd = psic::rate_distortion_loss(tx_hat, tx, {tly, tlz}, lambda);
  EXPECT_MSG(std::abs(rd.mse.item<double>() - want_mse) < 1e-6, "mse " + num(rd.mse.item<double>()) + " want " + num(want_mse));
  EXPECT_MSG(std::abs(rd.bpp.item<double>() - want_bpp) < 1e-6, "bpp " + num(rd.bpp.item<double>()) + " want " + num(want_bpp));
  EXPECT_MSG(std::abs(rd.loss.item<double>() - want_loss) < 1e-6, "loss " + num(rd.loss.item<double>()) + " want " + num(want_loss));
  const double alone = psic::bits_per_pixel({tly, tlz}, 2 * 4 * 5).item<double>();
  EXPECT_MSG(std::abs(alone - want_bpp) < 1e-6, "bits_per_pixel " + num(alone) + " want " + num(want_bpp));
  EXPECT_THROWS_AS(psic::bits_per_pixel({tly}, 0), psic::InputError);
  // No likelihoods: a distortion-only loss.
  EXPECT(std::abs(psic::rate_distortion_loss(tx_hat, tx, {}, lambda).bpp.item<double>()) < 1e-12);
}

PSIC_CHECK_CASE("losses: rate-distortion gradients (x_hat, likelihoods) match finite differences") {
  const at::Tensor x = to_tensor(uniform(2 * 3 * 4 * 4, 5, 0, 1), {2, 3, 4, 4});
  const at::Tensor x_hat = x + to_tensor(uniform(x.numel(), 6, -0.1, 0.1), {2, 3, 4, 4});
  const at::Tensor ly = to_tensor(uniform(2 * 2 * 2 * 2, 7, 0.05, 1), {2, 2, 2, 2});
  const double e1 = gradient_error([&](const at::Tensor& xh) { return psic::rate_distortion_loss(xh, x, {ly}, 0.01).loss; }, x_hat);
  EXPECT_MSG(e1 < 1e-6, "x_hat gradient error " + num(e1));
  const double e2 = gradient_error([&](const at::Tensor& l) { return psic::rate_distortion_loss(x_hat, x, {l}, 0.01).loss; }, ly);
  EXPECT_MSG(e2 < 1e-6, "likelihood gradient error " + num(e2));
}

PSIC_CHECK_CASE("losses: uaeo paper variant (paired, bidirectional evidence) matches eqs 5-9 by hand") {
  for (const double s : {0.1, 0.3, 0.7}) {
    const Mat C = random_mat(4, 4, 11), P = random_mat(4, 4, 12);
    const HandPaper want = hand_paper(C, P, kIdentity4, s);
    const psic::UaeoResult r = psic::uaeo_loss(to_tensor(C), to_tensor(P), to_index(kIdentity4), options(psic::UaeoVariant::Paper, s));
    EXPECT_MSG(std::abs(r.loss.item<double>() - want.loss) < 1e-6,
               "s " + num(s) + ": loss " + num(r.loss.item<double>()) + " want " + num(want.loss));
    EXPECT(index_values(r.target_index) == want.n);
    EXPECT(!r.clean_mask.defined());
  }
}

PSIC_CHECK_CASE("losses: uaeo paper variant, unpaired matrices (classes as texts) use one-directional evidence") {
  // K = 3 images against J = 5 classes; and square but not the identity: also one-directional
  // (the hand computation checks pairing itself).
  const struct { Mat C, P; Index truth; } cases[] = {{random_mat(3, 5, 21), random_mat(3, 5, 22), {2, 0, 4}},
                                                     {random_mat(3, 3, 23), random_mat(3, 3, 24), {1, 2, 0}}};
  for (const auto& c : cases) {
    const HandPaper want = hand_paper(c.C, c.P, c.truth, 0.2);
    const psic::UaeoResult r = psic::uaeo_loss(to_tensor(c.C), to_tensor(c.P), to_index(c.truth), options(psic::UaeoVariant::Paper, 0.2));
    EXPECT_MSG(std::abs(r.loss.item<double>() - want.loss) < 1e-6, "loss " + num(r.loss.item<double>()) + " want " + num(want.loss));
    EXPECT(index_values(r.target_index) == want.n);
  }
}

PSIC_CHECK_CASE("losses: uaeo paper target n(i) excludes the true pair, even when it is the least believed") {
  // Row 1's true pair has by far the lowest clean similarity (in both directions), so an argmin
  // over all j would pick it.
  const Mat C = {{0.8, 0.1, -0.2, 0.3}, {0.2, -0.9, 0.0, 0.1}, {-0.1, 0.3, 0.7, -0.3}, {0.4, 0.0, 0.2, 0.6}};
  const Mat P = random_mat(4, 4, 31);
  const HandPaper want = hand_paper(C, P, kIdentity4, 0.3);
  EXPECT_MSG(want.n_unexcluded[1] == 1, "the case is meant to make row 1's unrestricted argmin its true pair");
  const psic::UaeoResult r = psic::uaeo_loss(to_tensor(C), to_tensor(P), to_index(kIdentity4), options(psic::UaeoVariant::Paper, 0.3));
  const Index n = index_values(r.target_index);
  EXPECT(n == want.n);
  for (size_t i = 0; i < n.size(); ++i) EXPECT_MSG(n[i] != static_cast<int64_t>(i), "n(" + std::to_string(i) + ") is the true pair");
  EXPECT(std::abs(r.loss.item<double>() - want.loss) < 1e-6);
  // Random batches, paired and not: never the true index.
  for (uint32_t seed = 40; seed < 60; ++seed) {
    const Mat Cr = random_mat(5, 5, seed);
    Index truth = {0, 1, 2, 3, 4};
    if (seed % 2) truth = {3, 3, 0, 1, 4};
    const Index got = index_values(
        psic::uaeo_loss(to_tensor(Cr), to_tensor(Cr), to_index(truth), options(psic::UaeoVariant::Paper, 0.1)).target_index);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_MSG(got[i] != truth[i], "seed " + std::to_string(seed) + ": n(i) == true(i)");
  }
}

PSIC_CHECK_CASE("losses: uaeo naive variant is the mean true-pair similarity") {
  const Mat P = random_mat(3, 5, 51);
  const Index truth = {4, 1, 0};
  const psic::UaeoResult r =
      psic::uaeo_loss(to_tensor(random_mat(3, 5, 52)), to_tensor(P), to_index(truth), options(psic::UaeoVariant::Naive, 0.1));
  EXPECT_MSG(std::abs(r.loss.item<double>() - hand_naive(P, truth)) < 1e-6, "loss " + num(r.loss.item<double>()));
  EXPECT(index_values(r.target_index) == Index({-1, -1, -1}));
}

PSIC_CHECK_CASE("losses: uaeo code variant (stage 1: 10 x clean + noisy) matches the authors' code by hand") {
  const Mat P = random_mat(4, 4, 61);
  for (const double s : {0.1, 0.5}) {
    const HandCode want = hand_code(kCodeClean, P, kIdentity4, s, false);
    EXPECT_MSG(want.n_clean == 2 && want.n_noisy == 2, "the case is meant to have 2 clean and 2 noisy rows");
    const psic::UaeoResult r =
        psic::uaeo_loss(to_tensor(kCodeClean), to_tensor(P), to_index(kIdentity4), options(psic::UaeoVariant::Code, s));
    EXPECT_MSG(std::abs(r.loss.item<double>() - want.loss) < 1e-6,
               "s " + num(s) + ": loss " + num(r.loss.item<double>()) + " want " + num(want.loss));
    EXPECT(index_values(r.target_index) == want.target);
    std::vector<bool> mask;
    for (int64_t i = 0; i < 4; ++i) mask.push_back(r.clean_mask[i].item<bool>());
    EXPECT(mask == want.clean);
  }
  // Unpaired (5 classes): image->text terms only; rows 0 and 2 clean, row 1 noisy.
  const Mat C = {{0.01, 0.03, 0.08, -0.02, 0.0}, {0.02, -0.06, 0.05, 0.07, 0.01}, {0.04, 0.0, -0.01, 0.03, 0.06}};
  const Mat P5 = random_mat(3, 5, 62);
  const Index truth = {2, 0, 4};
  const HandCode want = hand_code(C, P5, truth, 0.2, false);
  EXPECT(want.n_clean == 2 && want.n_noisy == 1);
  const psic::UaeoResult r = psic::uaeo_loss(to_tensor(C), to_tensor(P5), to_index(truth), options(psic::UaeoVariant::Code, 0.2));
  EXPECT_MSG(std::abs(r.loss.item<double>() - want.loss) < 1e-6, "loss " + num(r.loss.item<double>()) + " want " + num(want.loss));
  EXPECT(index_values(r.target_index) == want.target);
}

PSIC_CHECK_CASE("losses: uaeo code variant with stage-2 inverse-loss weighting matches by hand") {
  Mat P = random_mat(4, 4, 71);
  P[0][0] = 0.6;  // a positive clean loss, where the inverse weights are meaningful
  P[1][1] = 0.4;
  const HandCode want = hand_code(kCodeClean, P, kIdentity4, 0.1, true);
  const psic::UaeoResult r =
      psic::uaeo_loss(to_tensor(kCodeClean), to_tensor(P), to_index(kIdentity4), options(psic::UaeoVariant::Code, 0.1, true));
  EXPECT_MSG(std::abs(r.loss.item<double>() - want.loss) < 1e-6, "loss " + num(r.loss.item<double>()) + " want " + num(want.loss));
  // With w ∝ 1/L, the value is (about) the harmonic mean of the two group losses.
  const double harmonic = 2 / (1 / want.clean_loss + 1 / want.noisy_loss);
  EXPECT_MSG(std::abs(want.loss - harmonic) < 1e-6, "hand value " + num(want.loss) + " harmonic " + num(harmonic));
  // A missing group contributes 0; alone, a group gets the whole weight (stage 1 keeps the 10).
  const Mat all_clean = {{0.09, 0.0, 0.01, 0.0}, {0.0, 0.08, 0.0, 0.02}, {0.01, 0.0, 0.07, 0.0}, {0.0, 0.02, 0.0, 0.06}};
  const double diag = (P[0][0] + P[1][1] + P[2][2] + P[3][3]) / 4;
  const at::Tensor tc = to_tensor(all_clean), tp = to_tensor(P), ti = to_index(kIdentity4);
  const double stage1 = psic::uaeo_loss(tc, tp, ti, options(psic::UaeoVariant::Code, 0.1)).loss.item<double>();
  const double stage2 = psic::uaeo_loss(tc, tp, ti, options(psic::UaeoVariant::Code, 0.1, true)).loss.item<double>();
  EXPECT_MSG(std::abs(stage1 - 10 * diag) < 1e-6, "all clean, stage 1: " + num(stage1) + " want " + num(10 * diag));
  EXPECT_MSG(std::abs(stage2 - diag) < 1e-6, "all clean, stage 2: " + num(stage2) + " want " + num(diag));
}

PSIC_CHECK_CASE("losses: uaeo gradients w.r.t. protected_sim match finite differences") {
  const Mat C = random_mat(4, 4, 81), C5 = random_mat(3, 5, 82);
  const at::Tensor P = to_tensor(random_mat(4, 4, 83)), P5 = to_tensor(random_mat(3, 5, 84));
  const Index truth5 = {2, 0, 4};
  struct Case {
    const char* name;
    Mat clean;
    at::Tensor prot;
    Index truth;
    psic::UaeoOptions o;
  };
  const std::vector<Case> cases = {
      {"paper paired", C, P, kIdentity4, options(psic::UaeoVariant::Paper, 0.1)},
      {"paper unpaired", C5, P5, truth5, options(psic::UaeoVariant::Paper, 0.3)},
      {"naive", C5, P5, truth5, options(psic::UaeoVariant::Naive, 0.1)},
      {"code paired", kCodeClean, P, kIdentity4, options(psic::UaeoVariant::Code, 0.1)},
      {"code unpaired", C5, P5, truth5, options(psic::UaeoVariant::Code, 0.2)},
  };
  for (const Case& c : cases) {
    const at::Tensor tc = to_tensor(c.clean), ti = to_index(c.truth);
    const double err = gradient_error([&](const at::Tensor& p) { return psic::uaeo_loss(tc, p, ti, c.o).loss; }, c.prot);
    EXPECT_MSG(err < 1e-6, std::string(c.name) + ": gradient error " + num(err));
  }
  // Stage 2: the weights are constants, so the gradient is w_c·∇L_clean + w_n·∇L_noisy with w at
  // the current point (the hand group losses, differenced with those weights held fixed).
  Mat P2 = from_tensor(P);
  P2[0][0] = 0.6;
  P2[1][1] = 0.4;
  const HandCode at0 = hand_code(kCodeClean, P2, kIdentity4, 0.1, true);
  const at::Tensor tc = to_tensor(kCodeClean), ti = to_index(kIdentity4);
  const double err = gradient_error(
      [&](const at::Tensor& p) { return psic::uaeo_loss(tc, p, ti, options(psic::UaeoVariant::Code, 0.1, true)).loss; },
      to_tensor(P2), [&](const at::Tensor& p) {
        const HandCode h = hand_code(kCodeClean, from_tensor(p), kIdentity4, 0.1, true);
        return at0.w_clean * h.clean_loss + at0.w_noisy * h.noisy_loss;
      });
  EXPECT_MSG(err < 1e-6, "code stage 2: gradient error " + num(err));
}

PSIC_CHECK_CASE("losses: uaeo gives clean_sim no gradient (it is detached)") {
  for (const auto& o : {options(psic::UaeoVariant::Paper, 0.1), options(psic::UaeoVariant::Code, 0.1),
                        options(psic::UaeoVariant::Code, 0.1, true), options(psic::UaeoVariant::Naive, 0.1)}) {
    const at::Tensor c = to_tensor(kCodeClean).requires_grad_(true);
    // None of the variants has a differentiable path from the evidence to the loss (targets are
    // argmins); the contract is that clean_sim's autograd graph is never entered.
    const at::Tensor p_leaf = to_tensor(random_mat(4, 4, 91)).requires_grad_(true);
    psic::uaeo_loss(c, p_leaf, to_index(kIdentity4), o).loss.backward();
    EXPECT(!c.grad().defined());
    EXPECT(p_leaf.grad().defined());
  }
}

PSIC_CHECK_CASE("losses: uaeo and rate-distortion reject mismatched shapes with InputError") {
  const at::Tensor c = to_tensor(random_mat(4, 4, 1)), ti = to_index(kIdentity4);
  const psic::UaeoOptions o;
  EXPECT_THROWS_AS(psic::uaeo_loss(c, to_tensor(random_mat(4, 3, 2)), ti, o), psic::InputError);
  EXPECT_THROWS_AS(psic::uaeo_loss(c, c, to_index({0, 1, 2}), o), psic::InputError);
  EXPECT_THROWS_AS(psic::uaeo_loss(c, c, ti.to(at::kInt), o), psic::InputError);
  EXPECT_THROWS_AS(psic::uaeo_loss(c, c, to_index({0, 1, 2, 4}), o), psic::InputError);
  EXPECT_THROWS_AS(psic::uaeo_loss(c, c, to_index({0, 1, -1, 3}), o), psic::InputError);
  EXPECT_THROWS_AS(psic::uaeo_loss(c.flatten(), c.flatten(), ti, o), psic::InputError);
  EXPECT_THROWS_AS(psic::uaeo_loss(c.narrow(1, 0, 1), c.narrow(1, 0, 1), to_index({0, 0, 0, 0}), o), psic::InputError);
  EXPECT_THROWS_AS(psic::uaeo_loss(c, c, ti, options(psic::UaeoVariant::Paper, 1.0)), psic::InputError);
  EXPECT_THROWS_AS(psic::uaeo_loss(c, c, ti, options(psic::UaeoVariant::Code, 0.0)), psic::InputError);
  const at::Tensor x = at::rand({1, 3, 4, 4}, at::kDouble);
  EXPECT_THROWS_AS(psic::rate_distortion_loss(at::rand({1, 3, 4, 5}, at::kDouble), x, {}, 0.01), psic::InputError);
  EXPECT_THROWS_AS(psic::rate_distortion_loss(x[0], x[0], {}, 0.01), psic::InputError);
}

PSIC_CHECK_CASE("losses: classifier_similarity is the centred, L2-normalised log-probability") {
  // Row 1 has a class a softmax rounded to (almost) 0, which the 1e-12 clamp keeps finite;
  // row 2 is uniform (zero norm), which gives zeros.
  const Mat p = {{0.7, 0.2, 0.05, 0.05}, {0.5, 0.5 - 1e-15, 1e-15, 0.0}, {0.25, 0.25, 0.25, 0.25}};
  Mat want(3, std::vector<double>(4));
  for (size_t i = 0; i < 3; ++i) {
    std::vector<double> z(4);
    double mean = 0, norm = 0;
    for (size_t j = 0; j < 4; ++j) mean += (z[j] = std::log(std::max(p[i][j], 1e-12))) / 4;
    for (size_t j = 0; j < 4; ++j) norm += (z[j] - mean) * (z[j] - mean);
    norm = std::max(std::sqrt(norm), 1e-12);
    for (size_t j = 0; j < 4; ++j) want[i][j] = (z[j] - mean) / norm;
  }
  const at::Tensor sim = psic::classifier_similarity(to_tensor(p));
  EXPECT_MSG(max_abs_diff(sim, want) < 1e-6, "error " + num(max_abs_diff(sim, want)));
  EXPECT(sim.abs().max().item<double>() <= 1.0);
  EXPECT(std::abs(sim[2].abs().sum().item<double>()) < 1e-12);
  // The highest-probability class has the highest similarity.
  EXPECT(sim[0].argmax().item<int64_t>() == 0);
  const double err = gradient_error([](const at::Tensor& q) { return (psic::classifier_similarity(q) * to_tensor(random_mat(3, 4, 5))).sum(); },
                                    to_tensor(random_mat(3, 4, 6, 0.05, 1)));
  EXPECT_MSG(err < 1e-6, "gradient error " + num(err));
}

PSIC_CHECK_CASE("losses: embedding_similarity is the cosine matrix") {
  const Mat a = random_mat(3, 5, 101), b = random_mat(4, 5, 102);
  Mat want(3, std::vector<double>(4));
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 4; ++j) {
      double dot = 0, na = 0, nb = 0;
      for (size_t d = 0; d < 5; ++d) {
        dot += a[i][d] * b[j][d];
        na += a[i][d] * a[i][d];
        nb += b[j][d] * b[j][d];
      }
      want[i][j] = dot / std::sqrt(na * nb);
    }
  const at::Tensor sim = psic::embedding_similarity(to_tensor(a), to_tensor(b));
  EXPECT(sim.size(0) == 3 && sim.size(1) == 4);
  EXPECT_MSG(max_abs_diff(sim, want) < 1e-6, "error " + num(max_abs_diff(sim, want)));
  const at::Tensor w = to_tensor(random_mat(3, 4, 103)), ta = to_tensor(a), tb = to_tensor(b);
  const double ea = gradient_error([&](const at::Tensor& x) { return (psic::embedding_similarity(x, tb) * w).sum(); }, ta);
  const double eb = gradient_error([&](const at::Tensor& x) { return (psic::embedding_similarity(ta, x) * w).sum(); }, tb);
  EXPECT_MSG(ea < 1e-6 && eb < 1e-6, "gradient errors " + num(ea) + ", " + num(eb));
}

PSIC_CHECK_CASE("losses: detector_suppression_loss sums the protected scores of the classes shown clean") {
  // Row 0: two classes >= 0.2 (one exactly at it); row 1: none, so only its top class; row 2: one.
  const Mat clean = {{0.9, 0.2, 0.1, 0.05}, {0.1, 0.15, 0.05, 0.12}, {0.0, 0.3, 0.19, 0.1}};
  const Mat prot = random_mat(3, 4, 111, 0, 1);
  double want = 0;
  for (size_t i = 0; i < 3; ++i) {
    const size_t top = argmax_of(clean[i]);
    for (size_t j = 0; j < 4; ++j)
      if (clean[i][j] >= 0.2 || j == top) want += prot[i][j] / 3;
  }
  const at::Tensor tc = to_tensor(clean), tp = to_tensor(prot);
  const double got = psic::detector_suppression_loss(tc, tp).item<double>();
  EXPECT_MSG(std::abs(got - want) < 1e-6, "loss " + num(got) + " want " + num(want));
  const double err = gradient_error([&](const at::Tensor& p) { return psic::detector_suppression_loss(tc, p); }, tp);
  EXPECT_MSG(err < 1e-6, "gradient error " + num(err));
  const at::Tensor tcg = tc.clone().requires_grad_(true);
  psic::detector_suppression_loss(tcg, tp.clone().requires_grad_(true)).backward();
  EXPECT(!tcg.grad().defined());
}

PSIC_CHECK_CASE("losses: target_similarity rejects mismatched shapes with InputError") {
  const at::Tensor m = at::rand({3, 4}, at::kDouble);
  EXPECT_THROWS_AS(psic::classifier_similarity(m[0]), psic::InputError);
  EXPECT_THROWS_AS(psic::classifier_similarity(m.narrow(1, 0, 1)), psic::InputError);
  EXPECT_THROWS_AS(psic::embedding_similarity(m, at::rand({2, 5}, at::kDouble)), psic::InputError);
  EXPECT_THROWS_AS(psic::embedding_similarity(m, m[0]), psic::InputError);
  EXPECT_THROWS_AS(psic::detector_suppression_loss(m, at::rand({3, 5}, at::kDouble)), psic::InputError);
  EXPECT_THROWS_AS(psic::detector_suppression_loss(m.to(at::kLong), m.to(at::kLong)), psic::InputError);
}
