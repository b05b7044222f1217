#include "clip_wrap.h"

#include <cstring>
#include <map>
#include <mutex>

#include "clip/bpe_tokenizer.h"
#include "clip/clip_preprocess.h"
#include "clip/clip_weights.h"
#include "js_errors.h"
#include "host_tensor.h"
#include "promise_worker.h"
#include "util/threads.h"

namespace psic_binding {

namespace {

struct Features {
  std::vector<float> data;
  int64_t rows = 0, cols = 0;
};

Features to_features(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  return {std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()), c.size(0), c.size(1)};
}

Napi::Value features_to_js(Napi::Env env, Features& f) {
  auto o = Napi::Object::New(env);
  auto data = Napi::Float32Array::New(env, f.data.size());
  if (!f.data.empty()) std::memcpy(data.Data(), f.data.data(), f.data.size() * sizeof(float));
  o.Set("data", data);
  auto shape = Napi::Array::New(env, 2);
  shape.Set(0u, static_cast<double>(f.rows));
  shape.Set(1u, static_cast<double>(f.cols));
  o.Set("shape", shape);
  return o;
}

const psic::BpeTokenizer& tokenizer_for(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<psic::BpeTokenizer>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(path);
  if (it == cache.end()) it = cache.emplace(path, std::make_unique<psic::BpeTokenizer>(path)).first;
  return *it->second;
}

}  // namespace

Napi::Function ClipWrap::Define(Napi::Env env) {
  return Register(env, "NativeClip",
                  {InstanceMethod("info", &ClipWrap::Info), InstanceMethod("encodeImage", &ClipWrap::EncodeImage),
                   InstanceMethod("encodeText", &ClipWrap::EncodeText),
                   InstanceMethod("imageTrainStep", &ClipWrap::ImageTrainStep)});
}

Napi::Value ClipWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& d = payload_->dims();
  auto o = Napi::Object::New(env);
  o.Set("embedDim", static_cast<double>(d.embed_dim));
  o.Set("imageResolution", static_cast<double>(d.image_resolution));
  o.Set("visionLayers", static_cast<double>(d.vision_layers));
  o.Set("visionWidth", static_cast<double>(d.vision_width));
  o.Set("visionPatchSize", static_cast<double>(d.vision_patch_size));
  o.Set("contextLength", static_cast<double>(d.context_length));
  o.Set("vocabSize", static_cast<double>(d.vocab_size));
  o.Set("transformerWidth", static_cast<double>(d.transformer_width));
  o.Set("transformerLayers", static_cast<double>(d.transformer_layers));
  o.Set("logitScale", payload_->weight("logit_scale").item<double>());
  return o;
}

Napi::Value ClipWrap::EncodeImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) throw Napi::TypeError::New(env, "encodeImage(data: Float32Array, shape: [B, 3, H, W])");
  HostTensor in = read_tensor_args(env, info[0], info[1], 4, "encodeImage(data: Float32Array, shape: [B, 3, H, W])");
  std::vector<float> data = std::move(in.data);
  const std::vector<int64_t> shape = in.shape;
  auto model = payload_;
  return PromiseWorker<Features>::Start(
      env,
      [model, data = std::move(data), shape]() {
        at::NoGradGuard no_grad;
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        const at::Tensor images = at::from_blob(const_cast<float*>(data.data()), shape, at::kFloat);
        return to_features(model->encode_image(images));
      },
      features_to_js);
}

Napi::Value ClipWrap::EncodeText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(env, "encodeText(ids: Int32Array, shape: [B, contextLength])");
  auto array = info[0].As<Napi::Int32Array>();
  const std::vector<int64_t> shape = read_shape(env, info[1], "encodeText(ids: Int32Array, shape: [B, contextLength])");
  if (shape.size() != 2 || shape[0] * shape[1] != static_cast<int64_t>(array.ElementLength()))
    throw Napi::TypeError::New(env, "ids do not match their shape [B, contextLength]");
  std::vector<int64_t> ids(array.Data(), array.Data() + array.ElementLength());
  auto model = payload_;
  return PromiseWorker<Features>::Start(
      env,
      [model, ids = std::move(ids), shape]() {
        at::NoGradGuard no_grad;
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        const at::Tensor tokens = at::from_blob(const_cast<int64_t*>(ids.data()), shape, at::kLong);
        return to_features(model->encode_text(tokens));
      },
      features_to_js);
}

