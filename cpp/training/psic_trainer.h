// PSIC training (the paper's two stages, our key-bound unlock): one step at a time on a batch of
// image crops, so the caller (the TS Trainer, a C++ tool) owns data, logging and checkpoints.
//   stage 1: encoder, entropy models and conditional decoder together; alternating RD on the
//            full decode with RD + attack on the protected decode (and wrong-key decodes).
//   stage 2: g_a, h_a, h_s and the entropy models frozen; MSE on the full decode alternating
//            with MSE + attack on the protected decode.
// Full = the key's condition; protected = the model's public condition; wrong keys = fresh
// random conditions each step, trained like protected, so no other key unlocks the photo.
#pragma once
#include <ATen/ATen.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "models/model_loader.h"
#include "targets/target_model.h"
#include "training/adam.h"
#include "training/distributed.h"
#include "training/uaeo_loss.h"

namespace psic {

enum class TrainingSchedule {
  Alternate,  // whole steps alternate: full, protected, full, ...
  Mixed,      // every step: half the batch full, half protected / wrong keys (the public code)
};

enum class AttackBalance {
  Fixed,        // loss = distortion + attack_weight · attack
  InverseLoss,  // weights ∝ 1 / (loss + 1e-8), normalized, detached (the public code's stage 2)
  Adaptive,     // attack_weight follows dual ascent so protected PSNR sits on protected_psnr
};

struct TrainerConfig {
  int stage = 1;
  // Stage 2 only: train just the conditioning (global_cond and the CLTG projections: psic-balle's
  // g_s_shift, the CRBs' proj1/proj2), so the backbone decoder stays as trained and only how the
  // decode depends on the condition is learned.
  bool conditioning_only = false;
  double lambda = 0.0130;  // CompressAI's quality 3
  double lr = 1e-4;
  double aux_lr = 1e-3;
  double clip_max_norm = 1.0;  // CompressAI's train.py default
  TrainingSchedule schedule = TrainingSchedule::Alternate;
  AttackBalance balance = AttackBalance::Fixed;
  double attack_weight = 1.0;     // fixed weight, or the adaptive one's start
  double protected_psnr = 30.0;   // Adaptive: the floor for the protected decode (dB)
  double dual_lr = 0.05;          // Adaptive: step of log(attack_weight) per dB off the floor
  UaeoOptions uaeo;
  int wrong_keys = 2;             // random wrong-key conditions decoded per protected step
  uint64_t seed = 0;
  std::vector<float> full_condition;  // the key's condition (d values)
  // Where the model trains: "cpu", "cuda" or "cuda:N". Targets keep their own device (the CPU):
  // images cross to them and their outputs come back, gradients included.
  std::string device = "cpu";
};

struct StepMetrics {
  int64_t step = 0;
  std::string mode;  // "full", "protected" or "mixed"
  double loss = 0, bpp = 0, aux_loss = 0;
  double psnr_full = NAN, psnr_protected = NAN, psnr_wrong_key = NAN;
  double attack_loss = NAN;
  double attack_accuracy = NAN;  // share of protected samples the targets still get right
  double distortion_weight = 1, attack_weight = 0;
  double grad_norm = 0;
  bool stop = false;  // distributed: some rank asked to stop after this step (so all do)
};

class PsicTrainer {
 public:
  PsicTrainer(LoadedModel model, std::vector<AttackTarget> targets, TrainerConfig config);

  // x: [B, 3, H, W] crops in [0, 1], H and W multiples of 64. Updates the weights. captions:
  // optional token ids [B, context] of one caption per image; vision-language targets (CLIP)
  // then attack image–caption pairs instead of image–image ones.
  //
  // Data parallel (after attach): x is this rank's equal share of the combined batch (rank r
  // holds rows [r·b, (r+1)·b)), and the step updates the weights as one process would on the
  // combined batch; the metrics are the combined batch's, the same on every rank.
  StepMetrics step(const at::Tensor& x, const at::Tensor& captions = at::Tensor());

  // Makes this trainer one rank of a data-parallel group: checks that every rank has the same
  // model, trainer config and caller fingerprint (data config...), and copies rank 0's weights
  // to all. Every rank then calls step() in lockstep. Throws DistributedError.
  void attach(std::shared_ptr<ProcessGroup> group, const std::string& caller_fingerprint);
  ProcessGroup* group() const { return group_.get(); }
  // Thread-safe: the next step's metrics report stop on every rank (a rank's Ctrl-C stops all
  // after the same step).
  void request_stop() { stop_requested_ = true; }

  int64_t steps_done() const { return step_; }
  const TrainerConfig& config() const { return config_; }
  CompressionModel& model() { return *model_.model; }
  // The weights a stage may change, by state_dict name.
  std::vector<std::string> trainable_names() const;

  // A psic model file of the current weights (entropy tables rebuilt from the trained density).
  void save_model(const std::string& path);
  // Weights, both optimizers, step and the adaptive weight, plus the caller's JSON (data
  // position...), atomically. load_checkpoint restores them and returns that JSON.
  void save_checkpoint(const std::string& path, const std::string& caller_state_json);
  std::string load_checkpoint(const std::string& path);

 private:
  struct Decode {
    at::Tensor x_hat;
    std::vector<at::Tensor> likelihoods;
  };
  // Where a step's attacked rows sit in the combined batch (distributed), so the targets' outputs
  // of every rank can be put together in the order one process would attack them.
  struct AttackRows {
    at::Tensor positions;  // this rank's attacked rows in the combined batch
    at::Tensor order;      // the attacked rows of the combined batch, in order (undefined: all)
    int64_t total = 0;     // rows in the combined batch
    at::Tensor probe_image, probe_caption;  // one row each: the heads' shapes when a rank has no row
  };
  at::Tensor attack_loss(const at::Tensor& clean, const at::Tensor& x_hat, const at::Tensor& captions, const AttackRows& rows,
                         double* accuracy) const;
  at::Tensor whole_batch(const at::Tensor& local, const AttackRows& rows) const;
  at::Tensor conditions(const std::vector<int>& kinds, int64_t batch) const;
  std::vector<at::Tensor> trainable_params() const;  // main then aux, as trainable_names()  // 0 full, 1 protected, 2 wrong key

  LoadedModel model_;
  std::vector<AttackTarget> targets_;
  TrainerConfig config_;
  std::vector<std::string> main_names_, aux_names_;
  std::unique_ptr<Adam> main_opt_, aux_opt_;
  at::Tensor full_condition_, protected_condition_;
  at::Device device_ = at::Device(at::kCPU);
  int64_t step_ = 0;
  std::shared_ptr<ProcessGroup> group_;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace psic
