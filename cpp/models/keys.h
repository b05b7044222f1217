// Owner keys and everything psic derives from them: the one C++ home of key derivation.
// src/keys.ts reads, writes and generates key files and calls here for the rest.
//
//   condition salt  the model config's key_salt (fixed when training starts, so retrained weights
//                   keep the key's condition), else the model id (its first 16 bytes, 32 hex).
//   condition       HKDF-SHA256(ikm = key, salt = condition salt, info = "psic/condition/v1",
//                   4·d bytes), read as d big-endian uint32 u, each mapped to 2·u/(2³²−1) − 1:
//                   d values in [−1, 1], what the CLTG decoder takes for the full decode.
//                   The reference config (the paper's public bit) has no secret: any key gives [0].
//   key check       a random 16-byte file salt and tag = HMAC-SHA256(check key, file salt)[0, 16)
//                   with check key = HKDF-SHA256(key, condition salt, "psic/key-check/v1", 32):
//                   written by compress when it is given the key, so that decompress tells a
//                   wrong key from the right one. It reveals nothing of the key or the condition.
//   training salt   SHA-256("psic/key-salt/v1/" + start model id + "/" + seed), first 16 bytes:
//                   the condition salt a training run fixes for the model it writes.
//   sealed files    file key = HKDF-SHA256(key, file salt, "psic/sealed/v3/file-key", 32), which
//                   wraps the file's content key; owner check = HKDF-SHA256(key, file salt,
//                   "psic/sealed/v3/key-check", 16), which tells a wrong key from a tampered file.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "crypto/primitives.h"
#include "models/model_config.h"

namespace psic {

constexpr size_t kMinKeyBytes = 16;
constexpr size_t kMaxKeyBytes = 1024;

// Throws KeyError unless the key has kMinKeyBytes to kMaxKeyBytes bytes.
void check_key(const Bytes& key);

// The HKDF salt of a model's key condition (32 lowercase hex chars); model_id: 32 or 64 hex.
std::string condition_salt(const ModelConfig& config, const std::string& model_id);

// d values in [−1, 1] from a key and a condition salt (32 hex chars).
std::vector<float> derive_condition(const Bytes& key, const std::string& salt_hex, int64_t dims);

// The full-decode condition a key unlocks on a model. KeyError for models with a single decode.
std::vector<float> key_condition(const ModelConfig& config, const std::string& model_id, const Bytes& key);

struct KeyCheck {
  std::array<uint8_t, 16> file_salt{};
  std::array<uint8_t, 16> tag{};
};

// A fresh check (random file salt) for a key under a condition salt.
KeyCheck make_key_check(const Bytes& key, const std::string& salt_hex);
// Constant-time: whether the key is the one the check was made with.
bool key_check_matches(const Bytes& key, const std::string& salt_hex, const KeyCheck& check);

// Sealed files (see above); file_salt: 16 random bytes per file.
Bytes sealed_file_key(const Bytes& key, const std::array<uint8_t, 16>& file_salt);
std::array<uint8_t, 16> sealed_owner_check(const Bytes& key, const std::array<uint8_t, 16>& file_salt);

// The condition salt a training run fixes (see above); start_model_id: 32 hex chars.
std::string training_key_salt(const std::string& start_model_id, uint64_t seed);

}  // namespace psic
