// Files appear complete or not at all: write a temp file beside the target, fsync, rename.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace psic {

void write_file_atomic(const std::string& path, const uint8_t* data, size_t size);

}  // namespace psic
