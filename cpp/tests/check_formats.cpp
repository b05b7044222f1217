// Checks of the file formats, in five parts that run in this order:
//   check_formats.cpp             SHA-256 and CRC-32 (this file)
//   check_formats_checkpoints.cpp PyTorch zip checkpoints: the real CompressAI fixtures, then
//                                 hand-built ones that exercise each rule and error
//   check_formats_robustness.cpp  truncated, mutated or hostile checkpoints load or throw
//                                 psic::Error, never crash
//   check_formats_safetensors.cpp safetensors: round trips, order, malformed and fuzzed files
//   check_formats_writes.cpp      atomic writes
// Their shared helpers: formats_check_support.h (files, hashes, errors, the bounded fuzzing loop,
// a scratch directory) and formats_check_builders.h (zip and pickle writers for hand-made
// checkpoints).
#include <algorithm>
#include <string>

#include "check.h"
#include "formats_check_support.h"
#include "util/crc32.h"
#include "util/sha256.h"

using namespace psic_formats_check;

// =============================================================================================
// SHA-256 and CRC-32

PSIC_CHECK_CASE("formats: sha256 of the FIPS 180-4 test vectors") {
  EXPECT(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a', fed in uneven pieces to exercise the buffering.
  const std::string million(1000000, 'a');
  psic::Sha256 h;
  size_t fed = 0, piece = 1;
  while (fed < million.size()) {
    const size_t n = std::min(piece, million.size() - fed);
    h.update(million.data() + fed, n);
    fed += n;
    piece = piece * 3 % 1000 + 1;
  }
  const auto d = h.digest();
  EXPECT(psic::to_hex(d.data(), d.size()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT(sha256_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // digest() does not disturb the running state.
  psic::Sha256 twice;
  twice.update("ab", 2);
  (void)twice.digest();
  twice.update("c", 1);
  const auto d2 = twice.digest();
  EXPECT(psic::to_hex(d2.data(), d2.size()) == sha256_hex("abc"));
  // Lengths around the padding boundary (55, 56, 64 bytes) agree with one-shot hashing.
  for (size_t n : {55, 56, 63, 64, 65, 119, 120}) {
    const std::string s(n, 'x');
    psic::Sha256 split;
    split.update(s.data(), n / 2);
    split.update(s.data() + n / 2, n - n / 2);
    const auto ds = split.digest();
    EXPECT_MSG(psic::to_hex(ds.data(), ds.size()) == sha256_hex(s), "split at length " + std::to_string(n));
  }
  const uint8_t raw[] = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT(psic::to_hex(raw, 4) == "000fa5ff");
}

PSIC_CHECK_CASE("formats: crc32 check value and incremental updates") {
  const std::string check = "123456789";
  EXPECT(psic::crc32_update(0, check.data(), check.size()) == 0xCBF43926u);
  EXPECT(psic::crc32_update(0, nullptr, 0) == 0);
  const std::string text = "The quick brown fox jumps over the lazy dog";
  EXPECT(psic::crc32_update(0, text.data(), text.size()) == 0x414FA339u);
  for (size_t split = 0; split <= text.size(); ++split) {
    const uint32_t crc = psic::crc32_update(psic::crc32_update(0, text.data(), split), text.data() + split, text.size() - split);
    EXPECT_MSG(crc == 0x414FA339u, "split at " + std::to_string(split));
  }
}
