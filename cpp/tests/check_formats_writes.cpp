// Checks of atomic file writes (util/atomic_file.h).
#include <filesystem>
#include <string>

#include "check.h"
#include "errors.h"
#include "formats_check_support.h"
#include "util/atomic_file.h"

using namespace psic_formats_check;


// =============================================================================================
// Atomic writes

PSIC_CHECK_CASE("formats: write_file_atomic replaces files whole and leaves no temp file") {
  TempDir dir;
  const fs::path path = dir.path / "out.bin";
  const Bytes first(1000, 1), second(10, 2);
  psic::write_file_atomic(path.string(), first.data(), first.size());
  EXPECT(read_bytes(path) == first);
  psic::write_file_atomic(path.string(), second.data(), second.size());
  EXPECT(read_bytes(path) == second);
  psic::write_file_atomic(path.string(), nullptr, 0);
  EXPECT(fs::file_size(path) == 0);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) files += e.is_regular_file();
  EXPECT_MSG(files == 1, std::to_string(files) + " files in the directory");
  EXPECT_THROWS_AS(psic::write_file_atomic((dir.path / "missing" / "x.bin").string(), first.data(), first.size()), psic::Error);
  // Renaming onto a directory fails: the temp file is removed again.
  fs::create_directories(dir.path / "taken");
  fs::create_directories(dir.path / "taken" / "child");
  EXPECT_THROWS_AS(psic::write_file_atomic((dir.path / "taken").string(), first.data(), first.size()), psic::Error);
  files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) files += e.is_regular_file();
  EXPECT_MSG(files == 1, std::to_string(files) + " files after a failed write");
}
