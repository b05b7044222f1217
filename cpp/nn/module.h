// The small module system of the library: every learnable tensor and buffer is reachable by
// its CompressAI state_dict name, so models are rebuilt from a state_dict and saved back.
// We avoid torch::nn on purpose: its headers triple compile time, and the layers here are few.
#pragma once
#include <ATen/ATen.h>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace psic {

enum class StateKind { Parameter, Buffer };

// Called once per tensor with its full dotted name. The tensor is passed by reference so
// that a loader can replace it.
using StateVisitor = std::function<void(const std::string& name, at::Tensor& tensor, StateKind kind)>;

class StateOwner {
 public:
  virtual ~StateOwner() = default;
  virtual void visit_state(const std::string& prefix, const StateVisitor& visit) = 0;
};

inline std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// How a forward pass runs. The compat path follows CompressAI's op sequence exactly (bit-exact
// at one thread); the fast path may use exactly-equivalent but faster ops.
struct ForwardOptions {
  bool subpixel_deconv = false;  // transposed convs as conv + pixel shuffle
  bool channels_last = false;    // NHWC memory format for the convolutions
};

class Layer : public StateOwner {
 public:
  virtual at::Tensor forward(const at::Tensor& x, const ForwardOptions& options) const = 0;
  // Called after weights change (load, training step) to refresh derived inference tensors.
  virtual void prepare_inference() {}
};

// A chain of layers named 0, 1, 2, ... like torch.nn.Sequential.
class Sequential : public Layer {
 public:
  Sequential& add(std::shared_ptr<Layer> layer) {
    layers_.push_back(std::move(layer));
    return *this;
  }
  at::Tensor forward(const at::Tensor& x, const ForwardOptions& options) const override {
    at::Tensor h = x;
    for (auto& layer : layers_) h = layer->forward(h, options);
    return h;
  }
  void visit_state(const std::string& prefix, const StateVisitor& visit) override {
    for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->visit_state(join_name(prefix, std::to_string(i)), visit);
  }
  void prepare_inference() override {
    for (auto& layer : layers_) layer->prepare_inference();
  }
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

class ReLU : public Layer {
 public:
  at::Tensor forward(const at::Tensor& x, const ForwardOptions&) const override { return at::relu(x); }
  void visit_state(const std::string&, const StateVisitor&) override {}
};

// All parameters of an owner, in visiting order (for optimizers and gradient checks).
std::vector<at::Tensor> parameters_of(StateOwner& owner);

}  // namespace psic
