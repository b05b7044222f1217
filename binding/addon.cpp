// Module entry: registers the functions of NativeAddon (src/native.ts).
#include <napi.h>

#include <cstring>
#include <optional>

#include "entropy/rans.h"
#include "codec.h"
#include "crypto/x25519.h"
#include "formats/container.h"
#include "js_errors.h"
#include "attack_wrap.h"
#include "clip_wrap.h"
#include "model_wrap.h"
#include "target_wrap.h"
#include "trainer_wrap.h"
#include "tfjs_wrap.h"
#include "util/device.h"
#include "util/threads.h"

namespace psic_binding {

namespace {

Napi::Value ParseContainer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "parseContainer(bytes, pixelLimit)");
  auto bytes = info[0].As<Napi::Uint8Array>();
  const uint64_t limit = info.Length() > 1 && info[1].IsNumber()
                             ? static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue())
                             : psic::default_pixel_limit();
  return guarded(env, [&]() -> Napi::Value {
    const psic::ParsedContainer parsed = psic::parse_container(bytes.Data(), bytes.ByteLength(), limit);
    const psic::ContainerHeader& h = parsed.header;
    const size_t header_bytes = static_cast<size_t>(parsed.z - bytes.Data());
    auto o = Napi::Object::New(env);
    o.Set("version", static_cast<double>(h.version));
    o.Set("modelId", psic::model_id_hex(h.model_id));
    o.Set("width", static_cast<double>(h.width));
    o.Set("height", static_cast<double>(h.height));
    auto pad = Napi::Object::New(env);
    pad.Set("left", static_cast<double>(h.padding.left));
    pad.Set("right", static_cast<double>(h.padding.right));
    pad.Set("top", static_cast<double>(h.padding.top));
    pad.Set("bottom", static_cast<double>(h.padding.bottom));
    o.Set("padding", pad);
    auto shape = [&](const std::array<uint32_t, 3>& s) {
      auto a = Napi::Array::New(env, 3);
      for (uint32_t i = 0; i < 3; ++i) a.Set(i, static_cast<double>(s[i]));
      return a;
    };
    o.Set("yShape", shape(h.y_shape));
    o.Set("zShape", shape(h.z_shape));
    o.Set("headerBytes", static_cast<double>(header_bytes));
    o.Set("keyCheck", h.has_key_check);
    o.Set("sealed", h.sealed);
    if (h.sealed) {
      auto sealed = Napi::Object::New(env);
      sealed.Set("publicBytes", static_cast<double>(header_bytes + h.z_length + h.y_length));
      sealed.Set("sealedBytes", static_cast<double>(h.seal.sealed_length));
      sealed.Set("stanzaBytes", static_cast<double>(psic::kRecipientStanzaSize * h.seal.recipients.size()));
      sealed.Set("recipients", static_cast<double>(h.seal.recipients.size()));
      sealed.Set("coding", h.seal.coding == psic::SealedCoding::Conditional ? "conditional" : "simulcast");
      sealed.Set("publicSynthesis", h.seal.public_synthesis == psic::PublicSynthesis::Backbone ? "backbone" : "protected");
      o.Set("seal", sealed);
    }
    o.Set("totalBytes", static_cast<double>(bytes.ByteLength()));
    o.Set("checksum", static_cast<double>(h.checksum));
    auto strings = Napi::Array::New(env, 2);
    auto entry = [&](const char* name, size_t offset, size_t length) {
      auto s = Napi::Object::New(env);
      s.Set("name", name);
      s.Set("offset", static_cast<double>(offset));
      s.Set("length", static_cast<double>(length));
      return s;
    };
    strings.Set(0u, entry("z", header_bytes, h.z_length));
    strings.Set(1u, entry("y", header_bytes + h.z_length, h.y_length));
    o.Set("strings", strings);
    return o;
  });
}

// declaredContainerSize(head): the size a container's first bytes declare (readers check the
// file's size against it, then read exactly that much).
Napi::Value DeclaredContainerSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "declaredContainerSize(head)");
  auto bytes = info[0].As<Napi::Uint8Array>();
  return guarded(env, [&]() -> Napi::Value {
    return Napi::Number::New(env, static_cast<double>(psic::declared_container_size(bytes.Data(), bytes.ByteLength())));
  });
}

Napi::Uint8Array bytes_to_js(Napi::Env env, const uint8_t* data, size_t n) {
  auto out = Napi::Uint8Array::New(env, n);
  std::memcpy(out.Data(), data, n);
  return out;
}

// x25519KeyPair(secret?): {secretKey, publicKey} (cpp/crypto/x25519.h): a fresh pair, or the
// pair of a given secret key.
Napi::Value X25519KeyPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::optional<std::array<uint8_t, 32>> secret;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        info[0].As<Napi::Uint8Array>().ByteLength() != 32)
      throw Napi::TypeError::New(env, "x25519KeyPair(secret?: 32-byte Uint8Array)");
    secret.emplace();
    std::memcpy(secret->data(), info[0].As<Napi::Uint8Array>().Data(), 32);
  }
  return guarded(env, [&]() -> Napi::Value {
    psic::X25519KeyPair pair;
    if (secret) {
      pair.secret = *secret;
      pair.public_key = psic::x25519_public_key(*secret);
    } else {
      pair = psic::x25519_generate();
    }
    auto o = Napi::Object::New(env);
    o.Set("secretKey", bytes_to_js(env, pair.secret.data(), 32));
    o.Set("publicKey", bytes_to_js(env, pair.public_key.data(), 32));
    return o;
  });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "setThreads(n)");
  psic::set_intra_op_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), psic::intra_op_threads());
}

