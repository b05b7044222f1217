#include "trainer_wrap.h"

#include <cmath>
#include <optional>

#include "errors.h"
#include "host_tensor.h"
#include "promise_worker.h"
#include "target_wrap.h"
#include "util/sha256.h"
#include "util/threads.h"

namespace psic_binding {

namespace {

double number(const Napi::Object& o, const char* key, double fallback) {
  return o.Has(key) && o.Get(key).IsNumber() ? o.Get(key).As<Napi::Number>().DoubleValue() : fallback;
}
std::string text(const Napi::Object& o, const char* key, const std::string& fallback) {
  return o.Has(key) && o.Get(key).IsString() ? o.Get(key).ToString().Utf8Value() : fallback;
}

// The config object of src/training/trainer.ts (already validated there; re-checked in C++).
psic::TrainerConfig read_config(Napi::Env env, const Napi::Object& o) {
  psic::TrainerConfig c;
  c.stage = static_cast<int>(number(o, "stage", 1));
  c.conditioning_only = o.Has("conditioningOnly") && o.Get("conditioningOnly").ToBoolean().Value();
  c.lambda = number(o, "lambda", c.lambda);
  c.lr = number(o, "lr", c.lr);
  c.aux_lr = number(o, "auxLr", c.aux_lr);
  c.clip_max_norm = number(o, "clipMaxNorm", c.clip_max_norm);
  const std::string schedule = text(o, "schedule", "alternate");
  c.schedule = schedule == "mixed" ? psic::TrainingSchedule::Mixed : psic::TrainingSchedule::Alternate;
  const std::string balance = text(o, "balance", "fixed");
  c.balance = balance == "inverse-loss" ? psic::AttackBalance::InverseLoss
              : balance == "adaptive"   ? psic::AttackBalance::Adaptive
                                        : psic::AttackBalance::Fixed;
  c.attack_weight = number(o, "attackWeight", c.attack_weight);
  c.protected_psnr = number(o, "protectedPsnr", c.protected_psnr);
  c.dual_lr = number(o, "dualLr", c.dual_lr);
  const std::string uaeo = text(o, "uaeo", "paper");
  c.uaeo.variant = uaeo == "code" ? psic::UaeoVariant::Code : uaeo == "naive" ? psic::UaeoVariant::Naive : psic::UaeoVariant::Paper;
  c.uaeo.s = number(o, "temperature", c.uaeo.s);
  c.uaeo.code_stage2_weighting = c.uaeo.variant == psic::UaeoVariant::Code && c.stage == 2;
  c.wrong_keys = static_cast<int>(number(o, "wrongKeys", c.wrong_keys));
  c.seed = static_cast<uint64_t>(number(o, "seed", 0));
  c.device = text(o, "device", "cpu");
  if (o.Has("fullCondition")) {
    const std::vector<float> f = read_floats(env, o.Get("fullCondition"), "fullCondition");
    c.full_condition = f;
  }
  return c;
}

Napi::Value metrics_to_js(Napi::Env env, const psic::StepMetrics& m) {
  auto o = Napi::Object::New(env);
  auto num = [&](const char* k, double v) { o.Set(k, std::isfinite(v) ? Napi::Value(Napi::Number::New(env, v)) : env.Null()); };
  num("step", static_cast<double>(m.step));
  o.Set("mode", m.mode);
  num("loss", m.loss);
  num("bpp", m.bpp);
  num("auxLoss", m.aux_loss);
  num("psnrFull", m.psnr_full);
  num("psnrProtected", m.psnr_protected);
  num("psnrWrongKey", m.psnr_wrong_key);
  num("attackLoss", m.attack_loss);
  num("attackAccuracy", m.attack_accuracy);
  num("distortionWeight", m.distortion_weight);
  num("attackWeight", m.attack_weight);
  num("gradNorm", m.grad_norm);
  o.Set("stop", m.stop);
  return o;
}

}  // namespace

Napi::Function TrainerWrap::Define(Napi::Env env) {
  return Register(env, "NativeTrainer",
                  {InstanceMethod("info", &TrainerWrap::Info), InstanceMethod("step", &TrainerWrap::Step),
                   InstanceMethod("saveModel", &TrainerWrap::SaveModel), InstanceMethod("saveCheckpoint", &TrainerWrap::SaveCheckpoint),
                   InstanceMethod("loadCheckpoint", &TrainerWrap::LoadCheckpoint), InstanceMethod("stateDigest", &TrainerWrap::StateDigest),
                   InstanceMethod("requestStop", &TrainerWrap::RequestStop)});
}

Napi::Value TrainerWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(payload_->mutex);
  psic::PsicTrainer& t = *payload_->trainer;
  auto o = Napi::Object::New(env);
  o.Set("stepsDone", static_cast<double>(t.steps_done()));
  o.Set("config", t.model().config.to_json());
  o.Set("attackWeight", t.config().attack_weight);
  auto names = Napi::Array::New(env);
  for (const auto& n : t.trainable_names()) names.Set(names.Length(), n);
  o.Set("trainable", names);
  return o;
}

