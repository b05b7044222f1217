// Loading and saving models: CompressAI state_dicts (torch.save zip, either EntropyBottleneck
// key style) and psic model files (safetensors + JSON config in its metadata). Every tensor's
// name and shape is checked; the model id is a hash of the config and all weights.
#pragma once
#include <memory>
#include <string>

#include "formats/named_tensors.h"
#include "models/compression_model.h"

namespace psic {

struct LoadedModel {
  std::shared_ptr<CompressionModel> model;
  std::string source;    // "psic" or "compressai"
  std::string model_id;  // 64 hex chars (SHA-256); containers store its first 16 bytes
};

LoadedModel load_model(const std::string& path);

// Builds a model from a (CompressAI-named) state_dict; N and M are read from the weights.
LoadedModel model_from_state_dict(const NamedTensors& state, const std::string& source);

// Writes a psic model file atomically.
void save_model(CompressionModel& model, const std::string& path);

// Copies a state_dict into a model: strict names, exact shapes (the entropy tables excepted,
// their length depends on the trained density). Throws WeightsError listing every problem.
// Returns true when the checkpoint carried usable CDF tables.
bool load_state(CompressionModel& model, const NamedTensors& state);

std::string compute_model_id(CompressionModel& model);

// A freshly initialized model of the given config (seeded), with its entropy tables built.
LoadedModel init_model(const ModelConfig& config, uint64_t seed);

// The CompressAI-compatible encoder side (g_a, h_a, h_s, entropy models) under CompressAI's
// names: export it, or seed a model's encoder side from a CompressAI checkpoint's — and its
// g_s too when the model has CompressAI's g_s (psic-balle); anything else is ignored, and every
// copied tensor must match in shape.
NamedTensors export_encoder_state(CompressionModel& model);
void import_encoder_state(CompressionModel& model, const NamedTensors& state);
// The conditioning of a PSIC model: global_cond and the CLTG projections (psic-balle's
// g_s_shift, the CRBs' proj1/proj2) — all that stage-2 conditioning-only training changes, so a
// trained model is its seed checkpoint plus this small state. Import requires every
// conditioning tensor, with its shape, and nothing else.
bool is_conditioning_name(const std::string& name);
NamedTensors export_conditioning_state(CompressionModel& model);
void import_conditioning_state(CompressionModel& model, const NamedTensors& state);
// Every tensor of a model under its state_dict name (CPU, contiguous).
NamedTensors model_state(CompressionModel& model);

// Re-derives the model id and refreshes inference tensors after weights changed in place.
void refresh(LoadedModel& loaded);

// Maps old CompressAI key names (_matrix0, _bias0, _factor0, _matrices.0) to current ones
// (matrices.0, ...), and strips DataParallel's "module." prefix.
std::string normalize_compressai_key(const std::string& key);

}  // namespace psic
