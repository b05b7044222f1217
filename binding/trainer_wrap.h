// NativeTrainer: a psic::PsicTrainer exposed to JS. Unlike the loaded models it is mutable, so
// its calls are serialized by a mutex (the TS Trainer also awaits each one).
#pragma once
#include <napi.h>

#include <memory>
#include <mutex>

#include "shared_wrap.h"
#include "training/psic_trainer.h"

namespace psic_binding {

struct TrainerHandle {
  std::mutex mutex;
  std::unique_ptr<psic::PsicTrainer> trainer;
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

// createTrainer(modelPath, keySalt | null, targets: [{target: NativeTarget, weight}], config): Promise<NativeTrainer>
// config.distributed = {worldSize, rank, host, port, timeoutSeconds, backend, fingerprint}:
// joins the group (blocking in the worker until every rank has) and attaches the trainer to it.
Napi::Value CreateTrainer(const Napi::CallbackInfo& info);

}  // namespace psic_binding