Napi::Value ClipWrap::ImageTrainStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "imageTrainStep(batch)");
  const int64_t batch = info[0].ToNumber().Int64Value();
  if (batch < 1 || batch > 256) throw Napi::TypeError::New(env, "batch must be in [1, 256]");
  auto model = payload_;
  return PromiseWorker<bool>::Start(
      env,
      [model, batch]() {
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        const int64_t r = model->dims().image_resolution;
        model->set_requires_grad(true);
        const at::Tensor loss = model->encode_image(at::randn({batch, 3, r, r})).pow(2).mean();
        loss.backward();
        model->set_requires_grad(false);
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

Napi::Value RandomClip(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = info.Length() > 0 && info[0].IsString() ? info[0].ToString().Utf8Value() : "ViT-B/32";
  if (name != "ViT-B/32") throw Napi::TypeError::New(env, "randomClip: only 'ViT-B/32' is known");
  const uint64_t seed = info.Length() > 1 && info[1].IsNumber() ? static_cast<uint64_t>(info[1].ToNumber().Int64Value()) : 0;
  return PromiseWorker<std::shared_ptr<psic::ClipModel>>::Start(
      env, [seed]() { return std::make_shared<psic::ClipModel>(psic::ClipModel::random_weights(psic::ClipModel::vit_b_32(), seed)); },
      &ClipWrap::FromResult);
}

Napi::Value LoadClip(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "loadClip(path)");
  const std::string path = info[0].ToString().Utf8Value();
  return PromiseWorker<std::shared_ptr<psic::ClipModel>>::Start(
      env, [path]() { return std::make_shared<psic::ClipModel>(psic::read_clip_weights(path)); },
      &ClipWrap::FromResult);
}

// clipPreprocess(images: {rgb, width, height}[], resolution): [N, 3, R, R] in one worker, so a
// batch crosses into C++ once.
Napi::Value ClipPreprocess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "clipPreprocess(images: {rgb: Uint8Array, width, height}[], resolution)";
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsNumber()) throw Napi::TypeError::New(env, usage);
  auto list = info[0].As<Napi::Array>();
  const int64_t r = info[1].ToNumber().Int64Value();
  if (r <= 0) throw Napi::TypeError::New(env, "resolution must be positive");
  struct Image {
    std::vector<uint8_t> rgb;
    int64_t w, h;
  };
  std::vector<Image> images;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    if (!list.Get(i).IsObject()) throw Napi::TypeError::New(env, usage);
    auto item = list.Get(i).As<Napi::Object>();
    Image im{copy_bytes(item.Get("rgb"), "rgb"), item.Get("width").ToNumber().Int64Value(), item.Get("height").ToNumber().Int64Value()};
    if (im.w <= 0 || im.h <= 0 || im.rgb.size() != static_cast<size_t>(im.w * im.h * 3))
      throw Napi::TypeError::New(env, "rgb must hold width * height * 3 bytes");
    images.push_back(std::move(im));
  }
  return PromiseWorker<std::vector<float>>::Start(
      env,
      [images = std::move(images), r]() {
        std::vector<float> out;
        out.reserve(images.size() * 3 * static_cast<size_t>(r * r));
        for (const Image& im : images) {
          const at::Tensor x = psic::clip_preprocess_image(im.rgb.data(), im.w, im.h, r).contiguous();
          out.insert(out.end(), x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
        }
        return out;
      },
      [](Napi::Env env, std::vector<float>& v) -> Napi::Value {
        auto out = Napi::Float32Array::New(env, v.size());
        if (!v.empty()) std::memcpy(out.Data(), v.data(), v.size() * sizeof(float));
        return out;
      });
}

Napi::Value ClipTokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray())
    throw Napi::TypeError::New(env, "clipTokenize(vocabPath, texts, contextLength, truncate)");
  const std::string path = info[0].ToString().Utf8Value();
  std::vector<std::string> texts;
  auto a = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) texts.push_back(a.Get(i).ToString().Utf8Value());
  const int64_t context = info.Length() > 2 && info[2].IsNumber() ? info[2].ToNumber().Int64Value() : 77;
  const bool truncate = info.Length() > 3 ? info[3].ToBoolean().Value() : true;
  return guarded(env, [&]() -> Napi::Value {
    const auto rows = tokenizer_for(path).tokenize(texts, context, truncate);
    auto out = Napi::Int32Array::New(env, rows.size() * static_cast<size_t>(context));
    for (size_t r = 0; r < rows.size(); ++r) std::memcpy(out.Data() + r * context, rows[r].data(), context * sizeof(int32_t));
    return out;
  });
}

}  // namespace psic_binding
