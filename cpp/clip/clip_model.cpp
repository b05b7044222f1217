#include "clip/clip_model.h"

#include <cmath>
#include <set>

#include "errors.h"

namespace psic {

namespace {

constexpr double kLayerNormEps = 1e-5;

// QuickGELU: x * sigmoid(1.702 x), in both towers.
at::Tensor quick_gelu(const at::Tensor& x) { return x * at::sigmoid(1.702 * x); }

int64_t count_layers(const std::map<std::string, at::Tensor>& w, const std::string& prefix) {
  std::set<std::string> layers;
  for (const auto& [name, t] : w) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    layers.insert(rest.substr(0, rest.find('.')));
  }
  return static_cast<int64_t>(layers.size());
}

}  // namespace

ClipDims ClipModel::infer_dims(const NamedTensors& state) {
  std::map<std::string, at::Tensor> w(state.begin(), state.end());
  auto get = [&](const std::string& name) -> const at::Tensor& {
    auto it = w.find(name);
    if (it == w.end()) throw WeightsError("CLIP weights: missing '" + name + "'");
    return it->second;
  };
  ClipDims d{};
  const auto& conv1 = get("visual.conv1.weight");
  if (conv1.dim() != 4) throw WeightsError("CLIP weights: visual.conv1.weight must be 4-D");
  d.vision_width = conv1.size(0);
  d.vision_patch_size = conv1.size(-1);
  d.vision_layers = count_layers(w, "visual.transformer.resblocks.");
  const int64_t grid = std::llround(std::sqrt(static_cast<double>(get("visual.positional_embedding").size(0) - 1)));
  d.image_resolution = d.vision_patch_size * grid;
  d.vision_heads = d.vision_width / 64;
  d.embed_dim = get("text_projection").size(1);
  d.context_length = get("positional_embedding").size(0);
  d.vocab_size = get("token_embedding.weight").size(0);
  d.transformer_width = get("ln_final.weight").size(0);
  d.transformer_heads = d.transformer_width / 64;
  d.transformer_layers = count_layers(w, "transformer.resblocks.");
  if (d.vision_layers < 1 || d.transformer_layers < 1 || d.vision_heads < 1 || d.transformer_heads < 1)
    throw WeightsError("CLIP weights: no transformer layers or widths below 64");
  return d;
}

ClipModel::ClipModel(const NamedTensors& state) : dims_(infer_dims(state)) {
  // Names and shapes must be exactly those of OpenAI's state_dict for these dimensions.
  std::map<std::string, at::Tensor> given;
  for (const auto& [name, t] : state) {
    // The released archives carry three int64 scalars that build_model drops.
    if (name == "input_resolution" || name == "context_length" || name == "vocab_size") continue;
    given[name] = t;
  }
  std::vector<std::string> problems;
  for (const auto& [name, shape] : state_layout(dims_)) {
    auto it = given.find(name);
    if (it == given.end()) {
      problems.push_back("missing " + name);
      continue;
    }
    if (it->second.sizes() != at::IntArrayRef(shape)) problems.push_back(name + " has the wrong shape");
    else w_[name] = it->second.to(at::kFloat).contiguous();  // fp16 weights become fp32
    given.erase(it);
  }
  for (const auto& [name, t] : given) problems.push_back("unexpected " + name);
  if (!problems.empty()) {
    std::string msg = "CLIP weights do not fit the model their dimensions describe: ";
    for (size_t i = 0; i < std::min<size_t>(problems.size(), 8); ++i) msg += (i ? "; " : "") + problems[i];
    if (problems.size() > 8) msg += "; and " + std::to_string(problems.size() - 8) + " more";
    throw WeightsError(msg);
  }
  // Additive causal mask: -inf above the diagonal.
  causal_mask_ = at::full({dims_.context_length, dims_.context_length}, -INFINITY, at::kFloat).triu_(1);
}

