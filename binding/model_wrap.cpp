#include "model_wrap.h"

#include <cstring>

#include "errors.h"
#include "js_errors.h"
#include "models/keys.h"
#include "models/model_files.h"
#include "promise_worker.h"

namespace psic_binding {

namespace {

// A key as raw bytes (src/keys.ts validates and converts hex); absent = none.
psic::Bytes read_key(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(v.Env(), "key must be a Uint8Array");
  auto a = v.As<Napi::Uint8Array>();
  return psic::Bytes(a.Data(), a.Data() + a.ByteLength());
}

// An X25519 key: 32 bytes.
std::array<uint8_t, 32> read_key32(const Napi::Value& v, const char* what) {
  const psic::Bytes b = read_key(v);
  if (b.size() != 32) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a 32-byte Uint8Array");
  std::array<uint8_t, 32> out{};
  std::memcpy(out.data(), b.data(), 32);
  return out;
}

psic::CodecOptions read_options(const Napi::Value& value) {
  psic::CodecOptions o;
  if (!value.IsObject()) return o;
  auto obj = value.As<Napi::Object>();
  if (obj.Has("path")) o.fast = obj.Get("path").ToString().Utf8Value() != "compat";
  if (obj.Has("synthesis") && obj.Get("synthesis").IsString())
    o.subpixel = obj.Get("synthesis").ToString().Utf8Value() == "subpixel" ? 1 : 0;
  if (obj.Has("pixelLimit") && obj.Get("pixelLimit").IsNumber())
    o.pixel_limit = static_cast<uint64_t>(obj.Get("pixelLimit").ToNumber().DoubleValue());
  if (obj.Has("estimate")) o.estimate_bits = obj.Get("estimate").ToBoolean().Value();
  if (obj.Has("threads") && obj.Get("threads").IsNumber()) o.threads = obj.Get("threads").ToNumber().Int32Value();
  if (obj.Has("key")) o.key = read_key(obj.Get("key"));
  if (obj.Has("seal")) o.seal = obj.Get("seal").ToBoolean().Value();
  if (obj.Has("recipients") && obj.Get("recipients").IsArray()) {
    auto list = obj.Get("recipients").As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) o.recipients.push_back(read_key32(list.Get(i), "recipients[]"));
  }
  if (obj.Has("x25519Secret") && !obj.Get("x25519Secret").IsUndefined()) o.x25519_secret = read_key32(obj.Get("x25519Secret"), "x25519Secret");
  if (obj.Has("sealedCoding") && obj.Get("sealedCoding").IsNumber()) o.sealed_coding = obj.Get("sealedCoding").ToNumber().Int32Value();
  if (obj.Has("publicSynthesis") && obj.Get("publicSynthesis").IsNumber()) o.public_synthesis = obj.Get("publicSynthesis").ToNumber().Int32Value();
  return o;
}

Napi::Object timings_to_js(Napi::Env env, const psic::Timings& t) {
  auto o = Napi::Object::New(env);
  o.Set("transformMs", t.transform_ms);
  o.Set("entropyMs", t.entropy_ms);
  o.Set("totalMs", t.total_ms);
  return o;
}

template <typename T, typename Array>
Array to_typed_array(Napi::Env env, const std::vector<T>& v) {
  Array out = Array::New(env, v.size());
  if (!v.empty()) std::memcpy(out.Data(), v.data(), v.size() * sizeof(T));
  return out;
}

Napi::Object compress_result_to_js(Napi::Env env, const psic::CompressResult& r) {
  auto o = Napi::Object::New(env);
  o.Set("container", to_typed_array<uint8_t, Napi::Uint8Array>(env, r.container));
  o.Set("timings", timings_to_js(env, r.timings));
  o.Set("estimatedBits", r.estimated_bits);
  return o;
}

Napi::Object decompress_result_to_js(Napi::Env env, const psic::DecompressResult& r, bool float_output) {
  auto o = Napi::Object::New(env);
  if (float_output)
    o.Set("data", to_typed_array<float, Napi::Float32Array>(env, r.rgb32));
  else
    o.Set("data", to_typed_array<uint8_t, Napi::Uint8Array>(env, r.rgb8));
  o.Set("width", static_cast<double>(r.width));
  o.Set("height", static_cast<double>(r.height));
  o.Set("timings", timings_to_js(env, r.timings));
  return o;
}

bool float_output_of(const Napi::Value& options) {
  if (!options.IsObject()) return false;
  auto obj = options.As<Napi::Object>();
  return obj.Has("output") && obj.Get("output").ToString().Utf8Value() == "float32";
}

std::vector<float> read_condition(Napi::Env env, const Napi::Value& c) {
  std::vector<float> condition;
  if (c.IsUndefined() || c.IsNull()) return condition;
  if (!c.IsTypedArray() || c.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "condition must be a Float32Array");
  auto array = c.As<Napi::Float32Array>();
  condition.assign(array.Data(), array.Data() + array.ElementLength());
  return condition;
}

int64_t read_max_batch(Napi::Env env, const Napi::Value& v) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "maxBatch must be a number");
  const int64_t n = v.As<Napi::Number>().Int64Value();
  if (n < 1 || n > 1024) throw Napi::RangeError::New(env, "maxBatch must be in [1, 1024]");
  return n;
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return Register(env, "NativeModel",
                  {InstanceMethod("info", &ModelWrap::Info), InstanceMethod("compress", &ModelWrap::Compress),
                   InstanceMethod("decompress", &ModelWrap::Decompress),
                   InstanceMethod("compressBatch", &ModelWrap::CompressBatch),
                   InstanceMethod("decompressBatch", &ModelWrap::DecompressBatch), InstanceMethod("save", &ModelWrap::Save),
                   InstanceMethod("exportEncoder", &ModelWrap::ExportEncoder),
                   InstanceMethod("keyCondition", &ModelWrap::KeyCondition)});
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!payload_) throw Napi::Error::New(env, "NativeModel is not loaded");
  const auto& loaded = payload_->loaded();
  auto o = Napi::Object::New(env);
  o.Set("architecture", loaded.model->config.architecture);
  o.Set("N", static_cast<double>(loaded.model->config.N));
  o.Set("M", static_cast<double>(loaded.model->config.M));
  o.Set("modelId", psic::model_id_hex(payload_->container_model_id()));
  o.Set("config", loaded.model->config.to_json());
  o.Set("source", loaded.source);
  o.Set("device", payload_->device().str());
  o.Set("conditionDim", static_cast<double>(loaded.model->config.condition_dim));
  auto counts = Napi::Object::New(env);
  for (const auto& [name, n] : loaded.model->parameter_counts()) counts.Set(name, static_cast<double>(n));
  o.Set("parameterCounts", counts);
  return o;
}

