// What a model file's JSON config says: the architecture and its sizes.
#pragma once
#include <cstdint>
#include <string>

namespace psic {

struct ModelConfig {
  std::string architecture = "bmshj2018-hyperprior";
  int64_t N = 128;
  int64_t M = 192;

  // Canonical JSON (sorted keys, no spaces): part of the model id, so it must be stable.
  std::string to_json() const;
  // Throws WeightsError for an unknown architecture or invalid sizes.
  static ModelConfig from_json(const std::string& json);
};

}  // namespace psic