struct RansArgs {
  Napi::Int32Array indexes, cdfs, lengths, offsets;
  psic::CdfTable table;
};

RansArgs rans_args(const Napi::CallbackInfo& info, size_t first) {
  Napi::Env env = info.Env();
  for (size_t i : {first, first + 1, first + 3, first + 4})
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, "rANS tables must be Int32Arrays");
  RansArgs a{info[first].As<Napi::Int32Array>(), info[first + 1].As<Napi::Int32Array>(),
             info[first + 3].As<Napi::Int32Array>(), info[first + 4].As<Napi::Int32Array>(), {}};
  const int64_t stride = info[first + 2].As<Napi::Number>().Int64Value();
  if (stride <= 0 || a.cdfs.ElementLength() % stride != 0 ||
      static_cast<int64_t>(a.cdfs.ElementLength()) / stride != static_cast<int64_t>(a.lengths.ElementLength()) ||
      a.lengths.ElementLength() != a.offsets.ElementLength())
    throw Napi::TypeError::New(env, "inconsistent rANS table sizes");
  a.table = {a.cdfs.Data(), stride, a.lengths.Data(), a.offsets.Data(), static_cast<int64_t>(a.lengths.ElementLength())};
  return a;
}

Napi::Value RansEncode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "ransEncode(symbols, indexes, cdfs, stride, lengths, offsets)");
  auto symbols = info[0].As<Napi::Int32Array>();
  RansArgs a = rans_args(info, 1);
  if (symbols.ElementLength() != a.indexes.ElementLength()) throw Napi::TypeError::New(env, "symbols and indexes differ in length");
  return guarded(env, [&]() -> Napi::Value {
    psic::validate_cdf_table(a.table);
    auto bytes = psic::rans_encode(symbols.Data(), a.indexes.Data(), symbols.ElementLength(), a.table);
    auto out = Napi::Uint8Array::New(env, bytes.size());
    if (!bytes.empty()) std::memcpy(out.Data(), bytes.data(), bytes.size());
    return out;
  });
}

Napi::Value RansDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "ransDecode(bytes, indexes, cdfs, stride, lengths, offsets)");
  auto bytes = info[0].As<Napi::Uint8Array>();
  RansArgs a = rans_args(info, 1);
  return guarded(env, [&]() -> Napi::Value {
    psic::validate_cdf_table(a.table);
    auto out = Napi::Int32Array::New(env, a.indexes.ElementLength());
    psic::rans_decode(bytes.Data(), bytes.ByteLength(), a.indexes.Data(), a.indexes.ElementLength(), a.table, out.Data());
    return out;
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ModelWrap::Define(env);
  ClipWrap::Define(env);
  TfjsWrap::Define(env);
  TargetWrap::Define(env);
  TrainerWrap::Define(env);
  exports.Set("pgdCloak", Napi::Function::New(env, PgdCloak));
  exports.Set("keySearch", Napi::Function::New(env, KeySearch));
  exports.Set("createTrainer", Napi::Function::New(env, CreateTrainer));
  exports.Set("resolveTrainingConfig", Napi::Function::New(env, ResolveTrainingConfig));
  exports.Set("trainingKeySalt", Napi::Function::New(env, TrainingKeySalt));
  exports.Set("loadHumanTarget", Napi::Function::New(env, LoadHumanTarget));
  exports.Set("clipTarget", Napi::Function::New(env, ClipTarget));
  exports.Set("loadTfjsGraph", Napi::Function::New(env, LoadTfjsGraph));
  exports.Set("loadClip", Napi::Function::New(env, LoadClip));
  exports.Set("randomClip", Napi::Function::New(env, RandomClip));
  exports.Set("clipTokenize", Napi::Function::New(env, ClipTokenize));
  exports.Set("clipPreprocess", Napi::Function::New(env, ClipPreprocess));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel));
  exports.Set("initModel", Napi::Function::New(env, InitModel));
  exports.Set("deriveCondition", Napi::Function::New(env, DeriveCondition));
  exports.Set("parseContainer", Napi::Function::New(env, ParseContainer));
  exports.Set("x25519KeyPair", Napi::Function::New(env, X25519KeyPair));
  exports.Set("declaredContainerSize", Napi::Function::New(env, DeclaredContainerSize));
  exports.Set("containerMaxHeaderBytes", Napi::Number::New(env, static_cast<double>(psic::kContainerMaxHeaderSize)));
  exports.Set("defaultPixelLimit", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(psic::default_pixel_limit()));
  }));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("cudaAvailable", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), psic::cuda_available());
  }));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("ransEncode", Napi::Function::New(env, RansEncode));
  exports.Set("ransDecode", Napi::Function::New(env, RansDecode));
  return exports;
}

}  // namespace

}  // namespace psic_binding

static Napi::Object InitPsic(Napi::Env env, Napi::Object exports) { return psic_binding::Init(env, exports); }

NODE_API_MODULE(psic, InitPsic)
