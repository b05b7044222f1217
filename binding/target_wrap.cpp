#include "target_wrap.h"

#include "clip_wrap.h"
#include "host_tensor.h"
#include "promise_worker.h"
#include "targets/clip_target.h"
#include "targets/human_targets.h"
#include "util/threads.h"

namespace psic_binding {

namespace {

struct ForwardResult {
  std::vector<HostTensor> heads;
  bool has_detections = false;
  HostTensor detections;
};

}  // namespace

Napi::Function TargetWrap::Define(Napi::Env env) {
  return Register(env, "NativeTarget", {InstanceMethod("info", &TargetWrap::Info), InstanceMethod("forward", &TargetWrap::Forward),
                                        InstanceMethod("forwardBackward", &TargetWrap::ForwardBackward)});
}

Napi::Value TargetWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("name", payload_->name());
  o.Set("preprocessing", payload_->preprocessing());
  auto heads = Napi::Array::New(env);
  for (const auto& h : payload_->heads()) {
    auto e = Napi::Object::New(env);
    e.Set("name", h.name);
    e.Set("kind", psic::target_head_kind_name(h.kind));
    auto labels = Napi::Array::New(env, h.labels.size());
    for (uint32_t i = 0; i < h.labels.size(); ++i) labels.Set(i, h.labels[i]);
    e.Set("labels", labels);
    heads.Set(heads.Length(), e);
  }
  o.Set("heads", heads);
  return o;
}

Napi::Value TargetWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) throw Napi::TypeError::New(env, "forward(images: Float32Array, shape: [B, 3, H, W])");
  HostTensor in = read_tensor_args(env, info[0], info[1], 4, "forward(images: Float32Array, shape: [B, 3, H, W])");
  std::vector<float> data = std::move(in.data);
  const std::vector<int64_t> shape = in.shape;
  auto model = payload_;
  return PromiseWorker<ForwardResult>::Start(
      env,
      [model, data = std::move(data), shape]() {
        at::NoGradGuard no_grad;
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        const at::Tensor x = at::from_blob(const_cast<float*>(data.data()), shape, at::kFloat);
        const psic::TargetOutputs out = model->forward(x);
        ForwardResult r;
        for (const auto& h : out.heads) r.heads.push_back(to_host(h));
        if (out.detections.defined()) {
          r.has_detections = true;
          r.detections = to_host(out.detections);
        }
        return r;
      },
      [](Napi::Env env, ForwardResult& r) -> Napi::Value {
        auto o = Napi::Object::New(env);
        auto heads = Napi::Array::New(env, r.heads.size());
        for (uint32_t i = 0; i < r.heads.size(); ++i) heads.Set(i, to_js(env, r.heads[i]));
        o.Set("heads", heads);
        if (r.has_detections) o.Set("detections", to_js(env, r.detections));
        return o;
      });
}

Napi::Value TargetWrap::ForwardBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) throw Napi::TypeError::New(env, "forwardBackward(shape: [B, 3, H, W])");
  const std::vector<int64_t> shape = read_shape(env, info[0], "shape");
  auto model = payload_;
  return PromiseWorker<bool>::Start(
      env,
      [model, shape]() {
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        const at::Tensor x = at::rand(shape).requires_grad_(true);
        at::Tensor total = at::zeros({});
        for (const auto& h : model->forward(x).heads) total = total + h.sum();
        total.backward();
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

std::vector<psic::AttackTarget> read_attack_targets(Napi::Env env, const Napi::Value& value, const char* usage) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, usage);
  std::vector<psic::AttackTarget> targets;
  auto list = value.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    if (!list.Get(i).IsObject()) throw Napi::TypeError::New(env, usage);
    auto e = list.Get(i).As<Napi::Object>();
    auto model = TargetWrap::PayloadOf(e.Get("target"));
    if (!model) throw Napi::TypeError::New(env, "targets[].target must be a NativeTarget");
    const double weight = e.Has("weight") && e.Get("weight").IsNumber() ? e.Get("weight").As<Napi::Number>().DoubleValue() : 1.0;
    targets.push_back({model, weight});
  }
  return targets;
}

Napi::Value LoadHumanTarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    throw Napi::TypeError::New(env, "loadHumanTarget(name, modelJsonPath)");
  const std::string name = info[0].ToString().Utf8Value(), path = info[1].ToString().Utf8Value();
  return PromiseWorker<std::shared_ptr<psic::TargetModel>>::Start(
      env, [name, path]() { return psic::make_human_target(name, path); }, &TargetWrap::FromResult);
}

Napi::Value ClipTarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<psic::ClipModel> clip = info.Length() > 0 ? ClipWrap::PayloadOf(info[0]) : nullptr;
  if (!clip || info.Length() < 5 || !info[1].IsString() || !info[4].IsArray())
    throw Napi::TypeError::New(env, "clipTarget(clip, name, classTokens, contextLength, classNames)");
  const std::string name = info[1].ToString().Utf8Value();
  std::vector<std::string> classes;
  auto names = info[4].As<Napi::Array>();
  for (uint32_t i = 0; i < names.Length(); ++i) classes.push_back(names.Get(i).ToString().Utf8Value());
  std::vector<int64_t> tokens;
  if (info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto t = info[2].As<Napi::Int32Array>();
    tokens.assign(t.Data(), t.Data() + t.ElementLength());
  }
  const int64_t context = info[3].ToNumber().Int64Value();
  if (!classes.empty() && (context <= 0 || tokens.size() != classes.size() * static_cast<size_t>(context)))
    throw Napi::TypeError::New(env, "classTokens must hold contextLength ids per class name");
  return PromiseWorker<std::shared_ptr<psic::TargetModel>>::Start(
      env,
      [clip, name, tokens, context, classes]() {
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        at::Tensor t;
        if (!classes.empty()) t = at::tensor(tokens, at::kLong).view({static_cast<int64_t>(classes.size()), context});
        return psic::make_clip_target(clip, name, t, classes);
      },
      &TargetWrap::FromResult);
}

}  // namespace psic_binding
