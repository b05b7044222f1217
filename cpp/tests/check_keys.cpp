// Key derivation (cpp/models/keys, cpp/crypto): HKDF-SHA256 against RFC 5869's test vectors,
// the condition mapping, the key check and the training salt.
#include <cmath>

#include "check.h"
#include "crypto/primitives.h"
#include "models/keys.h"

namespace {

std::string hex(const psic::Bytes& b) { return psic::to_hex_string(b); }

psic::Bytes range_bytes(int from, int to) {
  psic::Bytes b;
  for (int i = from; i <= to; ++i) b.push_back(static_cast<uint8_t>(i));
  return b;
}

}  // namespace

PSIC_CHECK_CASE("keys: HKDF-SHA256 matches RFC 5869 test cases 1-3") {
  const psic::Bytes ikm1(22, 0x0b);
  // Case 1: basic.
  const psic::Bytes info1 = range_bytes(0xf0, 0xf9);
  EXPECT(hex(psic::hkdf_sha256(ikm1, range_bytes(0x00, 0x0c), std::string(info1.begin(), info1.end()), 42)) ==
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  // Case 2: longer inputs and outputs.
  const psic::Bytes info2 = range_bytes(0xb0, 0xff);
  EXPECT(hex(psic::hkdf_sha256(range_bytes(0x00, 0x4f), range_bytes(0x60, 0xaf), std::string(info2.begin(), info2.end()), 82)) ==
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
         "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
  // Case 3: zero-length salt and info.
  EXPECT(hex(psic::hkdf_sha256(ikm1, {}, "", 42)) ==
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  EXPECT_THROWS_AS(psic::hkdf_sha256(ikm1, {}, "", 0), psic::InputError);
  EXPECT_THROWS_AS(psic::hkdf_sha256(ikm1, {}, "", 255 * 32 + 1), psic::InputError);
}

PSIC_CHECK_CASE("keys: HMAC-SHA256 matches RFC 4231 test case 2") {
  const std::string data = "what do ya want for nothing?";
  const auto mac = psic::hmac_sha256(psic::Bytes{'J', 'e', 'f', 'e'}, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  EXPECT(hex(psic::Bytes(mac.begin(), mac.end())) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

PSIC_CHECK_CASE("keys: a key's condition is HKDF's output mapped to [-1, 1], per model salt") {
  const psic::Bytes key(32, 0x42);
  const std::string salt = "00112233445566778899aabbccddeeff";
  const auto c = psic::derive_condition(key, salt, 16);
  EXPECT(c.size() == 16);
  // The mapping, spelled out on HKDF's bytes.
  const psic::Bytes okm = psic::hkdf_sha256(key, psic::from_hex(salt), "psic/condition/v1", 64);
  for (size_t i = 0; i < c.size(); ++i) {
    const double u = (double(okm[4 * i]) * 16777216.0) + okm[4 * i + 1] * 65536.0 + okm[4 * i + 2] * 256.0 + okm[4 * i + 3];
    EXPECT(c[i] == static_cast<float>(u / 4294967295.0 * 2 - 1));
    EXPECT(c[i] >= -1.0f && c[i] <= 1.0f);
  }
  EXPECT(psic::derive_condition(key, "ffeeddccbbaa99887766554433221100", 16) != c);
  EXPECT_THROWS_AS(psic::derive_condition(psic::Bytes(15, 1), salt, 16), psic::KeyError);
  EXPECT_THROWS_AS(psic::derive_condition(key, "not-a-salt", 16), psic::KeyError);
  EXPECT_THROWS_AS(psic::derive_condition(key, salt, 0), psic::KeyError);
  // Per model: the config's key salt, else the model id; the reference config has no secret.
  psic::ModelConfig m = psic::ModelConfig::make("psic-hyperprior", 8, 8, 4);
  const std::string id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  EXPECT(psic::key_condition(m, id, key) == psic::derive_condition(key, id.substr(0, 32), 4));
  m.set_key_salt(salt);
  EXPECT(psic::key_condition(m, id, key) == psic::derive_condition(key, salt, 4));
  EXPECT(psic::key_condition(psic::ModelConfig::make("reference", 8, 8), id, key) == std::vector<float>{0.0f});
  EXPECT_THROWS_AS(psic::key_condition(psic::ModelConfig::make("bmshj2018-hyperprior", 8, 8), id, key), psic::KeyError);
}

PSIC_CHECK_CASE("keys: the key check accepts its key only, with a fresh file salt each time") {
  const psic::Bytes key(32, 7), other(32, 8);
  const std::string salt = "00112233445566778899aabbccddeeff";
  const psic::KeyCheck a = psic::make_key_check(key, salt), b = psic::make_key_check(key, salt);
  EXPECT(a.file_salt != b.file_salt && a.tag != b.tag);
  EXPECT(psic::key_check_matches(key, salt, a) && psic::key_check_matches(key, salt, b));
  EXPECT(!psic::key_check_matches(other, salt, a));
  EXPECT(!psic::key_check_matches(key, "ffeeddccbbaa99887766554433221100", a));
  psic::KeyCheck flipped = a;
  flipped.tag[15] ^= 1;
  EXPECT(!psic::key_check_matches(key, salt, flipped));
}

PSIC_CHECK_CASE("keys: the training salt is SHA-256 of the start model id and seed") {
  const std::string id = "0123456789abcdef0123456789abcdef";
  const std::string s0 = psic::training_key_salt(id, 0);
  EXPECT(s0.size() == 32);
  EXPECT(s0 == psic::training_key_salt(id, 0));
  EXPECT(s0 != psic::training_key_salt(id, 1));
  EXPECT_THROWS_AS(psic::training_key_salt("xyz", 0), psic::KeyError);
}
