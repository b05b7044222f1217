#include "training/psic_trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "errors.h"
#include "formats/safetensors.h"
#include "training/rd_loss.h"
#include "training/target_similarity.h"
#include "util/atomic_file.h"

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

double psnr_of(const at::Tensor& x_hat, const at::Tensor& x) {
  const double mse = (x_hat.detach().clamp(0, 1) - x).pow(2).mean().item<double>();
  return 10.0 * std::log10(1.0 / std::max(mse, 1e-12));
}

bool stage2_trainable(const std::string& name) { return name.rfind("g_s", 0) == 0 || name.rfind("global_cond", 0) == 0; }


}  // namespace

PsicTrainer::PsicTrainer(LoadedModel model, std::vector<AttackTarget> targets, TrainerConfig config)
    : model_(std::move(model)), targets_(std::move(targets)), config_(std::move(config)) {
  CompressionModel& m = *model_.model;
  if (m.condition_dim() == 0) throw InputError("training needs a PSIC model (psic-hyperprior, psic-factorized or reference)");
  if (config_.stage != 1 && config_.stage != 2) throw InputError("stage must be 1 or 2");
  if (config_.conditioning_only && config_.stage != 2) throw InputError("conditioningOnly applies to stage 2");
  if (config_.lambda <= 0 || config_.lr <= 0 || config_.aux_lr <= 0) throw InputError("lambda, lr and aux_lr must be positive");
  if (config_.wrong_keys < 0 || config_.wrong_keys > 64) throw InputError("wrong_keys must be in [0, 64]");
  if (m.config.architecture == "reference") {
    config_.full_condition = {0.0f};  // the paper's public bit: beta = 0 is the full decode
  } else if (static_cast<int64_t>(config_.full_condition.size()) != m.condition_dim()) {
    throw KeyError("the full condition must have " + std::to_string(m.condition_dim()) + " values (derive it from the key)");
  }
  full_condition_ = at::tensor(config_.full_condition, at::kFloat).view({1, -1});
  protected_condition_ = m.protected_condition();
  if (at::equal(full_condition_, protected_condition_)) throw KeyError("the full condition equals the public protected one");

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

at::Tensor PsicTrainer::attack_loss(const at::Tensor& clean, const at::Tensor& x_hat, const at::Tensor& captions,
                                    double* accuracy) const {
  at::Tensor total = at::zeros({}, at::kFloat);
  double weight_sum = 0, acc_sum = 0;
  int acc_count = 0;
  const int64_t K = clean.size(0);
  for (const AttackTarget& target : targets_) {
    TargetOutputs ref;
    {
      at::NoGradGuard no_grad;
      ref = target.model->forward(clean);
    }
    const TargetOutputs out = target.model->forward(x_hat.clamp(0, 1));
    // CLIP with captions: the "texts" of UAEO are the batch's captions (the paper's setting).
    at::Tensor texts;
    if (captions.defined()) {
      at::NoGradGuard no_grad;
      texts = target.model->encode_texts(captions);
    }
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
          const at::Tensor truth = at::arange(K, at::kLong);
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

StepMetrics PsicTrainer::step(const at::Tensor& input, const at::Tensor& captions) {
  if (input.dim() != 4 || input.size(1) != 3 || input.size(2) % 64 != 0 || input.size(3) % 64 != 0 || input.size(0) < 1)
    throw InputError("training batches are [B, 3, H, W] with H and W multiples of 64");
  const int64_t B = input.size(0);
  if (captions.defined() && (captions.dim() != 2 || captions.size(0) != B)) throw InputError("captions must be [B, context] token ids");
  const bool mixed = config_.schedule == TrainingSchedule::Mixed;
  if (mixed && B < 4) throw InputError("the mixed schedule needs batches of at least 4");
  at::manual_seed(step_seed(config_.seed, step_));
  CompressionModel& m = *model_.model;
  const at::Tensor x = input.to(at::kFloat).contiguous();
  const ForwardOptions compat;

  StepMetrics metrics;
  metrics.step = step_;
  metrics.mode = mixed ? "mixed" : step_ % 2 == 0 ? "full" : "protected";
  metrics.attack_weight = config_.attack_weight;
  main_opt_->zero_grad();
  if (aux_opt_) aux_opt_->zero_grad();

  // Analysis and entropy model. Stage 2 freezes them, and its decoder learns from the rounded
  // latents it will decode at inference.
  LatentCodec::ForwardResult latent;
  {
    std::unique_ptr<at::NoGradGuard> frozen;
    if (config_.stage == 2) frozen = std::make_unique<at::NoGradGuard>();
    latent = m.latent().forward(m.g_a.forward(x, compat), /*training=*/config_.stage == 1, compat);
  }
  const at::Tensor bpp = bits_per_pixel(latent.likelihoods, B * x.size(2) * x.size(3));
  metrics.bpp = bpp.item<double>();
  const at::Tensor rate_term = config_.stage == 1 ? bpp : at::zeros({});

  auto distortion = [&](const at::Tensor& x_hat, const at::Tensor& ref) { return config_.lambda * kMseScale * (x_hat - ref).pow(2).mean(); };
  auto weigh = [&](const at::Tensor& d, const at::Tensor& a) {
    double wd = 1, wa = config_.attack_weight;
    if (config_.balance == AttackBalance::InverseLoss && !targets_.empty()) {
      const double id = 1 / (d.item<double>() + 1e-8), ia = 1 / (a.item<double>() + 1e-8);
      wd = id / (id + ia);
      wa = ia / (id + ia);
    }
    metrics.distortion_weight = wd;
    metrics.attack_weight = wa;
    return wd * d + wa * a;
  };

  at::Tensor loss;
  if (!mixed && metrics.mode == "full") {
    const at::Tensor x_hat = m.synthesize(latent.y_hat, full_condition_.expand({B, -1}), compat);
    metrics.psnr_full = psnr_of(x_hat, x);
    loss = distortion(x_hat, x) + rate_term;
  } else if (!mixed) {
    // The protected decode and the wrong keys, one decode each, with the same attack loss. A
    // wrong key's distortion is measured against the protected decode (held fixed), so every
    // key but the owner's converges on the protected image rather than on some third one.
    std::vector<int> kinds = {1};
    for (int k = 0; k < config_.wrong_keys; ++k) kinds.push_back(2);
    at::Tensor d_sum = at::zeros({}), a_sum = at::zeros({});
    at::Tensor protected_x_hat;
    double wrong_psnr = 0;
    for (size_t k = 0; k < kinds.size(); ++k) {
      const at::Tensor c = conditions({kinds[k]}, 1).expand({B, -1});
      const at::Tensor x_hat = m.synthesize(latent.y_hat, c, compat);
      double acc = NAN;
      const at::Tensor a = targets_.empty() ? at::zeros({}) : attack_loss(x, x_hat, captions, &acc);
      a_sum = a_sum + a;
      if (k == 0) {
        protected_x_hat = x_hat.detach();
        d_sum = d_sum + distortion(x_hat, x);
        metrics.psnr_protected = psnr_of(x_hat, x);
        metrics.attack_accuracy = acc;
      } else {
        d_sum = d_sum + distortion(x_hat, protected_x_hat);
        wrong_psnr += psnr_of(x_hat, x);
      }
    }
    if (config_.wrong_keys > 0) metrics.psnr_wrong_key = wrong_psnr / config_.wrong_keys;
    const double n = static_cast<double>(kinds.size());
    const at::Tensor a_mean = a_sum / n;
    metrics.attack_loss = a_mean.item<double>();
    loss = weigh(d_sum / n, a_mean) + rate_term;
  } else {
    // Mixed: a seeded half of the batch decodes full, the rest protected or with wrong keys.
    const at::Tensor perm = at::randperm(B, at::kLong);
    const int64_t half = B / 2;
    const at::Tensor full_idx = perm.narrow(0, 0, half), prot_idx = perm.narrow(0, half, B - half);
    std::vector<int> kinds(static_cast<size_t>(B), 0);
    const auto* pi = prot_idx.data_ptr<int64_t>();
    for (int64_t i = 0; i < B - half; ++i)
      kinds[static_cast<size_t>(pi[i])] = (config_.wrong_keys > 0 && i % (config_.wrong_keys + 1) != 0) ? 2 : 1;
    std::vector<at::Tensor> rows;
    for (int64_t i = 0; i < B; ++i) rows.push_back(conditions({kinds[static_cast<size_t>(i)]}, 1));
    const at::Tensor x_hat = m.synthesize(latent.y_hat, at::cat(rows, 0), compat);
    const at::Tensor xf = x.index_select(0, full_idx), xp = x.index_select(0, prot_idx);
    const at::Tensor hf = x_hat.index_select(0, full_idx), hp = x_hat.index_select(0, prot_idx);
    metrics.psnr_full = psnr_of(hf, xf);
    metrics.psnr_protected = psnr_of(hp, xp);
    double acc = NAN;
    const at::Tensor a = targets_.empty() ? at::zeros({}) : attack_loss(xp, hp, captions.defined() ? captions.index_select(0, prot_idx) : captions, &acc);
    metrics.attack_accuracy = acc;
    metrics.attack_loss = a.item<double>();
    loss = distortion(hf, xf) + weigh(distortion(hp, xp), a) + rate_term;
  }
  metrics.loss = loss.item<double>();
  loss.backward();
  metrics.grad_norm = config_.clip_max_norm > 0 ? main_opt_->clip_grad_norm(config_.clip_max_norm) : 0;
  main_opt_->step();
  if (aux_opt_) {
    const at::Tensor aux = m.latent().aux_loss();
    metrics.aux_loss = aux.item<double>();
    aux.backward();
    aux_opt_->step();
  }
  // Dual ascent on the protected-quality constraint: raise the attack weight while the
  // protected decode is above its PSNR floor, lower it below.
  if (config_.balance == AttackBalance::Adaptive && std::isfinite(metrics.psnr_protected)) {
    config_.attack_weight = std::clamp(config_.attack_weight * std::exp(config_.dual_lr * (metrics.psnr_protected - config_.protected_psnr)), 1e-3, 1e3);
  }
  ++step_;
  return metrics;
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
      t = it->second.to(t.dtype()).clone();  // entropy tables may have other lengths
    }
  });
  main_opt_->load_state("opt.main.", file.tensors, trainer.value("main_steps", int64_t{0}));
  if (aux_opt_) aux_opt_->load_state("opt.aux.", file.tensors, trainer.value("aux_steps", int64_t{0}));
  step_ = trainer["step"].get<int64_t>();
  config_.attack_weight = trainer.value("attack_weight", config_.attack_weight);
  return meta("caller");
}

}  // namespace psic
