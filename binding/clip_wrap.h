// NativeClip: a loaded CLIP model (cpp/clip), exposed to JS; heavy calls run in AsyncWorkers.
// clipTokenize: CLIP's BPE tokenizer (tokenizers are cached per vocabulary path).
#pragma once
#include <napi.h>

#include <memory>

#include "clip/clip_model.h"
#include "shared_wrap.h"

namespace psic_binding {

class ClipWrap : public SharedWrap<ClipWrap, psic::ClipModel> {
 public:
  static Napi::Function Define(Napi::Env env);
  using SharedWrap::SharedWrap;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value EncodeImage(const Napi::CallbackInfo& info);
  Napi::Value EncodeText(const Napi::CallbackInfo& info);
  // Benchmarks: one forward + backward of the image tower (loss = mean squared features).
  Napi::Value ImageTrainStep(const Napi::CallbackInfo& info);
};

// randomClip('ViT-B/32', seed): Promise<NativeClip> with random weights (benchmarks)
Napi::Value RandomClip(const Napi::CallbackInfo& info);
// loadClip(path): Promise<NativeClip>
Napi::Value LoadClip(const Napi::CallbackInfo& info);
// clipPreprocess(rgb, width, height, resolution): Promise<Float32Array [3, R, R]> (OpenAI's _transform)
Napi::Value ClipPreprocess(const Napi::CallbackInfo& info);
// clipTokenize(vocabPath, texts, contextLength, truncate): Int32Array [texts.length * contextLength]
Napi::Value ClipTokenize(const Napi::CallbackInfo& info);

}  // namespace psic_binding
