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

#include "crypto/primitives.h"
#include "models/model_loader.h"
#include "targets/target_model.h"
#include "training/adam.h"
#include "training/distributed.h"
#include "training/trainer_config.h"

namespace psic {

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

// The model a run trains, loaded once, with the owner key's condition on it (models/keys.h):
// the condition salt is the model's key_salt when it has one (a retrained model keeps its key),
// else training_key_salt(its id, seed), which save_model then stores. The reference architecture
// has no secret: its full condition is [0] and its config keeps no salt. InputError for a model
// with a single decode (no condition), KeyError for a key that is too short or long.
struct KeyedModel {
  LoadedModel loaded;
  std::string model_id;  // 32 hex chars: the starting model's id (containers store it)
  std::string key_salt;
  std::vector<float> full_condition;
};
KeyedModel load_keyed_model(const std::string& path, const Bytes& key, uint64_t seed);

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
  struct StepState;  // one step's batch, rows and figures (psic_trainer.cpp)
  // step() in order: check the batch, encode, the mode's decodes and their loss, then combine
  // the ranks' figures and gradients, update the weights and the adaptive attack weight.
  StepState check_batch(const at::Tensor& input, const at::Tensor& captions) const;
  LatentCodec::ForwardResult encode(const at::Tensor& x);
  at::Tensor full_decode_loss(StepState& s, const at::Tensor& y_hat);
  at::Tensor protected_decode_loss(StepState& s, const at::Tensor& y_hat);
  at::Tensor mixed_decode_loss(StepState& s, const at::Tensor& y_hat);
  at::Tensor distortion(const at::Tensor& x_hat, const at::Tensor& ref, int64_t of_rows) const;
  at::Tensor weigh(StepState& s, const at::Tensor& d, const at::Tensor& a) const;
  double global_sum(double v) const;
  void combine_ranks(StepState& s, const at::Tensor& loss, const at::Tensor& bpp);
  void update_weights(StepState& s);
  void adapt_attack_weight(const StepMetrics& metrics);

  at::Tensor attack_loss(const at::Tensor& clean, const at::Tensor& x_hat, const at::Tensor& captions, const AttackRows& rows,
                         double* accuracy) const;
  at::Tensor whole_batch(const at::Tensor& local, const AttackRows& rows) const;
  at::Tensor conditions(const std::vector<int>& kinds, int64_t batch) const;  // kinds: 0 full, 1 protected, 2 wrong key
  std::vector<at::Tensor> trainable_params() const;  // main then aux, as trainable_names()

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
