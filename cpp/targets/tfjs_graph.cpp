#include "targets/tfjs_graph.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "errors.h"
#include "util/base64.h"
#include "targets/tfjs_ops.h"

namespace psic {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int64_t json_int(const json& v) { return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>(); }

TfjsAttr parse_attr(const json& a) {
  TfjsAttr out;
  out.present = true;
  if (a.contains("s")) out.s = base64_decode(a["s"].get<std::string>());
  if (a.contains("i")) out.i = json_int(a["i"]);
  if (a.contains("f")) out.f = a["f"].get<double>();
  if (a.contains("b")) out.b = a["b"].get<bool>();
  if (a.contains("type")) out.s = a["type"].get<std::string>();
  if (a.contains("shape") && a["shape"].contains("dim"))
    for (const auto& d : a["shape"]["dim"]) out.shape.push_back(json_int(d["size"]));
  if (a.contains("list")) {
    const json& l = a["list"];
    if (l.contains("s"))
      for (const auto& s : l["s"]) out.list_s.push_back(base64_decode(s.get<std::string>()));
    if (l.contains("i"))
      for (const auto& i : l["i"]) out.list_i.push_back(json_int(i));
  }
  return out;
}

// One weight from its bytes, dequantized to float32 where the manifest says so.
at::Tensor decode_weight(const json& w, const uint8_t* data, size_t available, size_t* consumed) {
  std::vector<int64_t> shape;
  for (const auto& d : w["shape"]) shape.push_back(d.get<int64_t>());
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || d > (int64_t(1) << 31)) throw FormatError("TF.js weight '" + w["name"].get<std::string>() + "' has a bad shape");
    n *= d;
  }
  const std::string dtype = w["dtype"].get<std::string>();
  const std::string quant = w.contains("quantization") ? w["quantization"]["dtype"].get<std::string>() : "";
  const size_t elem = quant == "uint8" ? 1 : (quant == "uint16" || quant == "float16") ? 2 : (dtype == "bool" ? 1 : 4);
  const size_t bytes = static_cast<size_t>(n) * elem;
  if (bytes > available) throw FormatError("TF.js weights are shorter than the manifest says");
  *consumed = bytes;
  if (quant == "float16") {
    at::Tensor h = at::empty({n}, at::kHalf);
    std::memcpy(h.data_ptr(), data, bytes);
    return h.to(at::kFloat).reshape(shape);
  }
  if (quant == "uint8" || quant == "uint16") {
    const double scale = w["quantization"]["scale"].get<double>(), min = w["quantization"]["min"].get<double>();
    at::Tensor q = at::empty({n}, quant == "uint8" ? at::kByte : at::kShort);
    std::memcpy(q.data_ptr(), data, bytes);
    at::Tensor v = quant == "uint8" ? q.to(at::kFloat) : q.to(at::kInt).bitwise_and(0xFFFF).to(at::kFloat);
    v = v * scale + min;
    return (dtype == "int32" ? v.round().to(at::kInt) : v).reshape(shape);
  }
  if (!quant.empty()) throw FormatError("TF.js weights: unsupported quantization '" + quant + "'");
  const at::ScalarType type = dtype == "float32" ? at::kFloat : dtype == "int32" ? at::kInt : dtype == "bool" ? at::kBool : at::kFloat;
  if (dtype != "float32" && dtype != "int32" && dtype != "bool") throw FormatError("TF.js weights: unsupported dtype '" + dtype + "'");
  at::Tensor t = at::empty({n}, type);
  std::memcpy(t.data_ptr(), data, bytes);
  return t.reshape(shape);
}

std::pair<std::string, int> parse_input(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return {s, 0};
  return {s.substr(0, colon), std::stoi(s.substr(colon + 1))};
}

}  // namespace

