// The model files psic writes and reads beside its model files (model_loader.h): how a model is
// made from its parts, and the small files that carry those parts.
//   encoder file       the CompressAI-compatible encoder side (g_a, h_a, h_s, entropy models)
//                      under CompressAI's names, as safetensors
//   conditioning file  a PSIC model's global_cond and CLTG projections, as safetensors with
//                      metadata {format: "psic-conditioning", config, key_salt}: with the seed
//                      checkpoint it was trained from, all a conditioning-only training changed
#pragma once
#include <cstdint>
#include <string>

#include "models/model_loader.h"

namespace psic {

// What `psic model init` builds: a fresh model of an architecture, optionally seeded from a
// checkpoint's encoder side (and its g_s where the architecture shares CompressAI's), then
// optionally given a conditioning file (and its key salt).
struct ModelInitSpec {
  std::string architecture;
  int64_t N = 128, M = 192;
  int64_t condition_dim = -1;  // -1: the architecture's default
  uint64_t seed = 0;
  std::string from;            // a CompressAI checkpoint or psic model file; empty: none
  std::string conditioning;    // a conditioning file; empty: none
};

LoadedModel init_model(const ModelInitSpec& spec);

// Write atomically; FormatError when a conditioning file is of another format.
void write_encoder_file(CompressionModel& model, const std::string& path);
void write_conditioning_file(CompressionModel& model, const std::string& path);
void apply_conditioning_file(LoadedModel& loaded, const std::string& path);

}  // namespace psic
