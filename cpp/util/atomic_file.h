// Files appear complete or not at all: a crash or a full disk never leaves a half-written model
// file under the target name. Write a temp file beside the target, fsync it, rename it over.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace psic {

// Writes `path` + ".tmp-<pid>-<random>", fsyncs it, renames it to `path` (then fsyncs the
// directory, best effort). On failure removes the temp file and throws psic::Error.
void write_file_atomic(const std::string& path, const uint8_t* data, size_t size);

}  // namespace psic
