// Shared by the check_formats*.cpp files: file, hash and error helpers, a bounded fuzzing loop
// and a scratch directory. Header-only (inline), without ATen.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "errors.h"
#include "util/crc32.h"
#include "util/sha256.h"

namespace psic_formats_check {

namespace fs = std::filesystem;

using Bytes = std::vector<uint8_t>;

// The CompressAI fixtures (shared/fixtures/compressai-hyperprior).
inline fs::path fixtures() { return fs::path(psic_test::shared_dir()) / "fixtures" / "compressai-hyperprior"; }

inline Bytes read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

inline std::string sha256_hex(const void* data, size_t size) {
  psic::Sha256 h;
  h.update(data, size);
  const auto d = h.digest();
  return psic::to_hex(d.data(), d.size());
}

inline std::string sha256_hex(const std::string& s) { return sha256_hex(s.data(), s.size()); }

inline uint32_t crc32_of(const Bytes& b) { return psic::crc32_update(0, b.data(), b.size()); }

inline bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// The message of the psic::Error an expression throws ("" if it throws none).
template <typename F>
inline std::string error_message(F&& f) {
  try {
    f();
  } catch (const psic::Error& e) {
    return e.what();
  }
  return "";
}

// Runs f on each input; any outcome but success or a psic::Error is recorded. Stops early when
// the time budget is spent, so the whole loop stays bounded (returns how many ran).
template <typename F>
inline size_t survive_all(psic_test::Context& ctx_, size_t count, double seconds, const char* what, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  size_t done = 0;
  for (; done < count; ++done) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds) break;
    try {
      f(done);
    } catch (const psic::Error&) {
    } catch (...) {
      EXPECT_MSG(false, std::string(what) + " #" + std::to_string(done) + ": " + psic_test::describe_current_exception());
      return done;
    }
  }
  return done;
}

// Scratch directory, removed at the end of the case.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("psic-check-formats-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device()()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace psic_formats_check
