#include "clip/clip_weights.h"

#include <fstream>
#include <map>
#include <regex>

#include "errors.h"
#include "formats/safetensors.h"
#include "formats/torch_checkpoint.h"
#include "formats/torchscript.h"
#include "util/file_bytes.h"

namespace psic {

namespace {

bool has_hf_names(const NamedTensors& t) {
  for (const auto& [name, x] : t)
    if (name.rfind("text_model.", 0) == 0 || name.rfind("vision_model.", 0) == 0) return true;
  return false;
}

}  // namespace

NamedTensors clip_weights_from_hf(const NamedTensors& hf) {
  std::map<std::string, at::Tensor> in(hf.begin(), hf.end());
  NamedTensors out;
  auto take = [&](const std::string& from) -> at::Tensor {
    auto it = in.find(from);
    if (it == in.end()) throw WeightsError("Hugging Face CLIP weights: missing '" + from + "'");
    at::Tensor t = it->second;
    in.erase(it);
    return t;
  };
  auto copy = [&](const std::string& from, const std::string& to) { out.emplace_back(to, take(from)); };
  auto layers = [&](const std::string& hf_prefix, const std::string& openai_prefix) {
    for (int64_t i = 0;; ++i) {
      const std::string h = hf_prefix + std::to_string(i) + ".", o = openai_prefix + std::to_string(i) + ".";
      if (!in.count(h + "self_attn.q_proj.weight")) break;
      for (const char* kind : {"weight", "bias"}) {
        const std::string k = kind;
        out.emplace_back(o + "attn.in_proj_" + k, at::cat({take(h + "self_attn.q_proj." + k), take(h + "self_attn.k_proj." + k),
                                                           take(h + "self_attn.v_proj." + k)}, 0));
        copy(h + "self_attn.out_proj." + k, o + "attn.out_proj." + k);
        copy(h + "layer_norm1." + k, o + "ln_1." + k);
        copy(h + "layer_norm2." + k, o + "ln_2." + k);
        copy(h + "mlp.fc1." + k, o + "mlp.c_fc." + k);
        copy(h + "mlp.fc2." + k, o + "mlp.c_proj." + k);
      }
    }
  };
  copy("text_model.embeddings.token_embedding.weight", "token_embedding.weight");
  copy("text_model.embeddings.position_embedding.weight", "positional_embedding");
  layers("text_model.encoder.layers.", "transformer.resblocks.");
  copy("text_model.final_layer_norm.weight", "ln_final.weight");
  copy("text_model.final_layer_norm.bias", "ln_final.bias");
  out.emplace_back("text_projection", take("text_projection.weight").t().contiguous());
  copy("vision_model.embeddings.class_embedding", "visual.class_embedding");
  copy("vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight");
  copy("vision_model.embeddings.position_embedding.weight", "visual.positional_embedding");
  copy("vision_model.pre_layrnorm.weight", "visual.ln_pre.weight");
  copy("vision_model.pre_layrnorm.bias", "visual.ln_pre.bias");
  layers("vision_model.encoder.layers.", "visual.transformer.resblocks.");
  copy("vision_model.post_layernorm.weight", "visual.ln_post.weight");
  copy("vision_model.post_layernorm.bias", "visual.ln_post.bias");
  out.emplace_back("visual.proj", take("visual_projection.weight").t().contiguous());
  copy("logit_scale", "logit_scale");
  // position_ids (older checkpoints) are arange buffers: check and drop.
  for (const char* ids : {"text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"}) {
    auto it = in.find(ids);
    if (it == in.end()) continue;
    const at::Tensor t = it->second.to(at::kLong).flatten();
    if (!at::equal(t, at::arange(t.numel(), at::kLong))) throw WeightsError(std::string(ids) + " is not arange");
    in.erase(it);
  }
  if (!in.empty()) throw WeightsError("Hugging Face CLIP weights: unexpected '" + in.begin()->first + "'");
  return out;
}

NamedTensors read_clip_weights(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  NamedTensors tensors;
  if (bytes.size() >= 4 && bytes[0] == 'P' && bytes[1] == 'K') {
    tensors = is_torchscript_archive(bytes.data(), bytes.size()) ? read_torchscript_tensors(path)
                                                                  : read_torch_checkpoint(bytes.data(), bytes.size());
  } else {
    tensors = read_safetensors(bytes.data(), bytes.size()).tensors;
  }
  return has_hf_names(tensors) ? clip_weights_from_hf(tensors) : tensors;
}

}  // namespace psic
