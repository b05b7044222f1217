#include "models/model_files.h"

#include <map>

#include "errors.h"
#include "formats/safetensors.h"
#include "util/atomic_file.h"

namespace psic {

namespace {

constexpr const char* kConditioningFormat = "psic-conditioning";

void write_safetensors_file(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata, const std::string& path) {
  const auto bytes = write_safetensors(tensors, metadata);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace

LoadedModel init_model(const ModelInitSpec& spec) {
  LoadedModel loaded = init_model(ModelConfig::make(spec.architecture, spec.N, spec.M, spec.condition_dim), spec.seed);
  if (!spec.from.empty()) {
    const LoadedModel source = load_model(spec.from);
    import_encoder_state(*loaded.model, model_state(*source.model));
    refresh(loaded);
  }
  if (!spec.conditioning.empty()) apply_conditioning_file(loaded, spec.conditioning);
  return loaded;
}

void write_encoder_file(CompressionModel& model, const std::string& path) {
  write_safetensors_file(export_encoder_state(model), {}, path);
}

void write_conditioning_file(CompressionModel& model, const std::string& path) {
  // The file names its format and carries the key salt its training used.
  write_safetensors_file(export_conditioning_state(model),
                         {{"format", kConditioningFormat}, {"config", model.config.to_json()}, {"key_salt", model.config.key_salt}}, path);
}

void apply_conditioning_file(LoadedModel& loaded, const std::string& path) {
  const SafetensorsFile file = read_safetensors(path);
  auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != kConditioningFormat)
    throw FormatError("'" + path + "' is not a psic conditioning file (psic model export-conditioning)");
  import_conditioning_state(*loaded.model, file.tensors);
  auto salt = file.metadata.find("key_salt");
  if (salt != file.metadata.end() && !salt->second.empty()) loaded.model->config.set_key_salt(salt->second);
  refresh(loaded);
}

}  // namespace psic
