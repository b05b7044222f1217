// The models PSIC attacks and is evaluated against, behind one interface: an RGB image batch in
// [0, 1] goes in (NCHW, as the codec decodes it), each model applies its own preprocessing, and
// out come its heads — class scores, an embedding, a regression value, or a detector's class
// scores — all differentiable in the image. CLIP (clip_target) and the imported TF.js models
// (human_targets) implement it, so training and evaluation treat "clip" and "gear" alike.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace psic {

enum class TargetHeadKind {
  Classifier,  // [B, C] class probabilities (rows sum to 1); labels name the C classes
  Embedding,   // [B, D] unnormalized feature vector
  Regression,  // [B, 1] a value (e.g. an age in years)
  Detector,    // [B, C] per-class score: the best detection score of the class anywhere in the image
};

const char* target_head_kind_name(TargetHeadKind kind);

struct TargetHead {
  std::string name;
  TargetHeadKind kind;
  std::vector<std::string> labels;  // class names (Classifier, Detector); empty otherwise
};

struct TargetOutputs {
  std::vector<at::Tensor> heads;  // one per TargetModel::heads(), in that order
  // Detectors only: [B, K, 6] = x1, y1, x2, y2 (normalized to the input image, [0, 1]), score,
  // class index; not differentiable. Undefined for other models.
  at::Tensor detections;
};

class TargetModel {
 public:
  virtual ~TargetModel() = default;
  virtual const std::string& name() const = 0;
  virtual const std::vector<TargetHead>& heads() const = 0;
  // The preprocessing, written out for users (README, `psic target info`).
  virtual std::string preprocessing() const = 0;
  // images: [B, 3, H, W] RGB in [0, 1], any H and W. Throws InputError on another shape.
  virtual TargetOutputs forward(const at::Tensor& images) const = 0;
  // Vision-language targets (CLIP): features of token ids [K, context] in the space of the
  // embedding head, so image–text pairs can be attacked. Undefined tensor when there is none.
  virtual at::Tensor encode_texts(const at::Tensor& tokens) const { return at::Tensor(); }
  // Where its weights are (inputs are moved there by callers that train on another device).
  virtual at::Device device() const { return at::Device(at::kCPU); }
};

// A target and its weight among several attacked (or evaluated) at once.
struct AttackTarget {
  std::shared_ptr<const TargetModel> model;
  double weight = 1.0;
};

// Checks the [B, 3, H, W] float layout every target takes.
void check_target_input(const at::Tensor& images);

}  // namespace psic
