#include "models/model_loader.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "errors.h"
#include "formats/safetensors.h"
#include "formats/torch_checkpoint.h"
#include "util/atomic_file.h"
#include "util/sha256.h"

namespace psic {

namespace {

constexpr const char* kModelFormat = "psic-model";
constexpr const char* kModelFormatVersion = "1";

std::string shape_str(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

// Entropy tables whose length depends on the trained density (or the scale table).
bool is_dynamic_buffer(const std::string& name) {
  static const std::regex dynamic(R"((^|\.)(_quantized_cdf|_cdf_length|_offset|scale_table)$)");
  return std::regex_search(name, dynamic);
}

const at::Tensor* find(const std::map<std::string, const at::Tensor*>& by_name, const std::string& name) {
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : it->second;
}

}  // namespace

std::string normalize_compressai_key(const std::string& key) {
  std::string k = key.rfind("module.", 0) == 0 ? key.substr(7) : key;
  static const std::regex very_old(R"(^(.*entropy_bottleneck)\._matrices\.(\d+)$)");
  static const std::regex legacy(R"(^(.*entropy_bottleneck)\._(matrix|bias|factor)(\d+)$)");
  std::smatch m;
  if (std::regex_match(k, m, very_old)) return m[1].str() + ".matrices." + m[2].str();
  if (std::regex_match(k, m, legacy)) {
    const std::string kind = m[2].str() == "matrix" ? "matrices" : m[2].str() == "bias" ? "biases" : "factors";
    return m[1].str() + "." + kind + "." + m[3].str();
  }
  return k;
}

namespace {

bool is_encoder_name(const std::string& name) {
  for (const char* prefix : {"g_a.", "h_a.", "h_s.", "entropy_bottleneck.", "gaussian_conditional."})
    if (name.rfind(prefix, 0) == 0) return true;
  return false;
}

// Copies the state_dict tensors into the model tensors that `selected` accepts: every selected
// name must be present with its exact shape (the entropy tables excepted); with
// reject_unexpected, a state_dict tensor the model lacks is an error too. Throws WeightsError
// listing every problem. Returns true when usable CDF tables came with the state.
bool copy_state(CompressionModel& model, const NamedTensors& state, const std::function<bool(const std::string&)>& selected,
                bool reject_unexpected, const std::string& failure) {
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, t] : state) by_name[normalize_compressai_key(name)] = &t;

  std::vector<std::string> problems;
  std::set<std::string> used;
  bool has_tables = true;
  model.visit_state("", [&](const std::string& name, at::Tensor& target, StateKind) {
    if (!selected(name)) return;
    const at::Tensor* src = find(by_name, name);
    if (!src) {
      if (is_dynamic_buffer(name) && name.find("scale_table") == std::string::npos) {
        has_tables = false;
        return;
      }
      problems.push_back("missing " + name);
      return;
    }
    used.insert(name);
    if (is_dynamic_buffer(name)) {
      if (src->numel() == 0) has_tables = false;
    } else if (src->sizes() != target.sizes()) {
      problems.push_back(name + " has shape " + shape_str(src->sizes()) + ", expected " + shape_str(target.sizes()));
      return;
    }
    target = src->to(at::kCPU, target.scalar_type()).contiguous().clone();
  });
  if (reject_unexpected)
    for (const auto& [name, t] : by_name)
      if (!used.count(name)) problems.push_back("unexpected " + name);
  if (!problems.empty()) {
    std::string msg = failure + ": ";
    const size_t shown = std::min<size_t>(problems.size(), 8);
    for (size_t i = 0; i < shown; ++i) msg += (i ? "; " : "") + problems[i];
    if (problems.size() > shown) msg += "; and " + std::to_string(problems.size() - shown) + " more";
    throw WeightsError(msg);
  }
  return has_tables;
}

}  // namespace

bool load_state(CompressionModel& model, const NamedTensors& state) {
  return copy_state(model, state, [](const std::string&) { return true; }, /*reject_unexpected=*/true,
                    "weights do not fit " + model.config.architecture + " (N=" + std::to_string(model.config.N) +
                        ", M=" + std::to_string(model.config.M) + ")");
}

std::string compute_model_id(CompressionModel& model) {
  Sha256 h;
  const std::string config = model.config.to_json();
  h.update(config.data(), config.size() + 1);  // with its NUL, as a separator
  model.visit_state("", [&](const std::string& name, at::Tensor& t, StateKind) {
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    h.update(name.data(), name.size() + 1);
    const std::string dtype = std::string(c.dtype().name());
    h.update(dtype.data(), dtype.size() + 1);
    for (int64_t d : c.sizes()) h.update(&d, sizeof d);
    h.update(c.data_ptr(), c.nbytes());
  });
  const auto digest = h.digest();
  return to_hex(digest.data(), digest.size());
}

static LoadedModel finish(std::shared_ptr<CompressionModel> model, bool has_tables, const std::string& source) {
  if (!has_tables) model->update_entropy_tables();
  model->validate_entropy_tables();
  model->prepare_inference();
  LoadedModel out{model, source, compute_model_id(*model)};
  return out;
}

