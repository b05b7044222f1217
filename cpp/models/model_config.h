// What a model file's JSON config says: the architecture and its sizes.
//   bmshj2018-hyperprior  CompressAI's scale hyperprior (no condition)
//   psic-hyperprior       PSIC decoder on the scale hyperprior, keyed d-dim condition (default 16)
//   psic-factorized       PSIC decoder on the factorized prior
//   psic-balle            the scale hyperprior's own g_s, conditioned by CLTG shifts (seeds from a trained backbone)
//   reference             psic-hyperprior with d = 1 and the paper's public conditions (0 full, 1 protected)
#pragma once
#include <cstdint>
#include <string>

namespace psic {

struct ModelConfig {
  std::string architecture = "bmshj2018-hyperprior";
  int64_t N = 128;
  int64_t M = 192;
  int64_t condition_dim = 0;  // 0 for unconditional models
  // PSIC models trained for a key: the HKDF salt of the key's condition (32 hex chars). Fixed
  // when training starts, so the trained weights (and so the model id) may change while the
  // key keeps deriving the condition the decoder learned. Empty: the salt is the model id.
  std::string key_salt;

  bool is_psic() const { return architecture != "bmshj2018-hyperprior"; }
  bool has_hyperprior() const { return architecture != "psic-factorized"; }

  // Builds a valid config (fills the default condition size). Throws WeightsError.
  static ModelConfig make(const std::string& architecture, int64_t N, int64_t M, int64_t condition_dim = -1);

  // Throws WeightsError unless hex is 32 lowercase hex chars and the model is keyed.
  void set_key_salt(const std::string& hex);

  // Canonical JSON (sorted keys, no spaces): part of the model id, so it must be stable.
  std::string to_json() const;
  // Throws WeightsError for an unknown architecture or invalid sizes.
  static ModelConfig from_json(const std::string& json);
};

}  // namespace psic
