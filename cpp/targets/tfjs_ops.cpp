#include "targets/tfjs_ops.h"

#include <algorithm>
#include <cmath>

#include "errors.h"
#include "targets/tf_image.h"

namespace psic {

namespace {

const TfjsAttr& attr(const TfjsNode& n, const std::string& key) {
  static const TfjsAttr missing;
  auto it = n.attrs.find(key);
  return it == n.attrs.end() ? missing : it->second;
}

std::vector<int64_t> to_ints(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous().flatten();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

int64_t wrap_axis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

// TF 'SAME' padding for one spatial dimension: (before, after), the extra pixel after.
std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t k, int64_t stride, int64_t dilation) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t effective = (k - 1) * dilation + 1;
  const int64_t total = std::max<int64_t>((out - 1) * stride + effective - in, 0);
  return {total / 2, total - total / 2};
}

// NHWC input, padded per the node's padding attr; returns the NCHW view to convolve/pool.
at::Tensor pad_nchw(const TfjsNode& n, const at::Tensor& nhwc, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                    int64_t dh, int64_t dw, double value) {
  at::Tensor x = nhwc.permute({0, 3, 1, 2});
  const std::string padding = attr(n, "padding").s;
  if (padding == "SAME") {
    const auto [t, b] = same_padding(x.size(2), kh, sh, dh);
    const auto [l, r] = same_padding(x.size(3), kw, sw, dw);
    if (t || b || l || r) x = at::constant_pad_nd(x, {l, r, t, b}, value);
  } else if (padding == "EXPLICIT") {
    const auto& p = attr(n, "explicit_paddings").list_i;  // NHWC pairs
    if (p.size() != 8) throw WeightsError(n.op + " '" + n.name + "': bad explicit_paddings");
    x = at::constant_pad_nd(x, {p[4], p[5], p[2], p[3]}, value);
  } else if (padding != "VALID") {
    throw WeightsError(n.op + " '" + n.name + "': unsupported padding '" + padding + "'");
  }
  return x;
}

std::pair<int64_t, int64_t> hw_of(const TfjsNode& n, const std::string& key, int64_t fallback) {
  const auto& v = attr(n, key).list_i;
  if (v.size() == 4) return {v[1], v[2]};
  return {fallback, fallback};
}

at::Tensor conv2d_nhwc(const TfjsNode& n, const at::Tensor& x, const at::Tensor& filter, bool depthwise) {
  if ((attr(n, "data_format").present && attr(n, "data_format").s != "NHWC"))
    throw WeightsError(n.op + " '" + n.name + "': only NHWC is supported");
  const auto [sh, sw] = hw_of(n, "strides", 1);
  const auto [dh, dw] = hw_of(n, "dilations", 1);
  const int64_t kh = filter.size(0), kw = filter.size(1);
  const at::Tensor in = pad_nchw(n, x, kh, kw, sh, sw, dh, dw, 0.0);
  at::Tensor w;
  int64_t groups = 1;
  if (depthwise) {  // [kh, kw, in, multiplier] -> [in * multiplier, 1, kh, kw]
    w = filter.permute({2, 3, 0, 1}).reshape({filter.size(2) * filter.size(3), 1, kh, kw});
    groups = filter.size(2);
  } else {  // HWIO -> OIHW
    w = filter.permute({3, 2, 0, 1});
  }
  const std::vector<int64_t> stride = {sh, sw}, padding = {0, 0}, dilation = {dh, dw};
  return at::conv2d(in, w.contiguous(), c10::optional<at::Tensor>(), stride, padding, dilation, groups).permute({0, 2, 3, 1});
}

// The fused tail of _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul.
at::Tensor fused_tail(const TfjsNode& n, at::Tensor y, const std::vector<at::Tensor>& args) {
  size_t next = 0;
  for (const std::string& op : attr(n, "fused_ops").list_s) {
    if (op == "BiasAdd") {
      if (next >= args.size()) throw WeightsError(n.op + " '" + n.name + "': BiasAdd without its bias");
      y = y + args[next++];
    } else if (op == "Relu") {
      y = at::relu(y);
    } else if (op == "Relu6") {
      y = at::clamp(y, 0, 6);
    } else if (op == "Elu") {
      y = at::elu(y);
    } else if (op == "Sigmoid") {
      y = at::sigmoid(y);
    } else if (op == "LeakyRelu") {
      y = at::leaky_relu(y, attr(n, "leakyrelu_alpha").present ? attr(n, "leakyrelu_alpha").f : 0.2);
    } else if (op == "Prelu") {
      if (next >= args.size()) throw WeightsError(n.op + " '" + n.name + "': Prelu without its alpha");
      const at::Tensor& alpha = args[next++];
      y = at::where(y >= 0, y, y * alpha);
    } else {
      throw WeightsError(n.op + " '" + n.name + "': unsupported fused op '" + op + "'");
    }
  }
  return y;
}

at::Tensor pool(const TfjsNode& n, const at::Tensor& x, bool max) {
  const auto [kh, kw] = hw_of(n, "ksize", 1);
  const auto [sh, sw] = hw_of(n, "strides", 1);
  if (max) {
    const at::Tensor in = pad_nchw(n, x, kh, kw, sh, sw, 1, 1, -INFINITY);
    return at::max_pool2d(in, {kh, kw}, {sh, sw}).permute({0, 2, 3, 1});
  }
  // TF's average excludes the padding: sum over the window / count of real pixels.
  const at::Tensor in = pad_nchw(n, x, kh, kw, sh, sw, 1, 1, 0.0);
  const at::Tensor ones = pad_nchw(n, at::ones_like(x.select(3, 0).unsqueeze(3)), kh, kw, sh, sw, 1, 1, 0.0);
  const at::Tensor sum = at::avg_pool2d(in, {kh, kw}, {sh, sw}) ;
  const at::Tensor count = at::avg_pool2d(ones, {kh, kw}, {sh, sw});
  return (sum / count).permute({0, 2, 3, 1});
}

at::Tensor reduce(const TfjsNode& n, const at::Tensor& x, const at::Tensor& axes_t, bool max) {
  std::vector<int64_t> axes = to_ints(axes_t);
  for (auto& a : axes) a = wrap_axis(a, x.dim());
  const bool keep = attr(n, "keep_dims").b;
  if (max) {
    at::Tensor y = x;
    std::sort(axes.rbegin(), axes.rend());
    for (int64_t a : axes) y = std::get<0>(y.max(a, keep));
    return y;
  }
  return x.mean(axes, keep);
}

// StridedSlice with TensorFlow's begin/end/ellipsis/new-axis/shrink masks.
at::Tensor strided_slice(const TfjsNode& n, const at::Tensor& x, const at::Tensor& b, const at::Tensor& e, const at::Tensor& s) {
  const std::vector<int64_t> begin = to_ints(b), end = to_ints(e), strides = to_ints(s);
  const int64_t begin_mask = attr(n, "begin_mask").i, end_mask = attr(n, "end_mask").i;
  const int64_t ellipsis_mask = attr(n, "ellipsis_mask").i, new_axis_mask = attr(n, "new_axis_mask").i;
  const int64_t shrink_mask = attr(n, "shrink_axis_mask").i;
  at::Tensor y = x;
  int64_t dim = 0;  // current dimension of y
  std::vector<int64_t> shrink_dims;
  for (size_t i = 0; i < begin.size(); ++i) {
    if (ellipsis_mask & (int64_t(1) << i)) {
      // Skip the dimensions the ellipsis covers.
      const int64_t remaining_specs = static_cast<int64_t>(begin.size() - i - 1);
      dim = y.dim() - remaining_specs;
      continue;
    }
    if (new_axis_mask & (int64_t(1) << i)) {
      y = y.unsqueeze(dim++);
      continue;
    }
    const int64_t size = y.size(dim), stride = strides[i];
    if (stride == 0) throw WeightsError("StridedSlice '" + n.name + "': zero stride");
    if (shrink_mask & (int64_t(1) << i)) {
      const int64_t idx = begin[i] < 0 ? begin[i] + size : begin[i];
      y = y.narrow(dim, idx, 1);
      shrink_dims.push_back(dim++);
      continue;
    }
    int64_t lo = (begin_mask & (int64_t(1) << i)) ? (stride > 0 ? 0 : size - 1) : begin[i];
    int64_t hi = (end_mask & (int64_t(1) << i)) ? (stride > 0 ? size : -size - 1) : end[i];
    if (lo < 0) lo += size;
    if (hi < 0 && !((end_mask & (int64_t(1) << i)) && stride < 0)) hi += size;
    if (stride > 0) {
      lo = std::clamp<int64_t>(lo, 0, size);
      hi = std::clamp<int64_t>(hi, 0, size);
      y = y.slice(dim, lo, std::max(lo, hi), stride);
    } else {
      lo = std::clamp<int64_t>(lo, -1, size - 1);
      hi = std::clamp<int64_t>(hi, -1, size - 1);
      at::Tensor idx = lo > hi ? at::arange(lo, hi, stride, at::kLong) : at::empty({0}, at::kLong);
      y = y.index_select(dim, idx);
    }
    ++dim;
  }
  for (auto it = shrink_dims.rbegin(); it != shrink_dims.rend(); ++it) y = y.squeeze(*it);
  return y;
}

using OpFn = std::vector<at::Tensor> (*)(const TfjsNode&, const std::vector<at::Tensor>&);

#define UNARY(expr) [](const TfjsNode&, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> { const at::Tensor& a = in.at(0); return {expr}; }
#define BINARY(expr) [](const TfjsNode&, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> { const at::Tensor& a = in.at(0); const at::Tensor& b = in.at(1); return {expr}; }

const std::map<std::string, OpFn>& ops() {
  static const std::map<std::string, OpFn> table = {
      {"Identity", UNARY(a)},
      {"Relu", UNARY(at::relu(a))},
      {"Relu6", UNARY(at::clamp(a, 0, 6))},
      {"Sigmoid", UNARY(at::sigmoid(a))},
      {"Tanh", UNARY(at::tanh(a))},
      {"Add", BINARY(a + b)},
      {"AddV2", BINARY(a + b)},
      {"Sub", BINARY(a - b)},
      {"Mul", BINARY(a * b)},
      {"RealDiv", BINARY(a / b)},
      {"Maximum", BINARY(at::maximum(a, b))},
      {"Minimum", BINARY(at::minimum(a, b))},
      {"Equal", BINARY(at::eq(a, b))},
      {"FloorDiv", BINARY(at::floor_divide(a, b))},
      {"FloorMod", BINARY(at::remainder(a, b))},
      {"Softmax", UNARY(at::softmax(a, -1))},
      {"Conv2D", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         return {conv2d_nhwc(n, in.at(0), in.at(1), false)};
       }},
      {"DepthwiseConv2dNative", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         return {conv2d_nhwc(n, in.at(0), in.at(1), true)};
       }},
      {"_FusedConv2D", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         return {fused_tail(n, conv2d_nhwc(n, in.at(0), in.at(1), false), {in.begin() + 2, in.end()})};
       }},
      {"FusedDepthwiseConv2dNative", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         return {fused_tail(n, conv2d_nhwc(n, in.at(0), in.at(1), true), {in.begin() + 2, in.end()})};
       }},
      {"MatMul", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         const at::Tensor a = attr(n, "transpose_a").b ? in.at(0).t() : in.at(0);
         const at::Tensor b = attr(n, "transpose_b").b ? in.at(1).t() : in.at(1);
         return {at::matmul(a, b)};
       }},
      {"_FusedMatMul", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         const at::Tensor a = attr(n, "transpose_a").b ? in.at(0).t() : in.at(0);
         const at::Tensor b = attr(n, "transpose_b").b ? in.at(1).t() : in.at(1);
         return {fused_tail(n, at::matmul(a, b), {in.begin() + 2, in.end()})};
       }},
      {"MaxPool", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> { return {pool(n, in.at(0), true)}; }},
      {"AvgPool", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> { return {pool(n, in.at(0), false)}; }},
      {"Max", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> { return {reduce(n, in.at(0), in.at(1), true)}; }},
      {"Mean", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> { return {reduce(n, in.at(0), in.at(1), false)}; }},
      {"Reshape", [](const TfjsNode&, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> { return {in.at(0).reshape(to_ints(in.at(1)))}; }},
      {"ExpandDims", [](const TfjsNode&, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         const int64_t axis = to_ints(in.at(1)).at(0);
         return {in.at(0).unsqueeze(axis < 0 ? axis + in.at(0).dim() + 1 : axis)};
       }},
      {"Squeeze", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         at::Tensor y = in.at(0);
         std::vector<int64_t> dims = attr(n, "squeeze_dims").list_i;
         if (dims.empty()) return {y.squeeze()};
         for (auto& d : dims) d = wrap_axis(d, y.dim());
         std::sort(dims.rbegin(), dims.rend());
         for (int64_t d : dims) y = y.squeeze(d);
         return {y};
       }},
      {"ConcatV2", [](const TfjsNode&, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         std::vector<at::Tensor> parts(in.begin(), in.end() - 1);
         return {at::cat(parts, wrap_axis(to_ints(in.back()).at(0), parts.at(0).dim()))};
       }},
      {"Pad", [](const TfjsNode&, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         const std::vector<int64_t> p = to_ints(in.at(1));  // [[before, after] per dim]
         std::vector<int64_t> torch_pad;
         for (int64_t d = static_cast<int64_t>(p.size() / 2) - 1; d >= 0; --d) {
           torch_pad.push_back(p[2 * d]);
           torch_pad.push_back(p[2 * d + 1]);
         }
         return {at::constant_pad_nd(in.at(0), torch_pad, 0)};
       }},
      {"StridedSlice", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         return {strided_slice(n, in.at(0), in.at(1), in.at(2), in.at(3))};
       }},
      {"Cast", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         const std::string to = attr(n, "DstT").s;
         return {in.at(0).to(to == "DT_INT32" ? at::kInt : to == "DT_BOOL" ? at::kBool : at::kFloat)};
       }},
      {"GatherV2", [](const TfjsNode&, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         const int64_t axis = wrap_axis(to_ints(in.at(2)).at(0), in.at(0).dim());
         const at::Tensor idx = in.at(1).to(at::kLong);
         return {in.at(0).index_select(axis, idx.flatten()).reshape([&] {
           std::vector<int64_t> shape(in.at(0).sizes().begin(), in.at(0).sizes().begin() + axis);
           for (int64_t s : idx.sizes()) shape.push_back(s);
           shape.insert(shape.end(), in.at(0).sizes().begin() + axis + 1, in.at(0).sizes().end());
           return shape;
         }())};
       }},
      {"TopKV2", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         auto [values, indices] = at::topk(in.at(0), to_ints(in.at(1)).at(0), -1, true, attr(n, "sorted").present ? attr(n, "sorted").b : true);
         return {values, indices.to(at::kInt)};
       }},
      {"ResizeBilinear", [](const TfjsNode& n, const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
         const std::vector<int64_t> size = to_ints(in.at(1));
         const bool align = attr(n, "align_corners").b;
         if (!align && !attr(n, "half_pixel_centers").b) return {resize_bilinear_legacy(in.at(0), size.at(0), size.at(1))};
         // align_corners, or half-pixel centers (= torch's align_corners = false).
         return {at::upsample_bilinear2d(in.at(0).permute({0, 3, 1, 2}), {size.at(0), size.at(1)}, align).permute({0, 2, 3, 1})};
       }},
  };
  return table;
}

#undef UNARY
#undef BINARY

}  // namespace

bool tfjs_op_supported(const std::string& op) { return op == "Const" || op == "Placeholder" || ops().count(op) > 0; }

const std::vector<std::string>& tfjs_supported_ops() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v = {"Const", "Placeholder"};
    for (const auto& [name, fn] : ops()) v.push_back(name);
    return v;
  }();
  return names;
}

std::vector<at::Tensor> run_tfjs_op(const TfjsNode& node, const std::vector<at::Tensor>& inputs) {
  auto it = ops().find(node.op);
  if (it == ops().end()) throw WeightsError("unsupported TF.js op '" + node.op + "' (node '" + node.name + "')");
  return it->second(node, inputs);
}

}  // namespace psic
