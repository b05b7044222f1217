#include "tfjs_wrap.h"

#include <cstring>

#include "promise_worker.h"
#include "util/threads.h"

namespace psic_binding {

namespace {

struct Output {
  std::vector<float> data;
  std::vector<int64_t> shape;
};
using Outputs = std::map<std::string, Output>;

}  // namespace

Napi::Function TfjsWrap::Define(Napi::Env env) {
  return Register(env, "NativeTfjsGraph", {InstanceMethod("info", &TfjsWrap::Info), InstanceMethod("run", &TfjsWrap::Run)});
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
  return o;
}

Napi::Value TfjsWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
      !info[1].IsArray())
    throw Napi::TypeError::New(env, "run(data: Float32Array, shape: number[])");
  auto array = info[0].As<Napi::Float32Array>();
  std::vector<int64_t> shape;
  auto a = info[1].As<Napi::Array>();
  int64_t n = 1;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    shape.push_back(a.Get(i).ToNumber().Int64Value());
    n *= shape.back();
  }
  if (n != static_cast<int64_t>(array.ElementLength())) throw Napi::TypeError::New(env, "data does not match its shape");
  std::vector<float> data(array.Data(), array.Data() + array.ElementLength());
  auto graph = payload_;
  return PromiseWorker<Outputs>::Start(
      env,
      [graph, data = std::move(data), shape]() {
        at::NoGradGuard no_grad;
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        const at::Tensor x = at::from_blob(const_cast<float*>(data.data()), shape, at::kFloat);
        Outputs out;
        for (const auto& [name, t] : graph->run(x)) {
          const at::Tensor c = t.to(at::kFloat).contiguous();
          out[name] = {std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()), c.sizes().vec()};
        }
        return out;
      },
      [](Napi::Env env, Outputs& outs) -> Napi::Value {
        auto o = Napi::Object::New(env);
        for (auto& [name, v] : outs) {
          auto e = Napi::Object::New(env);
          auto d = Napi::Float32Array::New(env, v.data.size());
          if (!v.data.empty()) std::memcpy(d.Data(), v.data.data(), v.data.size() * sizeof(float));
          e.Set("data", d);
          auto s = Napi::Array::New(env, v.shape.size());
          for (uint32_t i = 0; i < v.shape.size(); ++i) s.Set(i, static_cast<double>(v.shape[i]));
          e.Set("shape", s);
          o.Set(name, e);
        }
        return o;
      });
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
