#include "tfjs_wrap.h"

#include "host_tensor.h"
#include "promise_worker.h"
#include "errors.h"
#include "util/threads.h"

namespace psic_binding {

using Outputs = std::map<std::string, HostTensor>;

Napi::Function TfjsWrap::Define(Napi::Env env) {
  return Register(env, "NativeTfjsGraph", {InstanceMethod("info", &TfjsWrap::Info), InstanceMethod("run", &TfjsWrap::Run),
                                           InstanceMethod("runBackward", &TfjsWrap::RunBackward)});
}

Napi::Value TfjsWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("input", payload_->input_name());
  auto outs = Napi::Array::New(env);
  for (const auto& name : payload_->output_names()) outs.Set(outs.Length(), name);
  o.Set("outputs", outs);
  auto ops = Napi::Array::New(env);
  for (const auto& op : payload_->ops_used()) ops.Set(ops.Length(), op);
  o.Set("ops", ops);
  auto shape = Napi::Array::New(env);
  for (int64_t d : payload_->input_shape()) shape.Set(shape.Length(), static_cast<double>(d));
  o.Set("inputShape", shape);
  return o;
}

Napi::Value TfjsWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) throw Napi::TypeError::New(env, "run(data: Float32Array, shape: number[])");
  HostTensor in = read_tensor_args(env, info[0], info[1], -1, "run(data: Float32Array, shape: number[])");
  std::vector<float> data = std::move(in.data);
  const std::vector<int64_t> shape = in.shape;
  auto graph = payload_;
  return PromiseWorker<Outputs>::Start(
      env,
      [graph, data = std::move(data), shape]() {
        at::NoGradGuard no_grad;
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        const at::Tensor x = at::from_blob(const_cast<float*>(data.data()), shape, at::kFloat);
        Outputs out;
        for (const auto& [name, t] : graph->run(x)) out[name] = to_host(t);
        return out;
      },
      [](Napi::Env env, Outputs& outs) -> Napi::Value {
        auto o = Napi::Object::New(env);
        for (auto& [name, v] : outs) o.Set(name, to_js(env, v));
        return o;
      });
}

Napi::Value TfjsWrap::RunBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[2].IsArray()) throw Napi::TypeError::New(env, "runBackward(data: Float32Array, shape: number[], outputs: string[])");
  HostTensor in = read_tensor_args(env, info[0], info[1], -1, "runBackward(data: Float32Array, shape: number[], outputs: string[])");
  std::vector<float> data = std::move(in.data);
  const std::vector<int64_t> shape = in.shape;
  std::vector<std::string> outputs;
  auto names = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < names.Length(); ++i) outputs.push_back(names.Get(i).ToString().Utf8Value());
  auto graph = payload_;
  return PromiseWorker<bool>::Start(
      env,
      [graph, data = std::move(data), shape, outputs]() {
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        const at::Tensor x = at::from_blob(const_cast<float*>(data.data()), shape, at::kFloat).clone().requires_grad_(true);
        const auto outs = graph->run(x);
        at::Tensor total = at::zeros({});
        for (const auto& name : outputs) {
          auto it = outs.find(name);
          if (it == outs.end()) throw psic::InputError("the graph has no output '" + name + "'");
          total = total + it->second.sum();
        }
        total.backward();
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

Napi::Value LoadTfjsGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "loadTfjsGraph(path)");
  const std::string path = info[0].ToString().Utf8Value();
  return PromiseWorker<std::shared_ptr<psic::TfjsGraph>>::Start(
      env, [path]() { return std::make_shared<psic::TfjsGraph>(path); },
      &TfjsWrap::FromResult);
}

}  // namespace psic_binding
