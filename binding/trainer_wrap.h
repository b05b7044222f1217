// NativeTrainer: a psic::PsicTrainer exposed to JS. Unlike the loaded models it is mutable, so
// its calls are serialized by a mutex (the TS Trainer also awaits each one).
#pragma once
#include <napi.h>

#include <memory>
#include <mutex>
#include <string>

#include "shared_wrap.h"
#include "training/psic_trainer.h"

namespace psic_binding {

struct TrainerHandle {
  std::mutex mutex;
  std::unique_ptr<psic::PsicTrainer> trainer;
  std::string model_id;  // the starting model's (32 hex)
  std::string key_salt;  // the condition salt the run fixed
};

class TrainerWrap : public SharedWrap<TrainerWrap, TrainerHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  using SharedWrap::SharedWrap;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  // step(images: Float32Array [B,3,H,W] in [0,1], shape, captionTokens?: Int32Array [B*context]): Promise<metrics>
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value SaveModel(const Napi::CallbackInfo& info);
  Napi::Value SaveCheckpoint(const Napi::CallbackInfo& info);
  Napi::Value LoadCheckpoint(const Napi::CallbackInfo& info);
  // Distributed: every rank stops after the same step (no lock: it may run while a step does).
  Napi::Value RequestStop(const Napi::CallbackInfo& info);
  // Every state tensor by name, as bytes (tests: frozen weights stay bit-identical).
  Napi::Value StateDigest(const Napi::CallbackInfo& info);
};

// createTrainer(configJson, key: Uint8Array, targets: [{target: NativeTarget, weight}], fingerprint): Promise<NativeTrainer>
// configJson: a training run config (cpp/training/trainer_config.h; paths as the worker opens
// them). Loads the model once, fixes its key salt and the key's condition, and with
// distributed.worldSize > 1 joins the group (blocking in the worker until every rank has; the
// ranks must agree on the fingerprint, what the caller's side of the run holds).
Napi::Value CreateTrainer(const Napi::CallbackInfo& info);
// resolveTrainingConfig(json): the resolved config's JSON (every default); PsicConfigError.
Napi::Value ResolveTrainingConfig(const Napi::CallbackInfo& info);
// trainingKeySalt(startModelId, seed): psic::training_key_salt.
Napi::Value TrainingKeySalt(const Napi::CallbackInfo& info);

}  // namespace psic_binding
