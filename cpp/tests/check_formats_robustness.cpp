// Robustness of the checkpoint reader: truncated and mutated fixture checkpoints, mutated pickles
// behind a valid CRC, and hand-built hostile pickles load or throw psic::Error, never crash.
#include <ATen/ATen.h>
#include <sys/stat.h>

#include <fstream>

#include <random>
#include <string>

#include "check.h"
#include "errors.h"
#include "formats/safetensors.h"
#include "formats/torch_checkpoint.h"
#include "util/file_bytes.h"
#include "formats_check_builders.h"
#include "formats_check_support.h"

using namespace psic_formats_check;


// =============================================================================================
// Robustness: truncated and mutated checkpoints

PSIC_CHECK_CASE("formats: truncated or mutated fixture checkpoints load or throw psic::Error") {
  PSIC_NEEDS_SHARED();
  const Bytes original = read_bytes(fixtures() / "tiny-N16-M24.pth.tar");
  EXPECT(!original.empty());
  if (original.empty()) return;
  std::mt19937_64 rng(20240601);
  // Whole-file damage: most is caught by the zip structure or a CRC.
  const size_t truncations = survive_all(ctx_, 200, 3.0, "truncation", [&](size_t) {
    const size_t n = rng() % original.size();
    psic::read_torch_checkpoint(original.data(), n);
  });
  Bytes mutated = original;
  const size_t mutations = survive_all(ctx_, 2000, 6.0, "mutation", [&](size_t) {
    const size_t at = rng() % mutated.size();
    const uint8_t old = mutated[at];
    mutated[at] = static_cast<uint8_t>(rng() % 255 + 1) ^ old;  // always a different byte
    try {
      psic::read_torch_checkpoint(mutated.data(), mutated.size());
    } catch (...) {
      mutated[at] = old;
      throw;
    }
    mutated[at] = old;
  });
  EXPECT_MSG(truncations >= 100 && mutations >= 500,
             "ran " + std::to_string(truncations) + " truncations and " + std::to_string(mutations) + " mutations in time");
}

PSIC_CHECK_CASE("formats: mutated data.pkl with a valid CRC loads or throws psic::Error") {
  PSIC_NEEDS_SHARED();
  // Mutations that get past the CRC reach the pickle interpreter and the tensor geometry checks.
  ZipBuilder zip = builder_from(read_bytes(fixtures() / "tiny-N16-M24.pth.tar"));
  size_t pkl = 0;
  while (pkl < zip.items.size() && !contains(zip.items[pkl].name, "data.pkl")) ++pkl;
  EXPECT(pkl < zip.items.size());
  if (pkl >= zip.items.size()) return;
  const Bytes pickle = zip.items[pkl].data;
  std::mt19937_64 rng(77);
  size_t loaded = 0;
  const size_t mutations = survive_all(ctx_, 2000, 6.0, "pickle mutation", [&](size_t i) {
    Bytes p = pickle;
    const int changes = 1 + int(i % 3);
    for (int k = 0; k < changes; ++k) p[rng() % p.size()] = static_cast<uint8_t>(rng());
    if (i % 10 == 0) p.resize(rng() % p.size());  // and some truncations
    zip.replace(pkl, std::move(p));
    const Bytes file = zip.build();
    psic::read_torch_checkpoint(file.data(), file.size());
    ++loaded;
  });
  EXPECT_MSG(mutations >= 500, "ran " + std::to_string(mutations) + " pickle mutations in time");
  EXPECT_MSG(loaded < mutations, std::to_string(loaded) + " of " + std::to_string(mutations) + " mutated pickles loaded");
}

PSIC_CHECK_CASE("formats: hand-built hostile pickles are rejected without crashing") {
  const Bytes six = floats({0, 1, 2, 3, 4, 5});
  auto load_pickle = [&](const Bytes& pickle) {
    const Bytes file = make_checkpoint(pickle, {{"0", six}});
    return psic::read_torch_checkpoint(file.data(), file.size());
  };
  // Deep nesting: 100,000 nested lists (no recursion anywhere, so no stack overflow).
  {
    PickleWriter p;
    p.proto();
    for (int i = 0; i < 100000; ++i) p.op(']');
    for (int i = 0; i < 99999; ++i) p.op('a');
    p.stop();
    EXPECT_THROWS_AS(load_pickle(p.b), psic::FormatError);  // a list, not a dict
  }
  // A list that contains itself.
  {
    PickleWriter p;
    p.proto().op('}').op('q').op(0).str("x").op('h').op(0).op('s').stop();
    EXPECT(load_pickle(p.b).empty());
  }
  // One storage viewed a million times through memoized arguments: bounded by the byte budget.
  {
    PickleWriter p;
    p.proto().op('}').mark();
    p.str("t").tensor("FloatStorage", "0", 6, 0, {6}, {1});
    for (int i = 0; i < 20000; ++i) {
      p.str("t" + std::to_string(i));
      p.global("torch._utils", "_rebuild_tensor_v2").mark();
      p.mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(6).tuple().op('Q');
      p.integer(0).ints({1 << 20}).ints({0}).op(0x89).op(')').tuple().op('R');
    }
    p.op('u').stop();
    EXPECT_THROWS_AS(load_pickle(p.b), psic::FormatError);
  }
  // Stack and memo misuse, bad marks, truncated text.
  for (const std::string& s : {std::string("\x80\x02."), std::string("\x80\x02h\x05."), std::string("\x80\x02(t0."),
                               std::string("\x80\x02)u."), std::string("\x80\x02}a."), std::string("\x80\x02" "cfoo"),
                               std::string("\x80\x02" "1."), std::string("\x80\x02\x8b\xff\xff\xff\xff"),
                               std::string("\x80\x09}."), std::string("\x80\x02K\x01K\x02R.")}) {
    EXPECT_THROWS_AS(load_pickle(Bytes(s.begin(), s.end())), psic::FormatError);
  }
}

PSIC_CHECK_CASE("formats: model files are regular files under the size cap (no FIFO, no device)") {
  TempDir dir;
  // A FIFO with no writer: refused at once (opening it must not block), an IoError.
  const fs::path fifo = dir.path / "model.fifo";
  EXPECT(::mkfifo(fifo.c_str(), 0600) == 0);
  EXPECT_THROWS_AS(psic::read_file_bytes(fifo.string()), psic::IoError);
  EXPECT_THROWS_AS(psic::read_safetensors(fifo.string()), psic::IoError);
  const std::string m = error_message([&] { psic::read_file_bytes(fifo.string()); });
  EXPECT_MSG(contains(m, "not a regular file") && contains(m, "model.fifo"), m);
  // A device that never ends.
  EXPECT_THROWS_AS(psic::read_torch_checkpoint(std::string("/dev/zero")), psic::IoError);
  // A (sparse) file over the cap: refused before anything is allocated or read.
  const fs::path huge = dir.path / "huge.safetensors";
  { std::ofstream(huge.string()).put('x'); }
  fs::resize_file(huge, psic::kMaxModelFileBytes + 1);
  EXPECT_THROWS_AS(psic::read_file_bytes(huge.string()), psic::FormatError);
  const std::string big = error_message([&] { psic::read_file_bytes(huge.string()); });
  EXPECT_MSG(contains(big, "over the limit"), big);
  // A regular file is read whole.
  const fs::path small = dir.path / "small.bin";
  { std::ofstream(small.string(), std::ios::binary) << "abc"; }
  EXPECT(psic::read_file_bytes(small.string()) == std::vector<uint8_t>({'a', 'b', 'c'}));
}
