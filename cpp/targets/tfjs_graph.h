// TF.js graph models (model.json + weight shards) imported into LibTorch: the graph's nodes run
// as ATen ops, so every output is differentiable with respect to the input (the attack targets
// of PSIC training). Tensors keep TensorFlow's layout (NHWC) between ops.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

namespace psic {

struct TfjsAttr {
  std::string s;                 // decoded from base64
  std::vector<std::string> list_s;
  std::vector<int64_t> list_i;
  std::vector<int64_t> shape;    // a "shape" attr's dims (-1 = unknown)
  int64_t i = 0;
  double f = 0;
  bool b = false;
  bool present = false;
};

struct TfjsNode {
  std::string name, op;
  std::vector<std::pair<std::string, int>> inputs;  // (node, output index); control inputs dropped
  std::map<std::string, TfjsAttr> attrs;
};

class TfjsGraph {
 public:
  // Reads model.json and its weight files (float32, int32, and uint8/uint16/float16 quantized).
  // Throws FormatError / WeightsError; an op this importer lacks is a WeightsError naming it.
  explicit TfjsGraph(const std::string& model_json_path);

  // Runs the graph on its (single) input, NHWC float32. Returns every output by name. A graph
  // whose declared batch is 1 runs a larger batch one image at a time.
  std::map<std::string, at::Tensor> run(const at::Tensor& input) const;

  const std::string& input_name() const { return input_; }
  // The input's declared NHWC shape (-1 where the model leaves it open, e.g. the batch).
  const std::vector<int64_t>& input_shape() const { return input_shape_; }
  const std::vector<std::string>& output_names() const { return outputs_; }
  std::vector<std::string> ops_used() const;
  static const std::vector<std::string>& supported_ops();

 private:
  std::map<std::string, at::Tensor> run_one(const at::Tensor& input) const;

  std::vector<TfjsNode> nodes_;  // topological order
  std::map<std::string, at::Tensor> constants_;
  std::string input_;
  std::vector<int64_t> input_shape_;
  std::vector<std::string> outputs_;  // node names (output 0) of the graph outputs
};

}  // namespace psic
