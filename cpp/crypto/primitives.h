// The cryptographic primitives psic uses, all from OpenSSL's libcrypto (never hand-written):
// HKDF-SHA256 (RFC 5869), HMAC-SHA256 (RFC 2104), a constant-time comparison and the operating
// system's random bytes. Failures inside OpenSSL throw psic::Error.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace psic {

using Bytes = std::vector<uint8_t>;

// HKDF-SHA256: extract with salt, expand with info to length bytes (at most 255 * 32).
Bytes hkdf_sha256(const Bytes& ikm, const Bytes& salt, const std::string& info, size_t length);

std::array<uint8_t, 32> hmac_sha256(const Bytes& key, const uint8_t* data, size_t size);

// True when the n bytes of a and b are equal, in time that does not depend on where they differ.
bool constant_time_equal(const uint8_t* a, const uint8_t* b, size_t n);

// n bytes from the operating system's CSPRNG (through OpenSSL's RAND_bytes).
Bytes random_bytes(size_t n);

// Lower-case hex of bytes.
std::string to_hex_string(const Bytes& bytes);
// Hex digits (either case) to bytes; throws InputError on odd length or a non-hex digit.
Bytes from_hex(const std::string& hex);

}  // namespace psic
