#include "models/model_config.h"

#include <nlohmann/json.hpp>

#include "errors.h"

namespace psic {

namespace {
constexpr int64_t kDefaultConditionDim = 16;

void check_size(const char* name, int64_t v, int64_t hi) {
  if (v < 1 || v > hi) throw WeightsError(std::string("model config: '") + name + "' must be in [1, " + std::to_string(hi) + "]");
}
}  // namespace

ModelConfig ModelConfig::make(const std::string& architecture, int64_t N, int64_t M, int64_t condition_dim) {
  ModelConfig c;
  c.architecture = architecture;
  c.N = N;
  c.M = M;
  check_size("N", N, 4096);
  check_size("M", M, 4096);
  if (architecture == "bmshj2018-hyperprior") {
    if (condition_dim > 0) throw WeightsError("bmshj2018-hyperprior takes no condition");
    c.condition_dim = 0;
  } else if (architecture == "reference") {
    if (condition_dim > 1) throw WeightsError("the reference config has a 1-value condition");
    c.condition_dim = 1;
  } else if (architecture == "psic-hyperprior" || architecture == "psic-factorized" || architecture == "psic-balle") {
    c.condition_dim = condition_dim < 0 ? kDefaultConditionDim : condition_dim;
    check_size("condition_dim", c.condition_dim, 1024);
  } else {
    throw WeightsError("unsupported architecture '" + architecture +
                       "' (supported: bmshj2018-hyperprior, psic-hyperprior, psic-factorized, psic-balle, reference)");
  }
  return c;
}

std::string ModelConfig::to_json() const {
  nlohmann::json j = {{"architecture", architecture}, {"N", N}, {"M", M}};
  if (condition_dim > 0) j["condition_dim"] = condition_dim;
  if (!key_salt.empty()) j["key_salt"] = key_salt;
  return j.dump();  // nlohmann::json sorts object keys
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw WeightsError("model config is not a JSON object");
  if (!j.contains("architecture") || !j["architecture"].is_string()) throw WeightsError("model config has no architecture");
  for (const char* key : {"N", "M"})
    if (!j.contains(key) || !j[key].is_number_integer()) throw WeightsError(std::string("model config: '") + key + "' must be an integer");
  int64_t d = -1;
  if (j.contains("condition_dim")) {
    if (!j["condition_dim"].is_number_integer()) throw WeightsError("model config: 'condition_dim' must be an integer");
    d = j["condition_dim"].get<int64_t>();
  }
  ModelConfig c = make(j["architecture"].get<std::string>(), j["N"].get<int64_t>(), j["M"].get<int64_t>(), d);
  if (j.contains("key_salt")) {
    if (!j["key_salt"].is_string()) throw WeightsError("model config: 'key_salt' must be a string");
    c.set_key_salt(j["key_salt"].get<std::string>());
  }
  return c;
}

void ModelConfig::set_key_salt(const std::string& hex) {
  if (!is_psic() || architecture == "reference") throw WeightsError("model config: only keyed PSIC models take a key_salt");
  if (hex.size() != 32 || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw WeightsError("model config: 'key_salt' must be 32 lowercase hex characters");
  key_salt = hex;
}

}  // namespace psic