TfjsGraph::TfjsGraph(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw WeightsError("cannot open TF.js model '" + path + "'");
  const json model = json::parse(f, nullptr, false);
  if (model.is_discarded() || !model.contains("modelTopology") || !model["modelTopology"].contains("node"))
    throw FormatError("'" + path + "' is not a TF.js graph model");

  // Weights: shards concatenated in manifest order, weights in order within them.
  const fs::path dir = fs::path(path).parent_path();
  for (const auto& group : model.value("weightsManifest", json::array())) {
    std::vector<uint8_t> bytes;
    for (const auto& p : group["paths"]) {
      std::ifstream shard(dir / p.get<std::string>(), std::ios::binary);
      if (!shard) throw WeightsError("TF.js weight shard '" + (dir / p.get<std::string>()).string() + "' is missing");
      bytes.insert(bytes.end(), std::istreambuf_iterator<char>(shard), {});
    }
    size_t offset = 0;
    for (const auto& w : group["weights"]) {
      size_t used = 0;
      constants_[w["name"].get<std::string>()] = decode_weight(w, bytes.data() + offset, bytes.size() - offset, &used);
      offset += used;
    }
  }

  std::map<std::string, TfjsNode> by_name;
  std::set<std::string> consumed;
  for (const auto& n : model["modelTopology"]["node"]) {
    TfjsNode node;
    node.name = n["name"].get<std::string>();
    node.op = n["op"].get<std::string>();
    for (const auto& in : n.value("input", json::array())) {
      const std::string s = in.get<std::string>();
      if (!s.empty() && s[0] == '^') continue;  // control dependency
      node.inputs.push_back(parse_input(s));
      consumed.insert(node.inputs.back().first);
    }
    const json attrs = n.value("attr", json::object());
    for (auto it = attrs.begin(); it != attrs.end(); ++it) node.attrs[it.key()] = parse_attr(it.value());
    if (!tfjs_op_supported(node.op)) throw WeightsError("unsupported TF.js op '" + node.op + "' (node '" + node.name + "')");
    if (node.op == "Placeholder") {
      if (!input_.empty()) throw WeightsError("TF.js models with several inputs are not supported");
      input_ = node.name;
      auto shape = node.attrs.find("shape");
      if (shape != node.attrs.end()) input_shape_ = shape->second.shape;
    }
    if (node.op == "Const" && !constants_.count(node.name))
      throw WeightsError("TF.js constant '" + node.name + "' has no weight");
    by_name[node.name] = std::move(node);
  }
  if (input_.empty()) throw WeightsError("TF.js model has no input");

  // Outputs: the signature's, else every node nothing consumes.
  if (model.contains("signature") && model["signature"].contains("outputs")) {
    for (const auto& [key, o] : model["signature"]["outputs"].items()) outputs_.push_back(parse_input(o["name"].get<std::string>()).first);
  } else {
    for (const auto& [name, node] : by_name)
      if (!consumed.count(name) && node.op != "Const") outputs_.push_back(name);
  }
  std::sort(outputs_.begin(), outputs_.end());

  // Topological order by depth-first search from the outputs (iterative: graphs can be deep).
  std::set<std::string> done;
  for (const std::string& out : outputs_) {
    std::vector<std::pair<std::string, bool>> stack = {{out, false}};
    while (!stack.empty()) {
      auto [name, expanded] = stack.back();
      stack.pop_back();
      if (done.count(name)) continue;
      auto it = by_name.find(name);
      if (it == by_name.end()) throw FormatError("TF.js graph references an unknown node '" + name + "'");
      if (expanded) {
        done.insert(name);
        nodes_.push_back(it->second);
        continue;
      }
      stack.push_back({name, true});
      for (const auto& [in, idx] : it->second.inputs)
        if (!done.count(in)) stack.push_back({in, false});
    }
  }
}

std::map<std::string, at::Tensor> TfjsGraph::run(const at::Tensor& input) const {
  // A graph exported for batch 1 (centernet) runs image by image; outputs are concatenated.
  if (!input_shape_.empty() && input_shape_[0] == 1 && input.dim() > 0 && input.size(0) > 1) {
    std::map<std::string, std::vector<at::Tensor>> parts;
    for (int64_t b = 0; b < input.size(0); ++b)
      for (auto& [name, t] : run_one(input.narrow(0, b, 1))) parts[name].push_back(t);
    std::map<std::string, at::Tensor> out;
    for (auto& [name, ts] : parts) out[name] = at::cat(ts, 0);
    return out;
  }
  return run_one(input);
}

std::map<std::string, at::Tensor> TfjsGraph::run_one(const at::Tensor& input) const {
  std::map<std::string, std::vector<at::Tensor>> values;
  for (const TfjsNode& node : nodes_) {
    if (node.op == "Placeholder") {
      values[node.name] = {input.to(at::kFloat)};
      continue;
    }
    if (node.op == "Const") {
      values[node.name] = {constants_.at(node.name)};
      continue;
    }
    std::vector<at::Tensor> inputs;
    for (const auto& [name, idx] : node.inputs) {
      const auto& outs = values.at(name);
      if (idx >= static_cast<int>(outs.size())) throw FormatError("TF.js node '" + node.name + "' reads a missing output");
      inputs.push_back(outs[static_cast<size_t>(idx)]);
    }
    values[node.name] = run_tfjs_op(node, inputs);
  }
  std::map<std::string, at::Tensor> out;
  for (const std::string& name : outputs_) out[name] = values.at(name).at(0);
  return out;
}

std::vector<std::string> TfjsGraph::ops_used() const {
  std::set<std::string> ops;
  for (const auto& n : nodes_) ops.insert(n.op);
  return {ops.begin(), ops.end()};
}

const std::vector<std::string>& TfjsGraph::supported_ops() { return tfjs_supported_ops(); }

}  // namespace psic
