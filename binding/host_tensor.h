// Tensors crossing the JS boundary: copied to host float32 on the worker thread, then turned
// into {data: Float32Array, shape: number[]} on the JS thread.
#pragma once
#include <napi.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace psic_binding {

struct HostTensor {
  std::vector<float> data;
  std::vector<int64_t> shape;
};

HostTensor to_host(const at::Tensor& t);
Napi::Object to_js(Napi::Env env, const HostTensor& t);
// A JS array of non-negative integers; throws a TypeError naming `what` otherwise.
std::vector<int64_t> read_shape(Napi::Env env, const Napi::Value& v, const char* what);
// A Float32Array argument copied out (the worker must not touch JS memory).
std::vector<float> read_floats(Napi::Env env, const Napi::Value& v, const char* what);

// A (Float32Array, shape) argument pair copied out and checked: the shape's product must match
// the data, and its rank must be `rank` unless rank < 0. Throws a TypeError naming `usage`.
HostTensor read_tensor_args(Napi::Env env, const Napi::Value& data, const Napi::Value& shape, int rank, const char* usage);

}  // namespace psic_binding
