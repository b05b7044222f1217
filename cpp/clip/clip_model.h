// CLIP (Radford et al. 2021), as OpenAI's clip/model.py computes it, in one file: the ViT image
// tower, the text transformer and the logits. Every dimension is read from the weights (OpenAI
// key names, see clip_weights for the file formats), so ViT-B/32, B/16 and L/14 all load.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>

#include "formats/named_tensors.h"

namespace psic {

struct ClipDims {
  int64_t embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size, vision_heads;
  int64_t context_length, vocab_size, transformer_width, transformer_heads, transformer_layers;
};

class ClipModel {
 public:
  // Throws WeightsError for missing keys or inconsistent shapes. Tensors are cast to float32.
  explicit ClipModel(const NamedTensors& openai_state);

  // images: [B, 3, R, R] normalized; returns unnormalized features [B, embed_dim].
  at::Tensor encode_image(const at::Tensor& images) const;
  // tokens: [B, context_length] int64 ids (EOT = the largest id); unnormalized features.
  at::Tensor encode_text(const at::Tensor& tokens) const;
  // logits_per_image [B_img, B_txt] = exp(logit_scale) * normalized image @ normalized text^T.
  at::Tensor logits(const at::Tensor& image_features, const at::Tensor& text_features) const;

  // Every tensor of OpenAI's state_dict for these dimensions, with its shape, in one fixed order.
  static std::vector<std::pair<std::string, std::vector<int64_t>>> state_layout(const ClipDims& dims);
  // Infers the dimensions from OpenAI-named weights (build_model's rules).
  static ClipDims infer_dims(const NamedTensors& state);
  // A randomly initialized model of the given dimensions (benchmarks, tests).
  static NamedTensors random_weights(const ClipDims& dims, uint64_t seed);
  // The published ViT-B/32 dimensions.
  static ClipDims vit_b_32();
  // Moves every weight to `device` (a GPU for training against CLIP there); inputs follow.
  void to(at::Device device);
  at::Device device() const { return causal_mask_.device(); }
  // Training: make every weight a leaf that requires (or not) a gradient.
  void set_requires_grad(bool requires);

  const ClipDims& dims() const { return dims_; }
  const at::Tensor& weight(const std::string& name) const;
  std::vector<at::Tensor> parameters() const;

 private:
  at::Tensor transformer(at::Tensor x, const std::string& prefix, int64_t layers, int64_t heads,
                         const at::Tensor& mask) const;
  at::Tensor attention(const at::Tensor& x, const std::string& prefix, int64_t heads, const at::Tensor& mask) const;

  std::map<std::string, at::Tensor> w_;
  ClipDims dims_{};
  at::Tensor causal_mask_;
};

}  // namespace psic