Napi::Value ModelWrap::Compress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "compress(rgb, width, height, options)");
  auto rgb = copy_bytes(info[0], "rgb");
  const int64_t width = info[1].As<Napi::Number>().Int64Value();
  const int64_t height = info[2].As<Napi::Number>().Int64Value();
  const psic::CodecOptions options = read_options(info[3]);
  if (width <= 0 || height <= 0 || rgb.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 3)
    throw Napi::TypeError::New(env, "rgb must hold width * height * 3 bytes");
  auto codec = payload_;
  return PromiseWorker<psic::CompressResult>::Start(
      env,
      [codec, rgb = std::move(rgb), width, height, options]() { return codec->compress(rgb.data(), width, height, options); },
      [](Napi::Env env, psic::CompressResult& r) -> Napi::Value { return compress_result_to_js(env, r); });
}

Napi::Value ModelWrap::CompressBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "compressBatch(images: {rgb, width, height}[], options, maxBatch)";
  if (info.Length() < 3 || !info[0].IsArray()) throw Napi::TypeError::New(env, usage);
  auto list = info[0].As<Napi::Array>();
  std::vector<std::vector<uint8_t>> pixels;
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    if (!list.Get(i).IsObject()) throw Napi::TypeError::New(env, usage);
    auto item = list.Get(i).As<Napi::Object>();
    if (!item.Get("width").IsNumber() || !item.Get("height").IsNumber()) throw Napi::TypeError::New(env, usage);
    const int64_t width = item.Get("width").As<Napi::Number>().Int64Value();
    const int64_t height = item.Get("height").As<Napi::Number>().Int64Value();
    pixels.push_back(copy_bytes(item.Get("rgb"), "rgb"));
    if (width <= 0 || height <= 0 || pixels.back().size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 3)
      throw Napi::TypeError::New(env, "rgb must hold width * height * 3 bytes");
    sizes.emplace_back(width, height);
  }
  const psic::CodecOptions options = read_options(info[1]);
  const int64_t max_batch = read_max_batch(env, info[2]);
  auto codec = payload_;
  return PromiseWorker<std::vector<psic::CompressResult>>::Start(
      env,
      [codec, pixels = std::move(pixels), sizes, options, max_batch]() {
        std::vector<psic::ImageView> views;
        for (size_t i = 0; i < pixels.size(); ++i) views.push_back({pixels[i].data(), sizes[i].first, sizes[i].second});
        return codec->compress_batch(views, options, max_batch);
      },
      [](Napi::Env env, std::vector<psic::CompressResult>& results) -> Napi::Value {
        auto out = Napi::Array::New(env, results.size());
        for (uint32_t i = 0; i < results.size(); ++i) out.Set(i, compress_result_to_js(env, results[i]));
        return out;
      });
}

Napi::Value ModelWrap::Decompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto bytes = copy_bytes(info[0], "container");
  const psic::CodecOptions options = read_options(info[1]);
  const bool float_output = float_output_of(info[1]);
  std::vector<float> condition;
  if (info[1].IsObject()) condition = read_condition(env, info[1].As<Napi::Object>().Get("condition"));
  auto codec = payload_;
  return PromiseWorker<psic::DecompressResult>::Start(
      env,
      [codec, bytes = std::move(bytes), options, float_output, condition = std::move(condition)]() {
        return codec->decompress(bytes.data(), bytes.size(), options, float_output, condition);
      },
      [float_output](Napi::Env env, psic::DecompressResult& r) -> Napi::Value {
        return decompress_result_to_js(env, r, float_output);
      });
}

