#include "attack_wrap.h"

#include <cstring>

#include "attacks/key_search.h"
#include "attacks/pgd_cloak.h"
#include "codec.h"
#include "errors.h"
#include "host_tensor.h"
#include "model_wrap.h"
#include "promise_worker.h"
#include "target_wrap.h"
#include "util/threads.h"

namespace psic_binding {

namespace {

double option(const Napi::Value& options, const char* key, double fallback) {
  if (!options.IsObject()) return fallback;
  const Napi::Value v = options.As<Napi::Object>().Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : v.IsBoolean() ? v.As<Napi::Boolean>().Value() : fallback;
}

}  // namespace

Napi::Value PgdCloak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "pgdCloak(targets, images: Float32Array, shape: [B, 3, H, W], options)";
  if (info.Length() < 3) throw Napi::TypeError::New(env, usage);
  const std::vector<psic::AttackTarget> targets = read_attack_targets(env, info[0], usage);
  HostTensor in = read_tensor_args(env, info[1], info[2], 4, usage);
  psic::PgdOptions o;
  o.epsilon = option(info[3], "epsilon", o.epsilon);
  o.steps = static_cast<int>(option(info[3], "steps", o.steps));
  o.step_size = option(info[3], "stepSize", o.step_size);
  o.random_start = option(info[3], "randomStart", o.random_start) != 0;
  o.seed = static_cast<uint64_t>(option(info[3], "seed", 0));
  return PromiseWorker<HostTensor>::Start(
      env,
      [targets, in = std::move(in), o]() {
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        const at::Tensor x = at::from_blob(const_cast<float*>(in.data.data()), in.shape, at::kFloat);
        return to_host(psic::pgd_cloak(targets, x, o));
      },
      [](Napi::Env env, HostTensor& t) -> Napi::Value { return to_js(env, t); });
}

Napi::Value KeySearch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "keySearch(model, containers: Uint8Array[], originals: Uint8Array[], targets, options)";
  std::shared_ptr<psic::Codec> codec = info.Length() > 0 ? ModelWrap::PayloadOf(info[0]) : nullptr;
  if (!codec || info.Length() < 5 || !info[1].IsArray() || !info[2].IsArray()) throw Napi::TypeError::New(env, usage);
  auto containers = info[1].As<Napi::Array>(), originals = info[2].As<Napi::Array>();
  if (containers.Length() != originals.Length()) throw Napi::TypeError::New(env, "one original image per container is needed");
  std::vector<std::vector<uint8_t>> bytes, pixels;
  for (uint32_t i = 0; i < containers.Length(); ++i) {
    bytes.push_back(copy_bytes(containers.Get(i), "containers[i]"));
    pixels.push_back(copy_bytes(originals.Get(i), "originals[i]"));
  }
  const std::vector<psic::AttackTarget> targets = read_attack_targets(env, info[3], usage);
  psic::KeySearchOptions o;
  const Napi::Value opts = info[4];
  if (opts.IsObject() && opts.As<Napi::Object>().Get("objective").IsString()) {
    const std::string name = opts.As<Napi::Object>().Get("objective").ToString().Utf8Value();
    if (name != "target" && name != "pixels") throw Napi::TypeError::New(env, "objective must be 'target' or 'pixels'");
    o.objective = name == "pixels" ? psic::KeySearchObjective::Pixels : psic::KeySearchObjective::Target;
  }
  o.steps = static_cast<int>(option(opts, "steps", o.steps));
  o.restarts = static_cast<int>(option(opts, "restarts", o.restarts));
  o.lr = option(opts, "lr", o.lr);
  o.bounded = option(opts, "bounded", o.bounded) != 0;
  o.trace_every = static_cast<int>(option(opts, "traceEvery", o.trace_every));
  o.seed = static_cast<uint64_t>(option(opts, "seed", 0));
  return PromiseWorker<psic::KeySearchResult>::Start(
      env,
      [codec, bytes = std::move(bytes), pixels = std::move(pixels), targets, o]() {
        if (!codec->device().is_cpu()) throw psic::DeviceError("the key search runs on a model loaded on the CPU");
        psic::ScopedIntraOpThreads threads(psic::intra_op_threads());
        std::vector<psic::KeySearchItem> items;
        for (size_t i = 0; i < bytes.size(); ++i) {
          const psic::DecodedLatents latents = codec->decode_latents(bytes[i].data(), bytes[i].size(), psic::CodecOptions{});
          const int64_t w = latents.header.width, h = latents.header.height;
          if (pixels[i].size() != static_cast<size_t>(w * h * 3))
            throw psic::InputError("original " + std::to_string(i) + " is not the container's " + std::to_string(w) + "x" +
                                   std::to_string(h) + " RGB image");
          items.push_back({latents.y_hat, psic::image_to_padded_tensor(pixels[i].data(), w, h, psic::Padding{}),
                           latents.header.padding});
        }
        return psic::key_search(codec->model(), items, targets, o);
      },
      [](Napi::Env env, psic::KeySearchResult& r) -> Napi::Value {
        auto out = Napi::Object::New(env);
        auto c = Napi::Float32Array::New(env, static_cast<size_t>(r.condition.numel()));
        std::memcpy(c.Data(), r.condition.data_ptr<float>(), c.ByteLength());
        out.Set("condition", c);
        out.Set("objective", r.objective);
        auto traces = Napi::Array::New(env, r.traces.size());
        for (uint32_t i = 0; i < r.traces.size(); ++i) {
          auto t = Napi::Array::New(env, r.traces[i].size());
          for (uint32_t k = 0; k < r.traces[i].size(); ++k) t.Set(k, r.traces[i][k]);
          traces.Set(i, t);
        }
        out.Set("traces", traces);
        return out;
      });
}

}  // namespace psic_binding
