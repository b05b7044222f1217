#include "training/psic_trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "entropy/entropy_model.h"
#include "errors.h"
#include "formats/safetensors.h"
#include "training/rd_loss.h"
#include "models/keys.h"
#include "training/target_similarity.h"
#include "training/uaeo_loss.h"
#include "util/atomic_file.h"
#include "util/device.h"
#include "util/sha256.h"

namespace psic {

namespace {

constexpr const char* kCheckpointFormat = "psic-checkpoint";
const double kMseScale = 255.0 * 255.0;

// Every step's randomness (quantization noise, wrong keys, the mixed split) comes from (seed,
// step) alone, so a resumed run repeats an uninterrupted one exactly.
uint64_t step_seed(uint64_t seed, int64_t step) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(step + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (z ^ (z >> 31)) & 0x7fffffffffffffffULL;
}

bool stage2_trainable(const std::string& name) { return name.rfind("g_s", 0) == 0 || name.rfind("global_cond", 0) == 0; }


}  // namespace

KeyedModel load_keyed_model(const std::string& path, const Bytes& key, uint64_t seed) {
  check_key(key);
  KeyedModel k;
  k.loaded = load_model(path);
  ModelConfig& config = k.loaded.model->config;
  if (config.condition_dim == 0)
    throw InputError("model '" + path + "' has a single decode; train a PSIC model (psic model init --arch psic-hyperprior ...)");
  k.model_id = k.loaded.model_id.substr(0, 32);
  k.key_salt = config.key_salt.empty() ? training_key_salt(k.model_id, seed) : config.key_salt;
  if (config.architecture == "reference") {
    k.full_condition = {0.0f};  // the paper's public bit: no secret, no salt in the config
    return k;
  }
  config.set_key_salt(k.key_salt);
  k.full_condition = derive_condition(key, k.key_salt, config.condition_dim);
  return k;
}

PsicTrainer::PsicTrainer(LoadedModel model, std::vector<AttackTarget> targets, TrainerConfig config)
    : model_(std::move(model)), targets_(std::move(targets)), config_(std::move(config)) {
  CompressionModel& m = *model_.model;
  if (m.condition_dim() == 0) throw InputError("training needs a PSIC model (psic-hyperprior, psic-factorized or reference)");
  validate(config_);
  if (m.config.architecture == "reference") {
    config_.full_condition = {0.0f};  // the paper's public bit: beta = 0 is the full decode
  } else if (static_cast<int64_t>(config_.full_condition.size()) != m.condition_dim()) {
    throw KeyError("the full condition must have " + std::to_string(m.condition_dim()) + " values (derive it from the key)");
  }
  full_condition_ = at::tensor(config_.full_condition, at::kFloat).view({1, -1});
  protected_condition_ = m.protected_condition();
  if (at::equal(full_condition_, protected_condition_)) throw KeyError("the full condition equals the public protected one");
  // The whole model moves (h_s and the entropy models train too), before the optimizers take
  // its parameters.
  device_ = parse_device(config_.device);
  if (!device_.is_cpu()) {
    move_state(m, device_);
    m.prepare_inference();
    full_condition_ = full_condition_.to(device_);
    protected_condition_ = protected_condition_.to(device_);
  }

  std::vector<at::Tensor> main, aux;
  m.visit_state("", [&](const std::string& name, at::Tensor& t, StateKind kind) {
    if (kind != StateKind::Parameter) return;
    const bool quantiles = name.find("quantiles") != std::string::npos;
    const bool trainable = config_.stage == 1 || (config_.conditioning_only ? is_conditioning_name(name) : stage2_trainable(name));
    t.set_requires_grad(trainable);
    if (!trainable) return;
    (quantiles ? aux_names_ : main_names_).push_back(name);
    (quantiles ? aux : main).push_back(t);
  });
  main_opt_ = std::make_unique<Adam>(main, config_.lr);
  if (!aux.empty()) aux_opt_ = std::make_unique<Adam>(aux, config_.aux_lr);
}

std::vector<at::Tensor> PsicTrainer::trainable_params() const {
  std::vector<at::Tensor> all = main_opt_->params();
  if (aux_opt_) all.insert(all.end(), aux_opt_->params().begin(), aux_opt_->params().end());
  return all;
}

std::vector<std::string> PsicTrainer::trainable_names() const {
  std::vector<std::string> all = main_names_;
  all.insert(all.end(), aux_names_.begin(), aux_names_.end());
  return all;
}

at::Tensor PsicTrainer::conditions(const std::vector<int>& kinds, int64_t batch) const {
  std::vector<at::Tensor> rows;
  for (int64_t i = 0; i < batch; ++i) {
    const int kind = kinds[static_cast<size_t>(i) % kinds.size()];
    // A wrong key's condition is uniform in [-1, 1]^d, as HKDF outputs are.
    rows.push_back(kind == 0 ? full_condition_ : kind == 1 ? protected_condition_ : at::rand_like(full_condition_) * 2 - 1);
  }
  return at::cat(rows, 0);
}

at::Tensor PsicTrainer::whole_batch(const at::Tensor& local, const AttackRows& rows) const {
  if (!group_) return local;
  const at::Tensor all = gather_rows(*group_, local, rows.positions, rows.total);
  return rows.order.defined() ? all.index_select(0, rows.order) : all;
}

at::Tensor PsicTrainer::attack_loss(const at::Tensor& clean, const at::Tensor& x_hat, const at::Tensor& captions,
                                    const AttackRows& rows, double* accuracy) const {
  // A rank without attacked rows still joins every gather, with no rows: a probe row, dropped,
  // gives the heads' shapes.
  const bool none = clean.size(0) == 0;
  auto empty_heads = [](TargetOutputs out) {
    for (auto& h : out.heads) h = h.narrow(0, 0, 0);
    return out;
  };
  at::Tensor total = at::zeros({}, at::kFloat);
  double weight_sum = 0, acc_sum = 0;
  int acc_count = 0;
  for (const AttackTarget& target : targets_) {
    // Targets run where their weights are (TF.js imports: the CPU; CLIP: wherever it was moved);
    // their heads come back to the model's device, gradients included.
    auto run = [&](const at::Tensor& images) {
      TargetOutputs o = target.model->forward(images.to(target.model->device()));
      for (auto& h : o.heads) h = h.to(device_);
      return o;
    };
    TargetOutputs ref, out;
    {
      at::NoGradGuard no_grad;
      ref = none ? empty_heads(run(rows.probe_image)) : run(clean);
    }
    if (none) {
      at::NoGradGuard no_grad;
      out = empty_heads(run(rows.probe_image));
    } else {
      out = run(x_hat.clamp(0, 1));
    }
    // With ranks, every rank computes the loss on the whole attacked batch (its own rows live,
    // the others' detached), so couplings between samples (other images or captions as UAEO's
    // texts) are exact and the gradients summed over ranks are one process's.
    for (size_t h = 0; h < ref.heads.size(); ++h) {
      ref.heads[h] = whole_batch(ref.heads[h], rows);
      out.heads[h] = whole_batch(out.heads[h], rows);
    }
    // CLIP with captions: the "texts" of UAEO are the batch's captions (the paper's setting).
    at::Tensor texts;
    if (captions.defined()) {
      at::NoGradGuard no_grad;
      const at::Tensor tokens = (none ? rows.probe_caption : captions).to(target.model->device());
      at::Tensor encoded = target.model->encode_texts(tokens).to(device_);
      texts = whole_batch(none ? encoded.narrow(0, 0, 0) : encoded, rows);
    }
    const int64_t K = ref.heads.empty() ? 0 : ref.heads[0].size(0);
    at::Tensor target_loss = at::zeros({}, at::kFloat);
    int heads = 0;
    const auto& specs = target.model->heads();
    for (size_t h = 0; h < specs.size(); ++h) {
      const at::Tensor& r = ref.heads[h];
      const at::Tensor& p = out.heads[h];
      at::Tensor loss;
      double acc = NAN;
      switch (specs[h].kind) {
        case TargetHeadKind::Classifier: {
          const at::Tensor truth = r.argmax(1);
          loss = uaeo_loss(classifier_similarity(r), classifier_similarity(p), truth, config_.uaeo).loss;
          acc = (p.detach().argmax(1) == truth).to(at::kFloat).mean().item<double>();
          break;
        }
        case TargetHeadKind::Embedding: {
          if (K < 2) continue;  // "texts" are the captions or the other images of the batch
          const at::Tensor truth = at::arange(K, r.options().dtype(at::kLong));
          const at::Tensor& other = texts.defined() ? texts : r;
          const at::Tensor prot_sim = embedding_similarity(p, other);
          loss = uaeo_loss(embedding_similarity(r, other), prot_sim, truth, config_.uaeo).loss;
          acc = (prot_sim.detach().argmax(1) == truth).to(at::kFloat).mean().item<double>();
          break;
        }
        case TargetHeadKind::Detector: {
          loss = detector_suppression_loss(r, p);
          const at::Tensor top = r.argmax(1, true);
          acc = (p.detach().gather(1, top) >= 0.2).to(at::kFloat).mean().item<double>();
          break;
        }
        case TargetHeadKind::Regression:
          continue;  // no class to pull away from; not an attack objective
      }
      target_loss = target_loss + loss.to(at::kFloat);
      ++heads;
      acc_sum += acc;
      ++acc_count;
    }
    if (heads == 0) continue;
    total = total + target.weight * target_loss / heads;
    weight_sum += target.weight;
  }
  if (accuracy) *accuracy = acc_count ? acc_sum / acc_count : NAN;
  return weight_sum > 0 ? total / weight_sum : total;
}

namespace {

// A decode's squared error and element count; PSNR from their sums over ranks.
struct SquaredError {
  double sum = 0, count = 0;
};
SquaredError squared_error(const at::Tensor& x_hat, const at::Tensor& x) {
  return {(x_hat.detach().clamp(0, 1) - x).pow(2).sum().item<double>(), static_cast<double>(x.numel())};
}
double psnr_of(const SquaredError& e) {
  if (e.count == 0) return NAN;
  return 10.0 * std::log10(1.0 / std::max(e.sum / e.count, 1e-12));
}

}  // namespace

// One step's batch, where this rank's rows sit, and the figures its parts fill in.
struct PsicTrainer::StepState {
  int64_t b = 0;       // this rank's rows
  int64_t B = 0;       // the combined batch's rows (b · world)
  int64_t offset = 0;  // data parallel: rank r holds rows [offset, offset + b) of the combined batch
  int world = 1;
  bool mixed = false;
  at::Tensor x;         // the batch on the model's device
  at::Tensor captions;  // token ids [b, context], or undefined
  StepMetrics metrics;
  AttackRows rows;
  SquaredError full_error, protected_error;
  std::vector<SquaredError> wrong_errors;
  double coupled = 0;  // the attack terms' value: whole on every rank, not a share
};

// x: [B, 3, H, W]; every rank checks its share against the others'.
PsicTrainer::StepState PsicTrainer::check_batch(const at::Tensor& input, const at::Tensor& captions) const {
  if (input.dim() != 4 || input.size(1) != 3 || input.size(2) % 64 != 0 || input.size(3) % 64 != 0 || input.size(0) < 1)
    throw InputError("training batches are [B, 3, H, W] with H and W multiples of 64");
  StepState s;
  s.b = input.size(0);
  if (captions.defined() && (captions.dim() != 2 || captions.size(0) != s.b)) throw InputError("captions must be [B, context] token ids");
  s.world = group_ ? group_->world_size() : 1;
  s.B = s.b * s.world;
  s.offset = group_ ? s.b * group_->rank() : 0;
  if (group_)
    expect_same_on_all_ranks(*group_, {s.b, input.size(2), input.size(3), step_, captions.defined() ? captions.size(1) : -1},
                             "the step, batch shapes or captions");
  s.mixed = config_.schedule == TrainingSchedule::Mixed;
  if (s.mixed && s.B < 4) throw InputError("the mixed schedule needs batches of at least 4");
  s.captions = captions;
  return s;
}

StepMetrics PsicTrainer::step(const at::Tensor& input, const at::Tensor& captions) {
  StepState s = check_batch(input, captions);
  at::manual_seed(step_seed(config_.seed, step_));
  ScopedBatchShard shard(group_ ? BatchShard{s.offset, s.B} : BatchShard{});
  s.x = to_device(input.to(at::kFloat).contiguous(), device_);
  s.rows.total = s.B;
  s.rows.probe_image = s.x.narrow(0, 0, 1);
  if (captions.defined()) s.rows.probe_caption = captions.narrow(0, 0, 1);

  // The mode: alternate steps decode full, then protected (and wrong keys); mixed ones both.
  s.metrics.step = step_;
  s.metrics.mode = s.mixed ? "mixed" : step_ % 2 == 0 ? "full" : "protected";
  s.metrics.attack_weight = config_.attack_weight;
  main_opt_->zero_grad();
  if (aux_opt_) aux_opt_->zero_grad();

  // Every loss term below is this rank's share of the combined batch's (summing to it over
  // ranks), except the attack loss, which every rank computes whole (see attack_loss); so the
  // gradients summed over ranks are those of one process on the combined batch.
  const LatentCodec::ForwardResult latent = encode(s.x);
  const at::Tensor bpp = bits_per_pixel(latent.likelihoods, s.B * s.x.size(2) * s.x.size(3));
  const at::Tensor rate_term = config_.stage == 1 ? bpp : at::zeros({});
  const at::Tensor decode_terms = s.mixed                      ? mixed_decode_loss(s, latent.y_hat)
                                  : s.metrics.mode == "full" ? full_decode_loss(s, latent.y_hat)
                                                             : protected_decode_loss(s, latent.y_hat);
  const at::Tensor loss = decode_terms + rate_term;
  loss.backward();

  combine_ranks(s, loss, bpp);
  update_weights(s);
  adapt_attack_weight(s.metrics);
  ++step_;
  return s.metrics;
}

// Analysis and entropy model. Stage 2 freezes them, and its decoder learns from the rounded
// latents it will decode at inference.
LatentCodec::ForwardResult PsicTrainer::encode(const at::Tensor& x) {
  CompressionModel& m = *model_.model;
  const ForwardOptions compat;
  std::unique_ptr<at::NoGradGuard> frozen;
  if (config_.stage == 2) frozen = std::make_unique<at::NoGradGuard>();
  return m.latent().forward(m.g_a.forward(x, compat), /*training=*/config_.stage == 1, compat);
}

// λ·255²·MSE over `rows` of the `of_rows` rows the term averages over in the combined batch.
at::Tensor PsicTrainer::distortion(const at::Tensor& x_hat, const at::Tensor& ref, int64_t of_rows) const {
  if (x_hat.size(0) == 0) return at::zeros({});
  const double part = static_cast<double>(x_hat.size(0)) / static_cast<double>(of_rows);
  return config_.lambda * kMseScale * (x_hat - ref).pow(2).mean() * part;
}

double PsicTrainer::global_sum(double v) const {
  if (!group_) return v;
  at::Tensor t = at::full({1}, v, at::kDouble);
  group_->all_reduce_sum(t, "all-reduce of the distortion");
  return t.item<double>();
}

// The balance of a distortion d and an attack term a: fixed (1 and attack_weight) or
// inverse-loss weights; records both weights and the attack part's value.
at::Tensor PsicTrainer::weigh(StepState& s, const at::Tensor& d, const at::Tensor& a) const {
  double wd = 1, wa = config_.attack_weight;
  if (config_.balance == AttackBalance::InverseLoss && !targets_.empty()) {
    const double id = 1 / (global_sum(d.item<double>()) + 1e-8), ia = 1 / (a.item<double>() + 1e-8);
    wd = id / (id + ia);
    wa = ia / (id + ia);
  }
  s.metrics.distortion_weight = wd;
  s.metrics.attack_weight = wa;
  s.coupled += wa * a.item<double>();
  return wd * d + wa * a;
}

// A full step: rate–distortion of the key's decode.
at::Tensor PsicTrainer::full_decode_loss(StepState& s, const at::Tensor& y_hat) {
  const at::Tensor x_hat = model_.model->synthesize(y_hat, full_condition_.expand({s.b, -1}), ForwardOptions());
  s.full_error = squared_error(x_hat, s.x);
  return distortion(x_hat, s.x, s.B);
}

// A protected step: the protected decode and the wrong keys, one decode each, with the same
// attack loss. A wrong key's distortion is measured against the protected decode (held fixed), so
// every key but the owner's converges on the protected image rather than on some third one.
at::Tensor PsicTrainer::protected_decode_loss(StepState& s, const at::Tensor& y_hat) {
  std::vector<int> kinds = {1};
  for (int k = 0; k < config_.wrong_keys; ++k) kinds.push_back(2);
  s.rows.positions = at::arange(s.offset, s.offset + s.b, s.x.options().dtype(at::kLong));
  at::Tensor d_sum = at::zeros({}), a_sum = at::zeros({});
  at::Tensor protected_x_hat;
  for (size_t k = 0; k < kinds.size(); ++k) {
    const at::Tensor c = conditions({kinds[k]}, 1).expand({s.b, -1});
    const at::Tensor x_hat = model_.model->synthesize(y_hat, c, ForwardOptions());
    double acc = NAN;
    const at::Tensor a = targets_.empty() ? at::zeros({}) : attack_loss(s.x, x_hat, s.captions, s.rows, &acc);
    a_sum = a_sum + a;
    if (k == 0) {
      protected_x_hat = x_hat.detach();
      d_sum = d_sum + distortion(x_hat, s.x, s.B);
      s.protected_error = squared_error(x_hat, s.x);
      s.metrics.attack_accuracy = acc;
    } else {
      d_sum = d_sum + distortion(x_hat, protected_x_hat, s.B);
      s.wrong_errors.push_back(squared_error(x_hat, s.x));
    }
  }
  const double n = static_cast<double>(kinds.size());
  const at::Tensor a_mean = a_sum / n;
  s.metrics.attack_loss = a_mean.item<double>();
  return weigh(s, d_sum / n, a_mean);
}

// A mixed step: a seeded half of the combined batch decodes full, the rest protected or with
// wrong keys; the split and the wrong keys are drawn for the combined batch, each rank takes its rows.
at::Tensor PsicTrainer::mixed_decode_loss(StepState& s, const at::Tensor& y_hat) {
  const int64_t B = s.B, b = s.b, offset = s.offset;
  const at::Tensor perm = at::randperm(B, at::kLong);  // drawn on the CPU: the same split on any device
  const int64_t half = B / 2;
  const at::Tensor full_idx = perm.narrow(0, 0, half).to(device_), prot_idx = perm.narrow(0, half, B - half).to(device_);
  std::vector<int> kinds(static_cast<size_t>(B), 0);
  const at::Tensor prot_cpu = perm.narrow(0, half, B - half).contiguous();
  const auto* pi = prot_cpu.data_ptr<int64_t>();
  for (int64_t i = 0; i < B - half; ++i)
    kinds[static_cast<size_t>(pi[i])] = (config_.wrong_keys > 0 && i % (config_.wrong_keys + 1) != 0) ? 2 : 1;
  std::vector<at::Tensor> conds;
  for (int64_t i = 0; i < B; ++i) conds.push_back(conditions({kinds[static_cast<size_t>(i)]}, 1));
  const at::Tensor x_hat = model_.model->synthesize(y_hat, at::cat(conds, 0).narrow(0, offset, b), ForwardOptions());
  // This rank's rows among the combined batch's `idx`, in that order, as local indices.
  auto local = [&](const at::Tensor& idx) { return idx.masked_select((idx >= offset) & (idx < offset + b)) - offset; };
  const at::Tensor full_l = local(full_idx), prot_l = local(prot_idx);
  const at::Tensor xf = s.x.index_select(0, full_l), xp = s.x.index_select(0, prot_l);
  const at::Tensor hf = x_hat.index_select(0, full_l), hp = x_hat.index_select(0, prot_l);
  s.full_error = squared_error(hf, xf);
  s.protected_error = squared_error(hp, xp);
  s.rows.positions = prot_l + offset;
  s.rows.order = prot_idx;
  double acc = NAN;
  const at::Tensor captions = s.captions.defined() ? s.captions.index_select(0, prot_l.to(s.captions.device())) : s.captions;
  const at::Tensor a = targets_.empty() ? at::zeros({}) : attack_loss(xp, hp, captions, s.rows, &acc);
  s.metrics.attack_accuracy = acc;
  s.metrics.attack_loss = a.item<double>();
  return distortion(hf, xf, half) + weigh(s, distortion(hp, xp, B - half), a);
}

// The combined batch's figures: sums over ranks of the shares and squared errors, plus whether
// any rank wants to stop. Reduced with the gradients' step, so all ranks log and stop alike.
void PsicTrainer::combine_ranks(StepState& s, const at::Tensor& loss, const at::Tensor& bpp) {
  std::vector<double> sums = {loss.item<double>() - s.coupled, bpp.item<double>(), s.full_error.sum, s.full_error.count,
                              s.protected_error.sum, s.protected_error.count, stop_requested_ ? 1.0 : 0.0};
  for (const SquaredError& e : s.wrong_errors) sums.insert(sums.end(), {e.sum, e.count});
  if (group_) {
    at::Tensor t = at::tensor(sums, at::kDouble);
    group_->all_reduce_sum(t, "all-reduce of the step's metrics");
    sums.assign(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
    sum_gradients(*group_, main_opt_->params());
  }
  StepMetrics& metrics = s.metrics;
  metrics.loss = sums[0] + s.coupled;
  metrics.bpp = sums[1];
  metrics.psnr_full = psnr_of({sums[2], sums[3]});
  metrics.psnr_protected = psnr_of({sums[4], sums[5]});
  metrics.stop = sums[6] > 0;
  if (!s.wrong_errors.empty()) {
    double wrong_psnr = 0;
    for (size_t k = 0; k < s.wrong_errors.size(); ++k) wrong_psnr += psnr_of({sums[7 + 2 * k], sums[8 + 2 * k]});
    metrics.psnr_wrong_key = wrong_psnr / static_cast<double>(s.wrong_errors.size());
  }
}

// Clip, the main step, then the entropy models' quantiles (aux).
void PsicTrainer::update_weights(StepState& s) {
  // The norm of the summed gradient: the same on every rank, as is every update below.
  s.metrics.grad_norm = config_.clip_max_norm > 0 ? main_opt_->clip_grad_norm(config_.clip_max_norm) : 0;
  main_opt_->step();
  if (aux_opt_) {
    // The quantile loss reads the weights the main step just changed; it does not depend on
    // the data, so each rank backpropagates 1/world of it and the sum is one process's.
    const at::Tensor aux = model_.model->latent().aux_loss();
    s.metrics.aux_loss = aux.item<double>();
    (s.world == 1 ? aux : aux / s.world).backward();
    if (group_) sum_gradients(*group_, aux_opt_->params());
    aux_opt_->step();
  }
}

// Dual ascent on the protected-quality constraint: raise the attack weight while the protected
// decode is above its PSNR floor, lower it below.
void PsicTrainer::adapt_attack_weight(const StepMetrics& metrics) {
  if (config_.balance == AttackBalance::Adaptive && std::isfinite(metrics.psnr_protected)) {
    config_.attack_weight = std::clamp(config_.attack_weight * std::exp(config_.dual_lr * (metrics.psnr_protected - config_.protected_psnr)), 1e-3, 1e3);
  }
}

void PsicTrainer::attach(std::shared_ptr<ProcessGroup> group, const std::string& caller_fingerprint) {
  // One digest of everything that must agree between ranks.
  nlohmann::json c = {{"model", model_.model->config.to_json()}, {"stage", config_.stage}, {"conditioning_only", config_.conditioning_only},
                      {"lambda", config_.lambda}, {"lr", config_.lr}, {"aux_lr", config_.aux_lr}, {"clip", config_.clip_max_norm},
                      {"schedule", static_cast<int>(config_.schedule)}, {"balance", static_cast<int>(config_.balance)},
                      {"attack_weight", config_.attack_weight}, {"protected_psnr", config_.protected_psnr}, {"dual_lr", config_.dual_lr},
                      {"uaeo", static_cast<int>(config_.uaeo.variant)}, {"s", config_.uaeo.s}, {"wrong_keys", config_.wrong_keys},
                      {"seed", config_.seed}, {"full_condition", config_.full_condition}, {"targets", targets_.size()},
                      {"trainable", trainable_names()}, {"world", group->world_size()}, {"caller", caller_fingerprint}};
  Sha256 h;
  const std::string text = c.dump();
  h.update(text.data(), text.size());
  const auto d = h.digest();
  std::vector<int64_t> words;
  for (size_t w = 0; w < 4; ++w) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v = (v << 8) | d[w * 8 + i];
    words.push_back(static_cast<int64_t>(v >> 2));  // 62 bits: negating them cannot overflow
  }
  expect_same_on_all_ranks(*group, words, "the model, trainer config or data config");
  group->broadcast(trainable_params(), 0, "broadcast of rank 0's weights");
  group_ = std::move(group);
}

void PsicTrainer::save_model(const std::string& path) {
  at::NoGradGuard no_grad;
  CompressionModel& m = *model_.model;
  m.update_entropy_tables();
  m.prepare_inference();
  psic::save_model(m, path);
}

void PsicTrainer::save_checkpoint(const std::string& path, const std::string& caller_state_json) {
  NamedTensors tensors;
  model_.model->visit_state("", [&](const std::string& name, at::Tensor& t, StateKind) {
    tensors.emplace_back("model." + name, t.detach().contiguous());
  });
  main_opt_->save_state("opt.main.", tensors);
  if (aux_opt_) aux_opt_->save_state("opt.aux.", tensors);
  nlohmann::json trainer = {{"step", step_}, {"stage", config_.stage}, {"attack_weight", config_.attack_weight},
                            {"main_steps", main_opt_->steps()}, {"aux_steps", aux_opt_ ? aux_opt_->steps() : 0}};
  const std::map<std::string, std::string> metadata = {
      {"format", kCheckpointFormat}, {"model_config", model_.model->config.to_json()},
      {"trainer", trainer.dump()}, {"caller", caller_state_json}};
  const std::vector<uint8_t> bytes = write_safetensors(tensors, metadata);
  write_file_atomic(path, bytes.data(), bytes.size());
}

std::string PsicTrainer::load_checkpoint(const std::string& path) {
  const SafetensorsFile file = read_safetensors(path);
  auto meta = [&](const char* key) {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end()) throw FormatError("'" + path + "' is not a psic training checkpoint (no " + key + ")");
    return it->second;
  };
  if (meta("format") != kCheckpointFormat) throw FormatError("'" + path + "' is not a psic training checkpoint");
  if (meta("model_config") != model_.model->config.to_json())
    throw ModelMismatchError("checkpoint '" + path + "' is for model config " + meta("model_config") + ", not " + model_.model->config.to_json());
  const nlohmann::json trainer = nlohmann::json::parse(meta("trainer"), nullptr, false);
  if (trainer.is_discarded() || !trainer.contains("step") || trainer.value("stage", 0) != config_.stage)
    throw FormatError("checkpoint '" + path + "' has no trainer state for stage " + std::to_string(config_.stage));
  std::map<std::string, at::Tensor> by_name(file.tensors.begin(), file.tensors.end());
  at::NoGradGuard no_grad;
  model_.model->visit_state("", [&](const std::string& name, at::Tensor& t, StateKind kind) {
    auto it = by_name.find("model." + name);
    if (it == by_name.end()) throw FormatError("checkpoint '" + path + "' lacks '" + name + "'");
    if (kind == StateKind::Parameter) {
      if (!it->second.sizes().equals(t.sizes())) throw FormatError("checkpoint tensor '" + name + "' has the wrong shape");
      t.copy_(it->second);  // in place: the optimizers hold these tensors
    } else {
      t = it->second.to(t.device(), t.scalar_type()).clone();  // entropy tables may have other lengths
    }
  });
  main_opt_->load_state("opt.main.", file.tensors, trainer.value("main_steps", int64_t{0}));
  if (aux_opt_) aux_opt_->load_state("opt.aux.", file.tensors, trainer.value("aux_steps", int64_t{0}));
  step_ = trainer["step"].get<int64_t>();
  config_.attack_weight = trainer.value("attack_weight", config_.attack_weight);
  if (group_) {  // every rank read the same file; rank 0's copy settles any doubt
    group_->broadcast(trainable_params(), 0, "broadcast of rank 0's checkpoint weights");
  }
  return meta("caller");
}

}  // namespace psic
