// Reads a whole regular file. Throws WeightsError when it cannot be opened or read (model and
// weight files are what this reads).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace psic {

std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace psic