Napi::Value TrainerWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) throw Napi::TypeError::New(env, "step(images: Float32Array, shape: [B, 3, H, W])");
  HostTensor in = read_tensor_args(env, info[0], info[1], 4, "step(images: Float32Array, shape: [B, 3, H, W])");
  std::vector<float> data = std::move(in.data);
  const std::vector<int64_t> shape = in.shape;
  // Optional caption token ids: Int32Array [B * context].
  std::vector<int64_t> tokens;
  if (info.Length() > 2 && info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto t = info[2].As<Napi::Int32Array>();
    tokens.assign(t.Data(), t.Data() + t.ElementLength());
    if (tokens.empty() || tokens.size() % static_cast<size_t>(shape[0]) != 0) throw Napi::TypeError::New(env, "captions must hold B rows of token ids");
  }
  auto handle = payload_;
  return PromiseWorker<psic::StepMetrics>::Start(
      env,
      [handle, data = std::move(data), shape, tokens]() {
        std::lock_guard<std::mutex> lock(handle->mutex);
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        at::Tensor captions;
        if (!tokens.empty()) captions = at::tensor(tokens, at::kLong).view({shape[0], -1});
        return handle->trainer->step(at::from_blob(const_cast<float*>(data.data()), shape, at::kFloat), captions);
      },
      [](Napi::Env env, psic::StepMetrics& m) { return metrics_to_js(env, m); });
}

Napi::Value TrainerWrap::SaveModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "saveModel(path)");
  const std::string path = info[0].ToString().Utf8Value();
  auto handle = payload_;
  return PromiseWorker<bool>::Start(
      env,
      [handle, path]() {
        std::lock_guard<std::mutex> lock(handle->mutex);
        handle->trainer->save_model(path);
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

Napi::Value TrainerWrap::SaveCheckpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) throw Napi::TypeError::New(env, "saveCheckpoint(path, callerStateJson)");
  const std::string path = info[0].ToString().Utf8Value(), state = info[1].ToString().Utf8Value();
  auto handle = payload_;
  return PromiseWorker<bool>::Start(
      env,
      [handle, path, state]() {
        std::lock_guard<std::mutex> lock(handle->mutex);
        handle->trainer->save_checkpoint(path, state);
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

Napi::Value TrainerWrap::LoadCheckpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "loadCheckpoint(path)");
  const std::string path = info[0].ToString().Utf8Value();
  auto handle = payload_;
  return PromiseWorker<std::string>::Start(
      env,
      [handle, path]() {
        std::lock_guard<std::mutex> lock(handle->mutex);
        return handle->trainer->load_checkpoint(path);
      },
      [](Napi::Env env, std::string& s) -> Napi::Value { return Napi::String::New(env, s); });
}

Napi::Value TrainerWrap::RequestStop(const Napi::CallbackInfo& info) {
  payload_->trainer->request_stop();  // set once at creation, never replaced: no lock needed
  return info.Env().Undefined();
}

Napi::Value TrainerWrap::StateDigest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(payload_->mutex);
  auto o = Napi::Object::New(env);
  payload_->trainer->model().visit_state("", [&](const std::string& name, at::Tensor& t, psic::StateKind) {
    const at::Tensor c = t.detach().contiguous();
    psic::Sha256 h;
    h.update(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
    const auto d = h.digest();
    o.Set(name, psic::to_hex(d.data(), d.size()));
  });
  return o;
}

Napi::Value CreateTrainer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[2].IsArray() || !info[3].IsObject())
    throw Napi::TypeError::New(env, "createTrainer(modelPath, keySalt, targets, config)");
  const std::string path = info[0].ToString().Utf8Value();
  const std::string salt = info[1].IsString() ? info[1].ToString().Utf8Value() : "";
  const std::vector<psic::AttackTarget> targets = read_attack_targets(env, info[2], "targets: [{target, weight}]");
  const auto options = info[3].As<Napi::Object>();
  psic::TrainerConfig config = read_config(env, options);
  // Distributed (validated in src/training/trainer.ts).
  std::optional<psic::DistributedOptions> distributed;
  std::string fingerprint;
  if (options.Has("distributed") && options.Get("distributed").IsObject()) {
    const auto d = options.Get("distributed").As<Napi::Object>();
    psic::DistributedOptions o;
    o.world_size = static_cast<int>(number(d, "worldSize", 1));
    o.rank = static_cast<int>(number(d, "rank", 0));
    o.host = text(d, "host", o.host);
    o.port = static_cast<int>(number(d, "port", o.port));
    o.timeout_seconds = number(d, "timeoutSeconds", o.timeout_seconds);
    o.backend = text(d, "backend", o.backend);
    fingerprint = text(d, "fingerprint", "");
    if (o.world_size > 1) distributed = o;
  }
  return PromiseWorker<std::shared_ptr<TrainerHandle>>::Start(
      env,
      [path, salt, targets, config, distributed, fingerprint]() {
        psic::LoadedModel loaded = psic::load_model(path);
        if (!salt.empty()) {
          const std::string& have = loaded.model->config.key_salt;
          if (!have.empty() && have != salt) throw psic::KeyError("the model was trained for another key salt");
          loaded.model->config.set_key_salt(salt);
        }
        auto handle = std::make_shared<TrainerHandle>();
        handle->trainer = std::make_unique<psic::PsicTrainer>(std::move(loaded), targets, config);
        if (distributed) handle->trainer->attach(std::make_shared<psic::ProcessGroup>(*distributed), fingerprint);
        return handle;
      },
      &TrainerWrap::FromResult);
}

}  // namespace psic_binding
