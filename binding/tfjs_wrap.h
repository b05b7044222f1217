// NativeTfjsGraph: an imported TF.js graph model (cpp/targets), run in AsyncWorkers.
#pragma once
#include <napi.h>

#include <memory>

#include "targets/tfjs_graph.h"

namespace psic_binding {

class TfjsWrap : public Napi::ObjectWrap<TfjsWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<psic::TfjsGraph> graph);
  explicit TfjsWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Run(const Napi::CallbackInfo& info);
  std::shared_ptr<psic::TfjsGraph> graph_;
};

// loadTfjsGraph(modelJsonPath): Promise<NativeTfjsGraph>
Napi::Value LoadTfjsGraph(const Napi::CallbackInfo& info);

}  // namespace psic_binding
