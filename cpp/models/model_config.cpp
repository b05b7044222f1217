#include "models/model_config.h"

#include <nlohmann/json.hpp>

#include "errors.h"

namespace psic {

std::string ModelConfig::to_json() const {
  nlohmann::json j = {{"architecture", architecture}, {"N", N}, {"M", M}};
  return j.dump();  // nlohmann::json sorts object keys
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw WeightsError("model config is not a JSON object");
  ModelConfig c;
  if (!j.contains("architecture") || !j["architecture"].is_string()) throw WeightsError("model config has no architecture");
  c.architecture = j["architecture"].get<std::string>();
  if (c.architecture != "bmshj2018-hyperprior")
    throw WeightsError("unsupported architecture '" + c.architecture + "' (supported: bmshj2018-hyperprior)");
  for (const char* key : {"N", "M"}) {
    if (!j.contains(key) || !j[key].is_number_integer() || j[key].get<int64_t>() < 1 || j[key].get<int64_t>() > 4096)
      throw WeightsError(std::string("model config: '") + key + "' must be an integer in [1, 4096]");
  }
  c.N = j["N"].get<int64_t>();
  c.M = j["M"].get<int64_t>();
  return c;
}

}  // namespace psic
