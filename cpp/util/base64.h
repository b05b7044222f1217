// Standard base64 decoding (TF.js graph attributes, test vectors); invalid characters are skipped.
#pragma once
#include <string>

namespace psic {

std::string base64_decode(const std::string& text);

}  // namespace psic