LoadedModel model_from_state_dict(const NamedTensors& state, const std::string& source) {
  const at::Tensor* first = nullptr;
  const at::Tensor* last = nullptr;
  for (const auto& [name, t] : state) {
    const std::string k = normalize_compressai_key(name);
    if (k == "g_a.0.weight") first = &t;
    if (k == "g_a.6.weight") last = &t;
  }
  if (!first || !last || first->dim() != 4 || last->dim() != 4)
    throw WeightsError("not a bmshj2018-hyperprior (ScaleHyperprior) state_dict: g_a.0.weight / g_a.6.weight missing");
  const ModelConfig config = ModelConfig::make("bmshj2018-hyperprior", first->size(0), last->size(0));
  auto model = build_model(config);
  const bool has_tables = load_state(*model, state);
  return finish(model, has_tables, source);
}

LoadedModel load_model(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw WeightsError("cannot open model file '" + path + "'");
  char magic[8] = {0};
  f.read(magic, sizeof magic);
  const std::streamsize got = f.gcount();
  f.close();
  if (got >= 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0) {
    return model_from_state_dict(read_torch_checkpoint(path), "compressai");
  }
  if (got == 8) {
    SafetensorsFile file = read_safetensors(path);
    auto fmt = file.metadata.find("format");
    if (fmt == file.metadata.end() || fmt->second != kModelFormat) {
      // A plain safetensors state_dict with CompressAI names.
      return model_from_state_dict(file.tensors, "compressai");
    }
    auto version = file.metadata.find("format_version");
    if (version == file.metadata.end() || version->second != kModelFormatVersion)
      throw WeightsError("unsupported psic model format version in '" + path + "'");
    auto config_json = file.metadata.find("config");
    if (config_json == file.metadata.end()) throw WeightsError("psic model file '" + path + "' has no config");
    auto model = build_model(ModelConfig::from_json(config_json->second));
    const bool has_tables = load_state(*model, file.tensors);
    LoadedModel loaded = finish(model, has_tables, "psic");
    auto stored_id = file.metadata.find("model_id");
    if (stored_id != file.metadata.end() && stored_id->second != loaded.model_id)
      throw WeightsError("psic model file '" + path + "' is corrupted: its weights do not hash to its model id");
    return loaded;
  }
  throw FormatError("'" + path + "' is not a model file (expected a PyTorch .pth/.pth.tar or a .safetensors file)");
}

void save_model(CompressionModel& model, const std::string& path) {
  const NamedTensors tensors = model_state(model);
  std::map<std::string, std::string> metadata = {{"format", kModelFormat},
                                                 {"format_version", kModelFormatVersion},
                                                 {"config", model.config.to_json()},
                                                 {"model_id", compute_model_id(model)}};
  const std::vector<uint8_t> bytes = write_safetensors(tensors, metadata);
  write_file_atomic(path, bytes.data(), bytes.size());
}


LoadedModel init_model(const ModelConfig& config, uint64_t seed) {
  at::manual_seed(seed);
  auto model = build_model(config);
  return finish(model, /*has_tables=*/false, "psic");
}

NamedTensors export_encoder_state(CompressionModel& model) {
  NamedTensors out;
  model.visit_state("", [&](const std::string& name, at::Tensor& t, StateKind) {
    if (is_encoder_name(name)) out.emplace_back(name, t.detach().to(at::kCPU).contiguous());
  });
  return out;
}

bool is_conditioning_name(const std::string& name) {
  return name.rfind("global_cond.", 0) == 0 || name.rfind("g_s_shift.", 0) == 0 || name.find(".proj1.") != std::string::npos ||
         name.find(".proj2.") != std::string::npos;
}

NamedTensors export_conditioning_state(CompressionModel& model) {
  if (!model.config.is_psic()) throw WeightsError("only PSIC models have a conditioning");
  NamedTensors out;
  for (auto& [name, t] : model_state(model))
    if (is_conditioning_name(name)) out.emplace_back(name, t);
  return out;
}

void import_conditioning_state(CompressionModel& model, const NamedTensors& state) {
  if (!model.config.is_psic()) throw WeightsError("only PSIC models have a conditioning");
  copy_state(model, state, is_conditioning_name, /*reject_unexpected=*/true, "cannot apply the conditioning");
  model.prepare_inference();
}

NamedTensors model_state(CompressionModel& model) {
  NamedTensors out;
  model.visit_state("", [&](const std::string& name, at::Tensor& t, StateKind) {
    out.emplace_back(name, t.detach().to(at::kCPU).contiguous());
  });
  return out;
}

void import_encoder_state(CompressionModel& model, const NamedTensors& state) {
  // The encoder side always; CompressAI's decoder g_s too when both have one (psic-balle keeps
  // it as its backbone decoder). Anything else in the checkpoint is ignored.
  const bool state_has_g_s = std::any_of(state.begin(), state.end(), [](const auto& e) { return e.first.rfind("g_s.", 0) == 0; });
  auto selected = [&](const std::string& name) { return is_encoder_name(name) || (state_has_g_s && name.rfind("g_s.", 0) == 0); };
  const bool has_tables = copy_state(model, state, selected, /*reject_unexpected=*/false, "cannot seed the encoder side");
  if (!has_tables) model.update_entropy_tables();
  model.validate_entropy_tables();
  model.prepare_inference();
}

void refresh(LoadedModel& loaded) {
  loaded.model->prepare_inference();
  loaded.model_id = compute_model_id(*loaded.model);
}

}  // namespace psic
