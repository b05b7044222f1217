// NativeTfjsGraph: an imported TF.js graph model (cpp/targets), run in AsyncWorkers.
#pragma once
#include <napi.h>

#include <memory>

#include "shared_wrap.h"
#include "targets/tfjs_graph.h"

namespace psic_binding {

class TfjsWrap : public SharedWrap<TfjsWrap, psic::TfjsGraph> {
 public:
  static Napi::Function Define(Napi::Env env);
  using SharedWrap::SharedWrap;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Run(const Napi::CallbackInfo& info);
  // Benchmarks: forward and backward (gradient of the sum of the named outputs w.r.t. the input).
  Napi::Value RunBackward(const Napi::CallbackInfo& info);
};

// loadTfjsGraph(modelJsonPath): Promise<NativeTfjsGraph>
Napi::Value LoadTfjsGraph(const Napi::CallbackInfo& info);

}  // namespace psic_binding
