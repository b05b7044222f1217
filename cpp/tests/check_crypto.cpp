// Authenticated encryption and X25519 (cpp/crypto/aead, cpp/crypto/x25519): AES-256-GCM against
// the GCM specification's 256-bit test cases, X25519 against RFC 7748, tamper detection, and the
// age-style key wrapping for recipients.
#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "check.h"
#include "crypto/aead.h"
#include "crypto/primitives.h"
#include "crypto/x25519.h"

namespace {

std::string hex(const psic::Bytes& b) { return psic::to_hex_string(b); }
template <size_t N>
std::string hex(const std::array<uint8_t, N>& a) {
  return psic::to_hex_string(psic::Bytes(a.begin(), a.end()));
}

template <size_t N>
std::array<uint8_t, N> arr(const std::string& hex_digits) {
  const psic::Bytes b = psic::from_hex(hex_digits);
  std::array<uint8_t, N> out{};
  if (b.size() != N) throw psic::InputError("test vector of the wrong length");
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

const uint8_t* ptr(const psic::Bytes& b) { return b.empty() ? nullptr : b.data(); }

// A known-answer case: seal gives ciphertext || tag, and open gives the plaintext back.
struct GcmVector {
  const char* name;
  const char* key;
  const char* iv;
  const char* ad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

// The 256-bit-key test cases 13-16 of McGrew & Viega, "The Galois/Counter Mode of Operation
// (GCM)", revised 2005 (the test vectors NIST's GCM page links to).
const GcmVector kGcmVectors[] = {
    {"case 13", "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {"case 14", "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "",
     "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"case 15", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"case 16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

psic::Bytes text_bytes(const std::string& s) { return psic::Bytes(s.begin(), s.end()); }

}  // namespace

PSIC_CHECK_CASE("crypto: AES-256-GCM matches the GCM spec's test cases 13-16") {
  for (const GcmVector& v : kGcmVectors) {
    const psic::Bytes key = psic::from_hex(v.key), ad = psic::from_hex(v.ad), pt = psic::from_hex(v.plaintext);
    const auto nonce = arr<12>(v.iv);
    const psic::Bytes sealed = psic::aead_seal(key, nonce, ptr(pt), pt.size(), ptr(ad), ad.size());
    EXPECT_MSG(hex(sealed) == std::string(v.ciphertext) + v.tag, std::string(v.name) + ": sealed " + hex(sealed));
    const psic::Bytes opened = psic::aead_open(key, nonce, sealed.data(), sealed.size(), ptr(ad), ad.size());
    EXPECT_MSG(opened == pt, std::string(v.name) + ": opened " + hex(opened));
  }
  EXPECT(psic::kAeadKeyBytes == 32 && psic::kAeadNonceBytes == 12 && psic::kAeadTagBytes == 16);
}

PSIC_CHECK_CASE("crypto: AES-256-GCM round trips, with and without AD, empty buffers included") {
  const psic::Bytes key = psic::random_bytes(32);
  const auto nonce = arr<12>("000102030405060708090a0b");
  const psic::Bytes ad = text_bytes("psic header");
  for (size_t n : {size_t(0), size_t(1), size_t(15), size_t(16), size_t(17), size_t(1000)}) {
    const psic::Bytes pt = psic::random_bytes(n);
    for (bool with_ad : {false, true}) {
      const uint8_t* a = with_ad ? ad.data() : nullptr;
      const size_t a_n = with_ad ? ad.size() : 0;
      const psic::Bytes sealed = psic::aead_seal(key, nonce, ptr(pt), n, a, a_n);
      EXPECT(sealed.size() == n + 16);
      EXPECT(psic::aead_open(key, nonce, sealed.data(), sealed.size(), a, a_n) == pt);
      // The AD is authenticated: dropping it, or adding it, fails.
      EXPECT_THROWS_AS(psic::aead_open(key, nonce, sealed.data(), sealed.size(), with_ad ? nullptr : ad.data(), with_ad ? 0 : ad.size()),
                       psic::IntegrityError);
    }
  }
  // An empty (non-null) AD is the same as no AD.
  const uint8_t dummy = 0;
  const psic::Bytes a = psic::aead_seal(key, nonce, nullptr, 0, &dummy, 0);
  const psic::Bytes b = psic::aead_seal(key, nonce, nullptr, 0, nullptr, 0);
  EXPECT(a == b);
}

PSIC_CHECK_CASE("crypto: AES-256-GCM rejects every single-bit change of ciphertext, tag, nonce and AD") {
  const psic::Bytes key = psic::random_bytes(32);
  const psic::Bytes pt = psic::random_bytes(37), ad = psic::random_bytes(13);
  const auto nonce = arr<12>("cafebabefacedbaddecaf888");
  const psic::Bytes sealed = psic::aead_seal(key, nonce, pt.data(), pt.size(), ad.data(), ad.size());
  size_t accepted = 0, tried = 0;
  auto refused = [&](const psic::Bytes& k, const std::array<uint8_t, 12>& iv, const psic::Bytes& ct, const psic::Bytes& a) {
    ++tried;
    try {
      (void)psic::aead_open(k, iv, ct.data(), ct.size(), a.data(), a.size());
      ++accepted;
      return false;
    } catch (const psic::IntegrityError&) {
      return true;
    }
  };
  for (size_t bit = 0; bit < 8 * sealed.size(); ++bit) {
    psic::Bytes t = sealed;
    t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    refused(key, nonce, t, ad);
  }
  for (size_t bit = 0; bit < 8 * nonce.size(); ++bit) {
    auto t = nonce;
    t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    refused(key, t, sealed, ad);
  }
  for (size_t bit = 0; bit < 8 * ad.size(); ++bit) {
    psic::Bytes t = ad;
    t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    refused(key, nonce, sealed, t);
  }
  EXPECT_MSG(accepted == 0, std::to_string(accepted) + " of " + std::to_string(tried) + " altered inputs were accepted");
  EXPECT(tried == 8 * (53 + 12 + 13));
  // The untouched input still opens.
  EXPECT(psic::aead_open(key, nonce, sealed.data(), sealed.size(), ad.data(), ad.size()) == pt);
}

PSIC_CHECK_CASE("crypto: AES-256-GCM rejects truncated input, extra bytes and a wrong key") {
  const psic::Bytes key = psic::random_bytes(32);
  const psic::Bytes pt = psic::random_bytes(40);
  const auto nonce = arr<12>("0f0e0d0c0b0a090807060504");
  const psic::Bytes sealed = psic::aead_seal(key, nonce, pt.data(), pt.size(), nullptr, 0);
  for (size_t n = 0; n < sealed.size(); ++n)
    EXPECT_THROWS_AS(psic::aead_open(key, nonce, sealed.data(), n, nullptr, 0), psic::IntegrityError);
  // Dropping bytes from the front, or appending one, fails too.
  EXPECT_THROWS_AS(psic::aead_open(key, nonce, sealed.data() + 1, sealed.size() - 1, nullptr, 0), psic::IntegrityError);
  psic::Bytes longer = sealed;
  longer.push_back(0);
  EXPECT_THROWS_AS(psic::aead_open(key, nonce, longer.data(), longer.size(), nullptr, 0), psic::IntegrityError);
  EXPECT_THROWS_AS(psic::aead_open(key, nonce, nullptr, 0, nullptr, 0), psic::IntegrityError);
  // A wrong key, including one a single bit away.
  EXPECT_THROWS_AS(psic::aead_open(psic::random_bytes(32), nonce, sealed.data(), sealed.size(), nullptr, 0), psic::IntegrityError);
  psic::Bytes near = key;
  near[31] ^= 0x80;
  EXPECT_THROWS_AS(psic::aead_open(near, nonce, sealed.data(), sealed.size(), nullptr, 0), psic::IntegrityError);
  // A key of the wrong length is bad input, not a failed check.
  EXPECT_THROWS_AS(psic::aead_seal(psic::Bytes(16, 1), nonce, pt.data(), pt.size(), nullptr, 0), psic::InputError);
  EXPECT_THROWS_AS(psic::aead_seal(psic::Bytes(33, 1), nonce, pt.data(), pt.size(), nullptr, 0), psic::InputError);
  EXPECT_THROWS_AS(psic::aead_open(psic::Bytes(), nonce, sealed.data(), sealed.size(), nullptr, 0), psic::InputError);
  // So is a null buffer with a non-zero size.
  EXPECT_THROWS_AS(psic::aead_seal(key, nonce, nullptr, 5, nullptr, 0), psic::InputError);
  EXPECT_THROWS_AS(psic::aead_seal(key, nonce, pt.data(), pt.size(), nullptr, 3), psic::InputError);
  EXPECT_THROWS_AS(psic::aead_open(key, nonce, nullptr, 20, nullptr, 0), psic::InputError);
  EXPECT_THROWS_AS(psic::aead_open(key, nonce, sealed.data(), sealed.size(), nullptr, 3), psic::InputError);
}

PSIC_CHECK_CASE("crypto: X25519 matches RFC 7748 section 5.2 and 6.1") {
  // §5.2: two scalar multiplications (the u-coordinate's top bit and the scalar are as published).
  EXPECT(hex(psic::x25519_shared(arr<32>("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                                 arr<32>("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))) ==
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  EXPECT(hex(psic::x25519_shared(arr<32>("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                                 arr<32>("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"))) ==
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
  // §6.1: Alice and Bob.
  const auto alice = arr<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const auto bob = arr<32>("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const auto alice_public = psic::x25519_public_key(alice), bob_public = psic::x25519_public_key(bob);
  EXPECT(hex(alice_public) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT(hex(bob_public) == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const std::string k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  EXPECT(hex(psic::x25519_shared(alice, bob_public)) == k);
  EXPECT(hex(psic::x25519_shared(bob, alice_public)) == k);
}

PSIC_CHECK_CASE("crypto: X25519 key pairs, and a low-order peer point is a KeyError") {
  const psic::X25519KeyPair a = psic::x25519_generate(), b = psic::x25519_generate();
  EXPECT(a.secret != b.secret && a.public_key != b.public_key);
  EXPECT(psic::x25519_public_key(a.secret) == a.public_key);
  EXPECT(psic::x25519_public_key(b.secret) == b.public_key);
  EXPECT(psic::x25519_shared(a.secret, b.public_key) == psic::x25519_shared(b.secret, a.public_key));
  // u = 0 and u = 1 are low-order points: the shared secret would be all zeros.
  EXPECT_THROWS_AS(psic::x25519_shared(a.secret, std::array<uint8_t, 32>{}), psic::KeyError);
  std::array<uint8_t, 32> one{};
  one[0] = 1;
  EXPECT_THROWS_AS(psic::x25519_shared(a.secret, one), psic::KeyError);
  // The RFC's Alice secret too (a fixed scalar, not only random ones).
  EXPECT_THROWS_AS(psic::x25519_shared(arr<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"), one), psic::KeyError);
  // The library still works after the refusal.
  EXPECT(psic::x25519_shared(a.secret, b.public_key) == psic::x25519_shared(b.secret, a.public_key));
}

PSIC_CHECK_CASE("crypto: x25519_wrap - each recipient unwraps its own stanza, others get nullopt") {
  const psic::Bytes content_key = psic::random_bytes(32);
  std::array<psic::X25519KeyPair, 3> recipients = {psic::x25519_generate(), psic::x25519_generate(), psic::x25519_generate()};
  std::array<psic::WrappedKey, 3> stanzas{};
  for (size_t i = 0; i < 3; ++i) stanzas[i] = psic::x25519_wrap(content_key, recipients[i].public_key);
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 3; ++j) {
      const std::optional<psic::Bytes> got = psic::x25519_unwrap(stanzas[i], recipients[j].secret);
      if (i == j)
        EXPECT_MSG(got && *got == content_key, "recipient " + std::to_string(j) + " cannot unwrap its own stanza");
      else
        EXPECT_MSG(!got, "recipient " + std::to_string(j) + " unwrapped stanza " + std::to_string(i));
    }
  // A secret that is no recipient's.
  EXPECT(!psic::x25519_unwrap(stanzas[0], psic::x25519_generate().secret));
  // Two wraps of one key for one recipient differ (fresh ephemeral key and nonce), both unwrap.
  const psic::WrappedKey again = psic::x25519_wrap(content_key, recipients[0].public_key);
  EXPECT(again.ephemeral_public != stanzas[0].ephemeral_public);
  EXPECT(again.nonce != stanzas[0].nonce);
  EXPECT(again.wrapped != stanzas[0].wrapped);
  const auto got = psic::x25519_unwrap(again, recipients[0].secret);
  EXPECT(got && *got == content_key);
  // The stanza is bound to the recipient's public key and the ephemeral key, as given: flipping
  // any bit of the stanza (the ephemeral key's top bit included, which X25519 itself ignores) fails.
  size_t accepted = 0;
  const psic::WrappedKey& s = stanzas[1];
  for (size_t bit = 0; bit < 8 * 92; ++bit) {
    psic::WrappedKey t = s;
    uint8_t* byte = bit < 256 ? &t.ephemeral_public[bit / 8] : bit < 352 ? &t.nonce[(bit - 256) / 8] : &t.wrapped[(bit - 352) / 8];
    *byte ^= static_cast<uint8_t>(1u << (bit % 8));
    if (psic::x25519_unwrap(t, recipients[1].secret)) ++accepted;
  }
  EXPECT_MSG(accepted == 0, std::to_string(accepted) + " altered stanzas unwrapped");
}

PSIC_CHECK_CASE("crypto: x25519_wrap - the derivation is the documented one, and bad inputs are refused") {
  // Recompute a stanza's wrap key with the primitives: HKDF-SHA256(X25519(recipient, ephemeral),
  // ephemeral_public || recipient_public, "psic/sealed/v3/x25519") opens it with that AD.
  const psic::X25519KeyPair r = psic::x25519_generate();
  const psic::Bytes content_key = psic::random_bytes(32);
  const psic::WrappedKey s = psic::x25519_wrap(content_key, r.public_key);
  const auto shared = psic::x25519_shared(r.secret, s.ephemeral_public);
  psic::Bytes salt(64);
  std::copy(s.ephemeral_public.begin(), s.ephemeral_public.end(), salt.begin());
  std::copy(r.public_key.begin(), r.public_key.end(), salt.begin() + 32);
  const psic::Bytes wrap_key = psic::hkdf_sha256(psic::Bytes(shared.begin(), shared.end()), salt, "psic/sealed/v3/x25519", 32);
  EXPECT(psic::aead_open(wrap_key, s.nonce, s.wrapped.data(), s.wrapped.size(), salt.data(), salt.size()) == content_key);
  // A content key of the wrong length; a low-order recipient key.
  EXPECT_THROWS_AS(psic::x25519_wrap(psic::Bytes(31, 7), r.public_key), psic::InputError);
  EXPECT_THROWS_AS(psic::x25519_wrap(psic::Bytes(), r.public_key), psic::InputError);
  EXPECT_THROWS_AS(psic::x25519_wrap(content_key, std::array<uint8_t, 32>{}), psic::KeyError);
  // A stanza whose ephemeral key is a low-order point is no stanza for anyone.
  psic::WrappedKey low = s;
  low.ephemeral_public = {};
  EXPECT(!psic::x25519_unwrap(low, r.secret));
}