Napi::Value ModelWrap::DecompressBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "decompressBatch(containers: {data, condition?}[], options, maxBatch)";
  if (info.Length() < 3 || !info[0].IsArray()) throw Napi::TypeError::New(env, usage);
  auto list = info[0].As<Napi::Array>();
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<std::vector<float>> conditions;
  std::vector<psic::Bytes> keys;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    if (!list.Get(i).IsObject()) throw Napi::TypeError::New(env, usage);
    auto item = list.Get(i).As<Napi::Object>();
    bytes.push_back(copy_bytes(item.Get("data"), "container"));
    conditions.push_back(read_condition(env, item.Get("condition")));
    keys.push_back(read_key(item.Get("key")));
  }
  const psic::CodecOptions options = read_options(info[1]);
  const bool float_output = float_output_of(info[1]);
  const int64_t max_batch = read_max_batch(env, info[2]);
  auto codec = payload_;
  return PromiseWorker<std::vector<psic::DecompressResult>>::Start(
      env,
      [codec, bytes = std::move(bytes), conditions = std::move(conditions), keys = std::move(keys), options, float_output, max_batch]() {
        std::vector<psic::ContainerView> views;
        for (size_t i = 0; i < bytes.size(); ++i) views.push_back({bytes[i].data(), bytes[i].size(), conditions[i], keys[i]});
        return codec->decompress_batch(views, options, float_output, max_batch);
      },
      [float_output](Napi::Env env, std::vector<psic::DecompressResult>& results) -> Napi::Value {
        auto out = Napi::Array::New(env, results.size());
        for (uint32_t i = 0; i < results.size(); ++i) out.Set(i, decompress_result_to_js(env, results[i], float_output));
        return out;
      });
}

Napi::Value ModelWrap::KeyCondition(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) throw Napi::TypeError::New(env, "keyCondition(key: Uint8Array)");
  const psic::Bytes key = read_key(info[0]);
  return guarded(env, [&]() -> Napi::Value {
    const auto& loaded = payload_->loaded();
    return to_typed_array<float, Napi::Float32Array>(env, psic::key_condition(loaded.model->config, loaded.model_id, key));
  });
}

Napi::Value DeriveCondition(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsString() || !info[2].IsNumber()) throw Napi::TypeError::New(env, "deriveCondition(key, saltHex, dims)");
  const psic::Bytes key = read_key(info[0]);
  const std::string salt = info[1].ToString().Utf8Value();
  const int64_t dims = info[2].As<Napi::Number>().Int64Value();
  return guarded(env, [&]() -> Napi::Value {
    return to_typed_array<float, Napi::Float32Array>(env, psic::derive_condition(key, salt, dims));
  });
}

Napi::Value ModelWrap::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "save(path)");
  const std::string path = info[0].ToString().Utf8Value();
  auto codec = payload_;
  return PromiseWorker<bool>::Start(
      env, [codec, path]() { psic::save_model(codec->model(), path); return true; },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

Napi::Value ModelWrap::ExportEncoder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "exportEncoder(path, part?: 'encoder' | 'conditioning')");
  const std::string path = info[0].ToString().Utf8Value();
  const bool conditioning = info.Length() > 1 && info[1].IsString() && info[1].ToString().Utf8Value() == "conditioning";
  auto codec = payload_;
  return PromiseWorker<bool>::Start(
      env,
      [codec, path, conditioning]() {
        if (conditioning)
          psic::write_conditioning_file(codec->model(), path);
        else
          psic::write_encoder_file(codec->model(), path);
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

Napi::Value InitModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "initModel({architecture, N, M, conditionDim, seed, from})");
  auto o = info[0].As<Napi::Object>();
  psic::ModelInitSpec spec;
  spec.architecture = o.Get("architecture").ToString().Utf8Value();
  spec.N = o.Get("N").ToNumber().Int64Value();
  spec.M = o.Get("M").ToNumber().Int64Value();
  if (o.Has("conditionDim") && o.Get("conditionDim").IsNumber()) spec.condition_dim = o.Get("conditionDim").ToNumber().Int64Value();
  spec.seed = static_cast<uint64_t>(o.Get("seed").ToNumber().Int64Value());
  if (o.Has("from") && o.Get("from").IsString()) spec.from = o.Get("from").ToString().Utf8Value();
  if (o.Has("conditioning") && o.Get("conditioning").IsString()) spec.conditioning = o.Get("conditioning").ToString().Utf8Value();
  return PromiseWorker<std::shared_ptr<psic::Codec>>::Start(
      env, [spec]() { return std::make_shared<psic::Codec>(psic::init_model(spec)); }, &ModelWrap::FromResult);
}

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "loadModel(path, device?)");
  const std::string path = info[0].ToString().Utf8Value();
  const std::string device = info.Length() > 1 && info[1].IsString() ? info[1].ToString().Utf8Value() : "cpu";
  return PromiseWorker<std::shared_ptr<psic::Codec>>::Start(
      env, [path, device]() { return psic::Codec::load(path, device); },
      &ModelWrap::FromResult);
}

}  // namespace psic_binding
