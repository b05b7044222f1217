// The training config, in one place: what the trainer needs (TrainerConfig) and the whole run that
// `psic train --config F.json` describes (TrainingRunConfig). Every default is a member
// initializer below; TrainingRunConfig::from_json is the one validation of the file (the SDK's
// src/training/trainer.ts passes the object through and uses to_json's resolved values).
//
// from_json throws ConfigError, naming the field's path in the file, for
//   - a field the config does not have, at any level ("unknown config field 'data.crp'"),
//   - a value of the wrong JSON type ("config field 'lr' must be a number, got \"0.1\""),
//   - a value out of range ("config field 'data.crop' must be a multiple of 64, got 100").
// Paths stay as written (the caller resolves them, e.g. relative to the config file).
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "training/uaeo_options.h"

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

// What PsicTrainer needs. Its JSON names (in TrainingRunConfig's file) are in the comments.
struct TrainerConfig {
  int stage = 1;  // stage: 1 or 2
  // conditioningOnly, stage 2 only: train just the conditioning (global_cond and the CLTG
  // projections: psic-balle's g_s_shift, the CRBs' proj1/proj2), so the backbone decoder stays as
  // trained and only how the decode depends on the condition is learned.
  bool conditioning_only = false;
  double lambda = 0.0130;      // lambda > 0 (CompressAI's quality 3)
  double lr = 1e-4;            // lr > 0
  double aux_lr = 1e-3;        // auxLr > 0
  double clip_max_norm = 1.0;  // clipMaxNorm >= 0, 0 = no clipping (CompressAI's train.py default: 1)
  TrainingSchedule schedule = TrainingSchedule::Alternate;  // schedule: 'alternate' | 'mixed'
  AttackBalance balance = AttackBalance::Fixed;             // balance: 'fixed' | 'inverse-loss' | 'adaptive'
  double attack_weight = 1.0;     // attackWeight >= 0: the fixed weight, or the adaptive one's start
  double protected_psnr = 30.0;   // protectedPsnr in (0, 100): Adaptive's floor for the protected decode (dB)
  double dual_lr = 0.05;          // dualLr > 0: Adaptive's step of log(attack_weight) per dB off the floor
  UaeoOptions uaeo;               // uaeo: 'paper' | 'code' | 'naive'; temperature: s in (0, 1)
  int wrong_keys = 2;             // wrongKeys in [0, 64]: random wrong-key conditions decoded per protected step
  uint64_t seed = 0;              // seed: an integer in [0, 2^53)
  // Not in the file: the key's condition (d values), derived when the trainer starts.
  std::vector<float> full_condition;
  // device: "cpu", "cuda" or "cuda:N". Targets keep their own device (the CPU): images cross to
  // them and their outputs come back, gradients included.
  std::string device = "cpu";
};

// Throws ConfigError (naming the file's field) when a value is out of range; from_json calls it,
// and so does PsicTrainer for a config built in C++.
void validate(const TrainerConfig& config);

struct TrainingDataConfig {
  std::string dir;                         // dir (required): the image folder
  std::optional<std::string> annotations;  // annotations: a CSV of captions...
  int64_t crop = 128;                      // crop: a multiple of 64, >= 64
  int64_t batch_size = 8;                  // batchSize >= 1: the combined batch (all ranks)
  std::optional<int64_t> limit;            // limit >= 1: the first N images
  std::optional<std::vector<std::string>> files;  // files: the basenames to use
  int64_t prefetch = 2;                    // prefetch >= 0: batches decoded ahead
};

struct TrainingTargetConfig {
  std::string target;  // target (required): 'human:NAME' or 'clip:PATH'
  double weight = 1.0;  // weight >= 0
  std::optional<std::vector<std::string>> classes;  // classes: CLIP zero-shot class names
};

struct TrainingDistributedConfig {
  int world_size = 1;            // worldSize in [1, 1024]
  int rank = 0;                  // rank in [0, worldSize)
  std::string master;            // master: ADDR:PORT ('[::1]:29500' for IPv6); required when worldSize > 1
  double timeout_seconds = 60;   // timeoutSeconds in (0, 86400]
  // master split (empty and 0 when no master is given).
  std::string host;
  int port = 0;
};

struct TrainingRunConfig {
  std::string model;                     // model (required): the PSIC model file to train
  std::optional<std::string> key;        // key: the owner's key, hex
  std::optional<std::string> key_file;   // keyFile: a key file (created when missing)
  std::optional<TrainingDataConfig> data;
  std::vector<TrainingTargetConfig> targets;
  TrainerConfig trainer;                 // stage ... seed, device (top-level fields of the file)
  int64_t steps = 1000;                  // steps >= 0
  int64_t log_every = 10;                // logEvery >= 1
  int64_t checkpoint_every = 200;        // checkpointEvery >= 1
  std::string output;      // output; default: model with .trained.safetensors (default_output)
  std::string checkpoint;  // checkpoint; default: output with .ckpt.safetensors (default_checkpoint)
  std::optional<int> threads;            // threads in [1, 1024]
  std::optional<TrainingDistributedConfig> distributed;

  // The run a JSON object describes, every default filled in. Throws ConfigError.
  static TrainingRunConfig from_json(const nlohmann::json& j);
  // The same from JSON text (ConfigError also for text that is not JSON).
  static TrainingRunConfig parse(const std::string& json_text);
  // The resolved config under the file's names: from_json(to_json()) gives the same config.
  nlohmann::json to_json() const;
  // Whether the run has several ranks (distributed.worldSize > 1).
  bool is_distributed() const { return distributed && distributed->world_size > 1; }
};

// "m.safetensors" -> "m.trained.safetensors"; other names get ".trained.safetensors" appended.
std::string default_output(const std::string& model);
// "o.safetensors" -> "o.ckpt.safetensors"; other names get ".ckpt.safetensors" appended.
std::string default_checkpoint(const std::string& output);

struct HostPort {
  std::string host;
  int port = 0;
};
// 'ADDR:PORT', an IPv6 address in brackets ('[::1]:29500'), port in [1, 65535]; nullopt otherwise.
std::optional<HostPort> parse_host_port(const std::string& text);

}  // namespace psic
