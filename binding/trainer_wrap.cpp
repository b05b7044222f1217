#include "trainer_wrap.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

#include "errors.h"
#include "models/keys.h"
#include "training/trainer_config.h"
#include "util/device.h"
#include "host_tensor.h"
#include "promise_worker.h"
#include "target_wrap.h"
#include "util/sha256.h"
#include "util/threads.h"

namespace psic_binding {

namespace {

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
  o.Set("modelId", payload_->model_id);
  o.Set("architecture", t.model().config.architecture);
  o.Set("conditionDim", static_cast<double>(t.model().config.condition_dim));
  o.Set("keySalt", payload_->key_salt);
  const std::vector<float>& c = t.config().full_condition;
  auto full = Napi::Float32Array::New(env, c.size());
  std::copy(c.begin(), c.end(), full.Data());
  o.Set("fullCondition", full);
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
  const char* usage = "createTrainer(configJson: string, key: Uint8Array, targets: [{target, weight}], fingerprint: string)";
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsTypedArray() || !info[2].IsArray() || !info[3].IsString() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, usage);
  const std::string config_json = info[0].ToString().Utf8Value();
  const auto key_array = info[1].As<Napi::Uint8Array>();
  const psic::Bytes key(key_array.Data(), key_array.Data() + key_array.ByteLength());
  const std::vector<psic::AttackTarget> targets = read_attack_targets(env, info[2], "targets: [{target, weight}]");
  const std::string fingerprint = info[3].ToString().Utf8Value();
  return PromiseWorker<std::shared_ptr<TrainerHandle>>::Start(
      env,
      [config_json, key, targets, fingerprint]() {
        const psic::TrainingRunConfig run = psic::TrainingRunConfig::parse(config_json);
        psic::parse_device(run.trainer.device);  // a device this build lacks fails before the model loads
        psic::KeyedModel keyed = psic::load_keyed_model(run.model, key, run.trainer.seed);
        psic::TrainerConfig config = run.trainer;
        config.full_condition = keyed.full_condition;
        auto handle = std::make_shared<TrainerHandle>();
        handle->model_id = keyed.model_id;
        handle->key_salt = keyed.key_salt;
        handle->trainer = std::make_unique<psic::PsicTrainer>(std::move(keyed.loaded), targets, config);
        if (run.is_distributed()) {
          const psic::TrainingDistributedConfig& d = *run.distributed;
          psic::DistributedOptions o;
          o.world_size = d.world_size;
          o.rank = d.rank;
          o.host = d.host;
          o.port = d.port;
          o.timeout_seconds = d.timeout_seconds;
          o.backend = run.trainer.device == "cpu" ? "gloo" : "nccl";  // NCCL between GPUs where the build has it
          handle->trainer->attach(std::make_shared<psic::ProcessGroup>(o), fingerprint);
        }
        return handle;
      },
      &TrainerWrap::FromResult);
}

Napi::Value ResolveTrainingConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "resolveTrainingConfig(json: string)");
  const std::string text = info[0].ToString().Utf8Value();
  return guarded(env, [&]() -> Napi::Value { return Napi::String::New(env, psic::TrainingRunConfig::parse(text).to_json().dump()); });
}

Napi::Value TrainingKeySalt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double seed = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  if (info.Length() < 2 || !info[0].IsString() || !(seed >= 0 && seed <= 9007199254740991.0 && std::floor(seed) == seed))
    throw Napi::TypeError::New(env, "trainingKeySalt(startModelId: string, seed: a non-negative integer)");
  const std::string id = info[0].ToString().Utf8Value();
  return guarded(env, [&]() -> Napi::Value { return Napi::String::New(env, psic::training_key_salt(id, static_cast<uint64_t>(seed))); });
}

}  // namespace psic_binding
