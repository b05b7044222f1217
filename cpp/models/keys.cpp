#include "models/keys.h"

#include <cstring>

#include "errors.h"
#include "util/sha256.h"

namespace psic {

namespace {

constexpr const char* kConditionInfo = "psic/condition/v1";
constexpr const char* kKeyCheckInfo = "psic/key-check/v1";

bool is_lower_hex(const std::string& s, size_t length) {
  if (s.size() != length) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Bytes salt_bytes(const std::string& salt_hex) {
  if (!is_lower_hex(salt_hex, 32)) throw KeyError("invalid key salt '" + salt_hex + "' (32 lowercase hex chars)");
  return from_hex(salt_hex);
}

std::array<uint8_t, 16> check_tag(const Bytes& key, const std::string& salt_hex, const std::array<uint8_t, 16>& file_salt) {
  const Bytes check_key = hkdf_sha256(key, salt_bytes(salt_hex), kKeyCheckInfo, 32);
  const auto mac = hmac_sha256(check_key, file_salt.data(), file_salt.size());
  std::array<uint8_t, 16> tag{};
  std::memcpy(tag.data(), mac.data(), tag.size());
  return tag;
}

}  // namespace

void check_key(const Bytes& key) {
  if (key.size() < kMinKeyBytes) throw KeyError("a key must have at least " + std::to_string(kMinKeyBytes) + " bytes, got " + std::to_string(key.size()));
  if (key.size() > kMaxKeyBytes) throw KeyError("a key must have at most " + std::to_string(kMaxKeyBytes) + " bytes, got " + std::to_string(key.size()));
}

std::string condition_salt(const ModelConfig& config, const std::string& model_id) {
  if (!config.key_salt.empty()) return config.key_salt;
  if (!is_lower_hex(model_id, 32) && !is_lower_hex(model_id, 64)) throw KeyError("invalid model id '" + model_id + "'");
  return model_id.substr(0, 32);
}

std::vector<float> derive_condition(const Bytes& key, const std::string& salt_hex, int64_t dims) {
  check_key(key);
  if (dims < 1 || dims > 2040) throw KeyError("condition size must be in [1, 2040], got " + std::to_string(dims));
  const Bytes okm = hkdf_sha256(key, salt_bytes(salt_hex), kConditionInfo, static_cast<size_t>(4 * dims));
  std::vector<float> out(static_cast<size_t>(dims));
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t u = (uint32_t(okm[4 * i]) << 24) | (uint32_t(okm[4 * i + 1]) << 16) | (uint32_t(okm[4 * i + 2]) << 8) | okm[4 * i + 3];
    out[i] = static_cast<float>(static_cast<double>(u) / 4294967295.0 * 2.0 - 1.0);
  }
  return out;
}

std::vector<float> key_condition(const ModelConfig& config, const std::string& model_id, const Bytes& key) {
  check_key(key);
  if (config.condition_dim == 0) throw KeyError("this model (" + config.architecture + ") has a single decode and takes no key");
  if (config.architecture == "reference") return {0.0f};
  return derive_condition(key, condition_salt(config, model_id), config.condition_dim);
}

KeyCheck make_key_check(const Bytes& key, const std::string& salt_hex) {
  check_key(key);
  KeyCheck check;
  const Bytes salt = random_bytes(check.file_salt.size());
  std::memcpy(check.file_salt.data(), salt.data(), salt.size());
  check.tag = check_tag(key, salt_hex, check.file_salt);
  return check;
}

bool key_check_matches(const Bytes& key, const std::string& salt_hex, const KeyCheck& check) {
  check_key(key);
  const auto tag = check_tag(key, salt_hex, check.file_salt);
  return constant_time_equal(tag.data(), check.tag.data(), tag.size());
}

Bytes sealed_file_key(const Bytes& key, const std::array<uint8_t, 16>& file_salt) {
  check_key(key);
  return hkdf_sha256(key, Bytes(file_salt.begin(), file_salt.end()), "psic/sealed/v3/file-key", 32);
}

std::array<uint8_t, 16> sealed_owner_check(const Bytes& key, const std::array<uint8_t, 16>& file_salt) {
  check_key(key);
  const Bytes okm = hkdf_sha256(key, Bytes(file_salt.begin(), file_salt.end()), "psic/sealed/v3/key-check", 16);
  std::array<uint8_t, 16> out{};
  std::memcpy(out.data(), okm.data(), out.size());
  return out;
}

std::string training_key_salt(const std::string& start_model_id, uint64_t seed) {
  if (!is_lower_hex(start_model_id, 32)) throw KeyError("invalid model id '" + start_model_id + "'");
  const std::string text = "psic/key-salt/v1/" + start_model_id + "/" + std::to_string(seed);
  Sha256 h;
  h.update(text.data(), text.size());
  const auto d = h.digest();
  return to_hex(d.data(), 16);
}

}  // namespace psic
