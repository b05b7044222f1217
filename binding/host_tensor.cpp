#include "host_tensor.h"

#include <cstring>

namespace psic_binding {

HostTensor to_host(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kCPU).to(at::kFloat).contiguous();
  return {std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()), c.sizes().vec()};
}

Napi::Object to_js(Napi::Env env, const HostTensor& t) {
  auto o = Napi::Object::New(env);
  auto d = Napi::Float32Array::New(env, t.data.size());
  if (!t.data.empty()) std::memcpy(d.Data(), t.data.data(), t.data.size() * sizeof(float));
  o.Set("data", d);
  auto s = Napi::Array::New(env, t.shape.size());
  for (uint32_t i = 0; i < t.shape.size(); ++i) s.Set(i, static_cast<double>(t.shape[i]));
  o.Set("shape", s);
  return o;
}

std::vector<int64_t> read_shape(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(what) + " must be an array of integers");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const Napi::Value e = a.Get(i);
    const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0) || d != static_cast<double>(static_cast<int64_t>(d)) || d > 1e9)
      throw Napi::TypeError::New(env, std::string(what) + " must be an array of integers");
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

std::vector<float> read_floats(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, std::string(what) + " must be a Float32Array");
  auto a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

HostTensor read_tensor_args(Napi::Env env, const Napi::Value& data, const Napi::Value& shape, int rank, const char* usage) {
  HostTensor t{read_floats(env, data, usage), read_shape(env, shape, usage)};
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  if ((rank >= 0 && t.shape.size() != static_cast<size_t>(rank)) || n != static_cast<int64_t>(t.data.size()))
    throw Napi::TypeError::New(env, std::string(usage) + ": the data does not match the shape");
  return t;
}

}  // namespace psic_binding
