// NativeTarget: a TargetModel (cpp/targets/target_model.h) exposed to JS — a human model or CLIP
// behind one interface. Heavy calls run in AsyncWorkers.
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "shared_wrap.h"
#include "targets/target_model.h"

namespace psic_binding {

class TargetWrap : public SharedWrap<TargetWrap, psic::TargetModel> {
 public:
  static Napi::Function Define(Napi::Env env);
  using SharedWrap::SharedWrap;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  // forward(images: Float32Array [B,3,H,W] in [0,1], shape): {heads: [{data, shape}], detections?}
  Napi::Value Forward(const Napi::CallbackInfo& info);
  // Benchmarks: forward + backward of the sum of every head w.r.t. a random image batch.
  Napi::Value ForwardBackward(const Napi::CallbackInfo& info);
};

// [{target: NativeTarget, weight?: number}] as the C++ attack and training code takes it.
std::vector<psic::AttackTarget> read_attack_targets(Napi::Env env, const Napi::Value& list, const char* usage);

// loadHumanTarget(name, modelJsonPath): Promise<NativeTarget>
Napi::Value LoadHumanTarget(const Napi::CallbackInfo& info);
// clipTarget(clip: NativeClip, name, classTokens: Int32Array | null, contextLength, classNames): Promise<NativeTarget>
Napi::Value ClipTarget(const Napi::CallbackInfo& info);

}  // namespace psic_binding