std::vector<std::pair<std::string, std::vector<int64_t>>> ClipModel::state_layout(const ClipDims& d) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> l;
  auto blocks = [&](const std::string& prefix, int64_t layers, int64_t W) {
    for (int64_t i = 0; i < layers; ++i) {
      const std::string p = prefix + std::to_string(i) + ".";
      l.push_back({p + "attn.in_proj_weight", {3 * W, W}});
      l.push_back({p + "attn.in_proj_bias", {3 * W}});
      l.push_back({p + "attn.out_proj.weight", {W, W}});
      l.push_back({p + "attn.out_proj.bias", {W}});
      l.push_back({p + "ln_1.weight", {W}});
      l.push_back({p + "ln_1.bias", {W}});
      l.push_back({p + "mlp.c_fc.weight", {4 * W, W}});
      l.push_back({p + "mlp.c_fc.bias", {4 * W}});
      l.push_back({p + "mlp.c_proj.weight", {W, 4 * W}});
      l.push_back({p + "mlp.c_proj.bias", {W}});
      l.push_back({p + "ln_2.weight", {W}});
      l.push_back({p + "ln_2.bias", {W}});
    }
  };
  const int64_t V = d.vision_width, T = d.transformer_width, grid = d.image_resolution / d.vision_patch_size;
  l.push_back({"positional_embedding", {d.context_length, T}});
  l.push_back({"text_projection", {T, d.embed_dim}});
  l.push_back({"logit_scale", {}});
  l.push_back({"visual.class_embedding", {V}});
  l.push_back({"visual.positional_embedding", {grid * grid + 1, V}});
  l.push_back({"visual.proj", {V, d.embed_dim}});
  l.push_back({"visual.conv1.weight", {V, 3, d.vision_patch_size, d.vision_patch_size}});
  l.push_back({"visual.ln_pre.weight", {V}});
  l.push_back({"visual.ln_pre.bias", {V}});
  blocks("visual.transformer.resblocks.", d.vision_layers, V);
  l.push_back({"visual.ln_post.weight", {V}});
  l.push_back({"visual.ln_post.bias", {V}});
  blocks("transformer.resblocks.", d.transformer_layers, T);
  l.push_back({"token_embedding.weight", {d.vocab_size, T}});
  l.push_back({"ln_final.weight", {T}});
  l.push_back({"ln_final.bias", {T}});
  return l;
}

ClipDims ClipModel::vit_b_32() { return {512, 224, 12, 768, 32, 12, 77, 49408, 512, 8, 12}; }

NamedTensors ClipModel::random_weights(const ClipDims& d, uint64_t seed) {
  at::manual_seed(seed);
  NamedTensors w;
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const auto& [name, shape] : state_layout(d)) {
    const bool layer_norm = name.find("ln_") != std::string::npos;
    if (name == "logit_scale") w.emplace_back(name, at::full({}, std::log(1 / 0.07)));
    else if (layer_norm && ends_with(name, ".weight")) w.emplace_back(name, at::ones(shape));
    else if (ends_with(name, "bias")) w.emplace_back(name, at::zeros(shape));
    else w.emplace_back(name, at::randn(shape) * (name.find("positional") != std::string::npos ? 0.01 : 0.02));
  }
  return w;
}

void ClipModel::set_requires_grad(bool requires) {
  for (auto& [name, t] : w_) t.requires_grad_(requires);
}

const at::Tensor& ClipModel::weight(const std::string& name) const {
  auto it = w_.find(name);
  if (it == w_.end()) throw WeightsError("CLIP weights: missing '" + name + "'");
  return it->second;
}

std::vector<at::Tensor> ClipModel::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& [name, t] : w_) out.push_back(t);
  return out;
}

at::Tensor ClipModel::attention(const at::Tensor& x, const std::string& p, int64_t heads, const at::Tensor& mask) const {
  // nn.MultiheadAttention with packed q, k, v rows; batch-first here: x [B, L, W].
  const int64_t B = x.size(0), L = x.size(1), W = x.size(2), D = W / heads;
  const auto qkv = at::linear(x, weight(p + ".in_proj_weight"), weight(p + ".in_proj_bias")).chunk(3, -1);
  auto split = [&](const at::Tensor& t) { return t.reshape({B, L, heads, D}).transpose(1, 2); };  // [B, H, L, D]
  const at::Tensor q = split(qkv[0]) * (1.0 / std::sqrt(static_cast<double>(D)));
  at::Tensor scores = at::matmul(q, split(qkv[1]).transpose(-2, -1));
  if (mask.defined()) scores = scores + mask;
  const at::Tensor out = at::matmul(at::softmax(scores, -1), split(qkv[2])).transpose(1, 2).reshape({B, L, W});
  return at::linear(out, weight(p + ".out_proj.weight"), weight(p + ".out_proj.bias"));
}

