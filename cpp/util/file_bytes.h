// Reads a whole model or weight file: a regular file (a FIFO, a device or a folder is an
// IoError, and opening never blocks on a FIFO) of at most kMaxModelFileBytes (FormatError
// beyond: no model file is that large, and nothing is allocated or read first). A file that
// cannot be opened (missing, no permission) is a WeightsError, as model files always were.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace psic {

// 4 GiB: far above any model this library loads (ViT-B/32 CLIP is ~600 MB).
constexpr uint64_t kMaxModelFileBytes = uint64_t{4} << 30;

std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace psic
