// NativeModel: a loaded psic::Codec, exposed to JS. compress/decompress/save run in
// AsyncWorkers and return Promises; the loaded model is read-only, so calls may overlap.
#pragma once
#include <napi.h>

#include <memory>

#include "codec.h"
#include "shared_wrap.h"

namespace psic_binding {

class ModelWrap : public SharedWrap<ModelWrap, psic::Codec> {
 public:
  static Napi::Function Define(Napi::Env env);
  using SharedWrap::SharedWrap;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Compress(const Napi::CallbackInfo& info);
  Napi::Value Decompress(const Napi::CallbackInfo& info);
  Napi::Value CompressBatch(const Napi::CallbackInfo& info);
  Napi::Value DecompressBatch(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value ExportEncoder(const Napi::CallbackInfo& info);
  Napi::Value KeyCondition(const Napi::CallbackInfo& info);
};

// deriveCondition(key, saltHex, dims): Float32Array (cpp/models/keys.h).
Napi::Value DeriveCondition(const Napi::CallbackInfo& info);

// loadModel(path, device = 'cpu'): Promise<NativeModel>
Napi::Value LoadModel(const Napi::CallbackInfo& info);
// initModel({architecture, N, M, conditionDim, seed, from}): a seeded random-init model, its
// encoder side optionally seeded from another model file (e.g. a CompressAI checkpoint).
Napi::Value InitModel(const Napi::CallbackInfo& info);

}  // namespace psic_binding