at::Tensor ClipModel::transformer(at::Tensor x, const std::string& prefix, int64_t layers, int64_t heads,
                                  const at::Tensor& mask) const {
  const int64_t W = x.size(-1);
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = prefix + std::to_string(i);
    // Pre-LN: x + attn(ln_1(x)); x + mlp(ln_2(x)).
    x = x + attention(at::layer_norm(x, {W}, weight(p + ".ln_1.weight"), weight(p + ".ln_1.bias"), kLayerNormEps),
                      p + ".attn", heads, mask);
    at::Tensor h = at::layer_norm(x, {W}, weight(p + ".ln_2.weight"), weight(p + ".ln_2.bias"), kLayerNormEps);
    h = at::linear(quick_gelu(at::linear(h, weight(p + ".mlp.c_fc.weight"), weight(p + ".mlp.c_fc.bias"))),
                   weight(p + ".mlp.c_proj.weight"), weight(p + ".mlp.c_proj.bias"));
    x = x + h;
  }
  return x;
}

at::Tensor ClipModel::encode_image(const at::Tensor& images) const {
  const int64_t P = dims_.vision_patch_size, W = dims_.vision_width;
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != dims_.image_resolution ||
      images.size(3) != dims_.image_resolution)
    throw InputError("CLIP images must be [B, 3, " + std::to_string(dims_.image_resolution) + ", " +
                     std::to_string(dims_.image_resolution) + "]");
  at::Tensor x = at::conv2d(images.to(at::kFloat), weight("visual.conv1.weight"), {}, {P, P});  // no bias
  x = x.flatten(2).transpose(1, 2);                                                               // [B, grid^2, W]
  const at::Tensor cls = weight("visual.class_embedding").view({1, 1, W}).expand({x.size(0), 1, W});
  x = at::cat({cls, x}, 1) + weight("visual.positional_embedding");
  x = at::layer_norm(x, {W}, weight("visual.ln_pre.weight"), weight("visual.ln_pre.bias"), kLayerNormEps);
  x = transformer(x, "visual.transformer.resblocks.", dims_.vision_layers, dims_.vision_heads, at::Tensor());
  x = at::layer_norm(x.select(1, 0), {W}, weight("visual.ln_post.weight"), weight("visual.ln_post.bias"), kLayerNormEps);
  return at::matmul(x, weight("visual.proj"));
}

at::Tensor ClipModel::encode_text(const at::Tensor& tokens) const {
  if (tokens.dim() != 2 || tokens.size(1) != dims_.context_length)
    throw InputError("CLIP tokens must be [B, " + std::to_string(dims_.context_length) + "]");
  const at::Tensor ids = tokens.to(device(), at::kLong);
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= dims_.vocab_size))
    throw InputError("CLIP token ids out of the vocabulary");
  const int64_t W = dims_.transformer_width;
  at::Tensor x = at::embedding(weight("token_embedding.weight"), ids) + weight("positional_embedding");
  x = transformer(x, "transformer.resblocks.", dims_.transformer_layers, dims_.transformer_heads, causal_mask_);
  x = at::layer_norm(x, {W}, weight("ln_final.weight"), weight("ln_final.bias"), kLayerNormEps);
  // Pool at the EOT token: the largest id (the first on a tie).
  const at::Tensor eot = ids.argmax(-1);
  x = x.index({at::arange(x.size(0), eot.options()), eot});
  return at::matmul(x, weight("text_projection"));
}

void ClipModel::to(at::Device device) {
  for (auto& [name, t] : w_) t = t.detach().to(device).requires_grad_(t.requires_grad());
  causal_mask_ = causal_mask_.to(device);
}

at::Tensor ClipModel::logits(const at::Tensor& image_features, const at::Tensor& text_features) const {
  const at::Tensor img = image_features / image_features.norm(2, -1, true);
  const at::Tensor txt = text_features / text_features.norm(2, -1, true);
  return at::exp(weight("logit_scale")) * at::matmul(img, txt.t());
}

}  // namespace psic
