// Checks of the file formats: SHA-256, CRC-32, PyTorch zip checkpoints (the real CompressAI
// fixtures and hand-built ones that exercise each rule and error), safetensors, atomic writes,
// and robustness: truncated, mutated or foreign files load or throw psic::Error, never crash.
#include <ATen/ATen.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "check.h"
#include "errors.h"
#include "formats/safetensors.h"
#include "formats/torch_checkpoint.h"
#include "formats/zip_archive.h"
#include "util/atomic_file.h"
#include "util/crc32.h"
#include "util/file_bytes.h"
#include "util/sha256.h"

namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------------------------
// Helpers

fs::path fixtures() { return fs::path(psic_test::shared_dir()) / "fixtures" / "compressai-hyperprior"; }

Bytes read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::string sha256_hex(const void* data, size_t size) {
  psic::Sha256 h;
  h.update(data, size);
  const auto d = h.digest();
  return psic::to_hex(d.data(), d.size());
}

std::string sha256_hex(const std::string& s) { return sha256_hex(s.data(), s.size()); }

uint32_t crc32_of(const Bytes& b) { return psic::crc32_update(0, b.data(), b.size()); }

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// The message of the psic::Error an expression throws ("" if it throws none).
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const psic::Error& e) {
    return e.what();
  }
  return "";
}

// The names numpy/torch print for dtypes, as checkpoint-keys.txt uses them.
std::string python_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(t);
  }
}

std::string shape_text(at::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

// checkpoint-keys.txt: "# <file>: N keys (...)" headers, then "name<TAB>dtype<TAB>[shape]" lines.
std::map<std::string, std::vector<std::string>> parse_keys_file(const fs::path& path) {
  std::map<std::string, std::vector<std::string>> out;
  std::ifstream f(path);
  std::string line, current;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    if (line.rfind("# ", 0) == 0) {
      current = line.substr(2, line.find(':') - 2);
      continue;
    }
    out[current].push_back(line);
  }
  return out;
}

std::vector<std::string> describe(const psic::NamedTensors& tensors) {
  std::vector<std::string> lines;
  for (const auto& [name, t] : tensors) lines.push_back(name + "\t" + python_dtype(t.scalar_type()) + "\t" + shape_text(t.sizes()));
  return lines;
}

// Old CompressAI names of the EntropyBottleneck parameters -> the current ones.
std::string remap_legacy_key(const std::string& key) {
  static const std::pair<const char*, const char*> kMap[] = {{"._matrix", ".matrices."}, {"._bias", ".biases."}, {"._factor", ".factors."}};
  for (const auto& [old_name, new_name] : kMap) {
    const size_t at = key.find(old_name);
    if (at == std::string::npos) continue;
    const std::string digits = key.substr(at + std::strlen(old_name));
    if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos)
      return key.substr(0, at) + new_name + digits;
  }
  return key;
}

// Runs f on each input; any outcome but success or a psic::Error is recorded. Stops early when
// the time budget is spent, so the whole loop stays bounded (returns how many ran).
template <typename F>
size_t survive_all(psic_test::Context& ctx_, size_t count, double seconds, const char* what, F&& f) {
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

// ---------------------------------------------------------------------------------------------
// Builders for hand-made checkpoints

void put16(Bytes& b, uint32_t v) {
  b.push_back(uint8_t(v));
  b.push_back(uint8_t(v >> 8));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, v & 0xFFFF);
  put16(b, v >> 16);
}
void put64(Bytes& b, uint64_t v) {
  put32(b, uint32_t(v));
  put32(b, uint32_t(v >> 32));
}
void put_text(Bytes& b, const std::string& s) { b.insert(b.end(), s.begin(), s.end()); }

// A zip writer for STORED entries, like PyTorch's (zip64 end records included).
struct ZipBuilder {
  struct Item {
    std::string name;
    Bytes data;
    uint16_t method = 0;
    uint16_t local_extra = 0;  // padding bytes in the local header (shifts the data's alignment)
    uint32_t crc = 0;
  };
  std::vector<Item> items;
  bool zip64_extra = false;  // record sizes and offsets in zip64 extra fields

  ZipBuilder& add(const std::string& name, Bytes data, uint16_t method = 0, uint16_t local_extra = 0) {
    const uint32_t crc = crc32_of(data);
    items.push_back({name, std::move(data), method, local_extra, crc});
    return *this;
  }
  ZipBuilder& add(const std::string& name, const std::string& text) { return add(name, Bytes(text.begin(), text.end())); }
  void replace(size_t i, Bytes data) {
    items[i].crc = crc32_of(data);
    items[i].data = std::move(data);
  }

  Bytes build() const {
    Bytes out;
    std::vector<uint64_t> offsets;
    for (const Item& it : items) {
      offsets.push_back(out.size());
      put32(out, 0x04034b50);
      put16(out, 20);
      put16(out, 0);
      put16(out, it.method);
      put32(out, 0);  // time, date
      put32(out, it.crc);
      put32(out, uint32_t(it.data.size()));
      put32(out, uint32_t(it.data.size()));
      put16(out, uint32_t(it.name.size()));
      put16(out, it.local_extra);
      put_text(out, it.name);
      out.insert(out.end(), it.local_extra, 0);
      out.insert(out.end(), it.data.begin(), it.data.end());
    }
    const uint64_t directory = out.size();
    for (size_t i = 0; i < items.size(); ++i) {
      const Item& it = items[i];
      put32(out, 0x02014b50);
      put16(out, 45);
      put16(out, 45);
      put16(out, 0);
      put16(out, it.method);
      put32(out, 0);
      put32(out, it.crc);
      const uint32_t size32 = zip64_extra ? 0xFFFFFFFFu : uint32_t(it.data.size());
      put32(out, size32);
      put32(out, size32);
      put16(out, uint32_t(it.name.size()));
      put16(out, zip64_extra ? 28 : 0);
      put16(out, 0);  // comment
      put16(out, 0);
      put16(out, 0);
      put32(out, 0);
      put32(out, zip64_extra ? 0xFFFFFFFFu : uint32_t(offsets[i]));
      put_text(out, it.name);
      if (zip64_extra) {
        put16(out, 1);
        put16(out, 24);
        put64(out, it.data.size());
        put64(out, it.data.size());
        put64(out, offsets[i]);
      }
    }
    const uint64_t directory_size = out.size() - directory;
    const uint64_t end64 = out.size();
    put32(out, 0x06064b50);
    put64(out, 44);
    put16(out, 45);
    put16(out, 45);
    put32(out, 0);
    put32(out, 0);
    put64(out, items.size());
    put64(out, items.size());
    put64(out, directory_size);
    put64(out, directory);
    put32(out, 0x07064b50);
    put32(out, 0);
    put64(out, end64);
    put32(out, 1);
    put32(out, 0x06054b50);
    put16(out, 0);
    put16(out, 0);
    put16(out, uint32_t(items.size()));
    put16(out, uint32_t(items.size()));
    put32(out, uint32_t(directory_size));
    put32(out, uint32_t(directory));
    put16(out, 0);
    return out;
  }
};

// Emits protocol-2 pickle opcodes, as Python's pickler would for a state_dict.
struct PickleWriter {
  Bytes b;
  PickleWriter& op(uint8_t c) {
    b.push_back(c);
    return *this;
  }
  PickleWriter& proto() { return op(0x80).op(2); }
  PickleWriter& global(const std::string& module, const std::string& name) {
    op('c');
    put_text(b, module + "\n" + name + "\n");
    return *this;
  }
  PickleWriter& str(const std::string& s) {
    op('X');
    put32(b, uint32_t(s.size()));
    put_text(b, s);
    return *this;
  }
  PickleWriter& integer(int64_t v) {
    if (v >= 0 && v < 256) return op('K').op(uint8_t(v));
    if (v >= 0 && v < 65536) {
      op('M');
      put16(b, uint32_t(v));
      return *this;
    }
    op(0x8a).op(8);
    put64(b, uint64_t(v));
    return *this;
  }
  PickleWriter& number(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    op('G');
    for (int i = 7; i >= 0; --i) b.push_back(uint8_t(bits >> (8 * i)));
    return *this;
  }
  PickleWriter& mark() { return op('('); }
  PickleWriter& tuple() { return op('t'); }
  PickleWriter& ints(const std::vector<int64_t>& v) {
    mark();
    for (int64_t x : v) integer(x);
    return tuple();
  }
  PickleWriter& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
  // torch._utils._rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())
  PickleWriter& tensor(const std::string& storage_type, const std::string& key, int64_t numel, int64_t offset,
                       const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel).tuple().op('Q');
    integer(offset).ints(sizes).ints(strides).op(0x89).ordered_dict();
    return tuple().op('R');
  }
  // torch._utils._rebuild_parameter(<tensor>, True, OrderedDict())
  PickleWriter& parameter_begin() { return global("torch._utils", "_rebuild_parameter").mark(); }
  PickleWriter& parameter_end() { return op(0x88).ordered_dict().tuple().op('R'); }
  PickleWriter& stop() { return op('.'); }
};

Bytes floats(const std::vector<float>& v) {
  Bytes b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

Bytes int64s(const std::vector<int64_t>& v) {
  Bytes b(v.size() * 8);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A checkpoint whose data.pkl is `pickle` and whose storages are `storages` (key -> bytes).
Bytes make_checkpoint(const Bytes& pickle, const std::map<std::string, Bytes>& storages, bool zip64_extra = false,
                      uint16_t misalign = 0) {
  ZipBuilder zip;
  zip.zip64_extra = zip64_extra;
  zip.add("archive/data.pkl", pickle);
  for (const auto& [key, bytes] : storages) zip.add("archive/data/" + key, bytes, 0, misalign);
  zip.add("archive/version", "3\n");
  return zip.build();
}

// {"a": float tensor [2, 3] = 0..5} with the OrderedDict's _metadata state, as nn.Module writes it.
Bytes simple_pickle(const std::string& storage_type = "FloatStorage", int64_t numel = 6,
                    const std::vector<int64_t>& sizes = {2, 3}, const std::vector<int64_t>& strides = {3, 1},
                    int64_t offset = 0) {
  PickleWriter p;
  p.proto().ordered_dict().op('q').op(0).mark();
  p.str("a").tensor(storage_type, "0", numel, offset, sizes, strides);
  p.op('u');
  p.ordered_dict().mark().str("").op('}').str("version").integer(1).op('s').op('u').op('b');  // BUILD with _metadata
  return p.stop().b;
}

Bytes simple_checkpoint() { return make_checkpoint(simple_pickle(), {{"0", floats({0, 1, 2, 3, 4, 5})}}); }

// A builder holding the entries of an existing zip, to rebuild it with one entry changed
// (and its CRC recomputed).
ZipBuilder builder_from(const Bytes& zip_bytes) {
  psic::ZipArchive zip(zip_bytes.data(), zip_bytes.size());
  ZipBuilder out;
  for (const psic::ZipEntry& e : zip.entries()) {
    const auto bytes = zip.read(e.name);
    out.add(e.name, Bytes(bytes.data, bytes.data + bytes.size));
  }
  return out;
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

}  // namespace

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

// =============================================================================================
// PyTorch checkpoints: the CompressAI fixtures

PSIC_CHECK_CASE("formats: torch checkpoints of the fixtures have the keys, dtypes and shapes of checkpoint-keys.txt") {
  PSIC_NEEDS_SHARED();
  const auto expected = parse_keys_file(fixtures() / "checkpoint-keys.txt");
  for (const char* file : {"tiny-N16-M24.pth.tar", "tiny-N16-M24.legacy-keys.pth.tar", "hyperprior-N128-M192.pth.tar"}) {
    const auto it = expected.find(file);
    EXPECT_MSG(it != expected.end() && it->second.size() == 91, std::string("checkpoint-keys.txt lists 91 keys of ") + file);
    if (it == expected.end()) continue;
    const psic::NamedTensors tensors = psic::read_torch_checkpoint((fixtures() / file).string());
    EXPECT_MSG(tensors.size() == 91, std::string(file) + ": " + std::to_string(tensors.size()) + " tensors");
    const std::vector<std::string> got = describe(tensors);
    for (size_t i = 0; i < std::max(got.size(), it->second.size()); ++i) {
      const std::string g = i < got.size() ? got[i] : "(none)", e = i < it->second.size() ? it->second[i] : "(none)";
      EXPECT_MSG(g == e, std::string(file) + " entry " + std::to_string(i) + ": got '" + g + "', expected '" + e + "'");
      if (g != e) break;
    }
    for (const auto& [name, t] : tensors) EXPECT_MSG(t.is_contiguous() && t.device().is_cpu(), name + " is a contiguous CPU tensor");
  }
}

PSIC_CHECK_CASE("formats: the legacy-keys checkpoint holds the same tensors under the old names") {
  PSIC_NEEDS_SHARED();
  const auto current = psic::read_torch_checkpoint((fixtures() / "tiny-N16-M24.pth.tar").string());
  const auto legacy = psic::read_torch_checkpoint((fixtures() / "tiny-N16-M24.legacy-keys.pth.tar").string());
  std::map<std::string, at::Tensor> by_name(current.begin(), current.end());
  EXPECT(legacy.size() == current.size());
  size_t renamed = 0;
  for (const auto& [name, t] : legacy) {
    const std::string mapped = remap_legacy_key(name);
    if (mapped != name) ++renamed;
    auto it = by_name.find(mapped);
    EXPECT_MSG(it != by_name.end(), name + " -> " + mapped + " is in the current checkpoint");
    if (it == by_name.end()) continue;
    EXPECT_MSG(it->second.scalar_type() == t.scalar_type() && it->second.sizes() == t.sizes() && at::equal(it->second, t),
               name + " equals " + mapped);
  }
  EXPECT_MSG(renamed == 14, std::to_string(renamed) + " renamed keys (5 matrices, 5 biases, 4 factors)");
}

PSIC_CHECK_CASE("formats: a fixture checkpoint's tensor values match its stored bytes") {
  PSIC_NEEDS_SHARED();
  // CompressAI: EntropyBottleneck.target = [-t, 0, t] with t = log(2 / tail_mass - 1), tail_mass 1e-9;
  // GaussianConditional.scale_bound = 0.11 (README of the fixtures).
  const auto tensors = psic::read_torch_checkpoint((fixtures() / "tiny-N16-M24.pth.tar").string());
  std::map<std::string, at::Tensor> m(tensors.begin(), tensors.end());
  const float t = static_cast<float>(std::log(2.0 / 1e-9 - 1.0));
  EXPECT(m.count("entropy_bottleneck.target") &&
         at::allclose(m["entropy_bottleneck.target"], at::tensor({-t, 0.0f, t}), 0, 1e-5));
  EXPECT(m.count("gaussian_conditional.scale_bound") &&
         std::abs(m["gaussian_conditional.scale_bound"].item<float>() - 0.11f) < 1e-7f);
}

// =============================================================================================
// PyTorch checkpoints: hand-built ones, one rule at a time

PSIC_CHECK_CASE("formats: torch checkpoint with a training wrapper, module. prefix, parameters, views and non-tensors") {
  PickleWriter p;
  p.proto().op('}').mark();
  p.str("epoch").integer(7);
  p.str("state_dict").ordered_dict().mark();
  p.str("module.a").tensor("FloatStorage", "0", 12, 0, {3, 4}, {4, 1});
  p.str("module.b").tensor("FloatStorage", "0", 12, 1, {2, 2}, {1, 4});  // a strided view of the same storage
  p.str("module.c").parameter_begin().tensor("LongStorage", "1", 3, 0, {3}, {1}).parameter_end();
  p.str("module.scalar").tensor("FloatStorage", "0", 12, 11, {}, {});
  p.str("module.lr").number(0.5);
  p.str("module.note").str("not a tensor");
  p.str("module.empty").tensor("FloatStorage", "0", 12, 0, {0, 5}, {5, 1});
  p.op('u');
  p.ordered_dict().mark().str("").op('}').str("version").integer(1).op('s').op('u').op('b');  // _metadata
  p.str("optimizer").op('}');
  p.op('u').stop();
  std::vector<float> values(12);
  for (int i = 0; i < 12; ++i) values[i] = float(i);
  Bytes file = make_checkpoint(p.b, {{"0", floats(values)}, {"1", int64s({5, -6, 1LL << 40})}});

  const psic::NamedTensors t = psic::read_torch_checkpoint(file.data(), file.size());
  std::vector<std::string> names;
  for (const auto& kv : t) names.push_back(kv.first);
  EXPECT((names == std::vector<std::string>{"a", "b", "c", "scalar", "empty"}));
  if (t.size() != 5) return;
  EXPECT(at::equal(t[0].second, at::arange(12, at::kFloat).view({3, 4})));
  EXPECT(at::equal(t[1].second, at::tensor({1.0f, 5.0f, 2.0f, 6.0f}).view({2, 2})));
  EXPECT(t[1].second.is_contiguous());
  EXPECT(t[2].second.scalar_type() == at::kLong && at::equal(t[2].second, at::tensor({int64_t(5), int64_t(-6), int64_t(1) << 40})));
  EXPECT(t[3].second.dim() == 0 && t[3].second.item<float>() == 11.0f);
  EXPECT(t[4].second.sizes() == at::IntArrayRef({0, 5}));
  // The tensors own their memory: the file's bytes can go.
  std::fill(file.begin(), file.end(), 0xEE);
  EXPECT(at::equal(t[0].second, at::arange(12, at::kFloat).view({3, 4})));
}

PSIC_CHECK_CASE("formats: torch checkpoint with a \"model\" wrapper and every storage dtype") {
  struct Kind {
    const char* storage;
    at::ScalarType dtype;
    Bytes bytes;  // two elements
  };
  const std::vector<Kind> kinds = {
      {"FloatStorage", at::kFloat, floats({1.5f, -2.0f})},
      {"DoubleStorage", at::kDouble, {0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0}},  // 1.5, -2
      {"HalfStorage", at::kHalf, {0x00, 0x3e, 0x00, 0xc0}},                                       // 1.5, -2
      {"BFloat16Storage", at::kBFloat16, {0xc0, 0x3f, 0x00, 0xc0}},                               // 1.5, -2
      {"LongStorage", at::kLong, int64s({3, -4})},
      {"IntStorage", at::kInt, {3, 0, 0, 0, 0xfc, 0xff, 0xff, 0xff}},
      {"ShortStorage", at::kShort, {3, 0, 0xfc, 0xff}},
      {"CharStorage", at::kChar, {3, 0xfc}},
      {"ByteStorage", at::kByte, {3, 252}},
      {"BoolStorage", at::kBool, {1, 0}},
  };
  PickleWriter p;
  p.proto().op('}').mark().str("model").op('}').mark();
  std::map<std::string, Bytes> storages;
  for (size_t i = 0; i < kinds.size(); ++i) {
    p.str(kinds[i].storage).tensor(kinds[i].storage, std::to_string(i), 2, 0, {2}, {1});
    storages[std::to_string(i)] = kinds[i].bytes;
  }
  p.op('u').op('u').stop();
  for (bool zip64 : {false, true}) {
    for (uint16_t misalign : {0, 3}) {  // misaligned storages are copied before use
      const Bytes file = make_checkpoint(p.b, storages, zip64, misalign);
      const psic::NamedTensors t = psic::read_torch_checkpoint(file.data(), file.size());
      EXPECT(t.size() == kinds.size());
      for (size_t i = 0; i < t.size() && i < kinds.size(); ++i) {
        const at::Tensor& x = t[i].second;
        EXPECT_MSG(t[i].first == kinds[i].storage && x.scalar_type() == kinds[i].dtype && x.sizes() == at::IntArrayRef({2}),
                   std::string(kinds[i].storage) + " has dtype " + c10::toString(x.scalar_type()));
        if (x.scalar_type() != kinds[i].dtype || x.numel() != 2) continue;
        const at::Tensor d = x.to(at::kDouble);
        const double a = d[0].item<double>(), b = d[1].item<double>();
        const bool floating = at::isFloatingType(kinds[i].dtype);
        const bool ok = kinds[i].dtype == at::kBool  ? (a == 1 && b == 0)
                        : kinds[i].dtype == at::kByte ? (a == 3 && b == 252)
                        : floating                    ? (a == 1.5 && b == -2)
                                                      : (a == 3 && b == -4);
        EXPECT_MSG(ok, std::string(kinds[i].storage) + " values " + std::to_string(a) + ", " + std::to_string(b) +
                           (zip64 ? " (zip64)" : "") + (misalign ? " (misaligned)" : ""));
      }
    }
  }
}

PSIC_CHECK_CASE("formats: torch checkpoint rejects each kind of corruption with a FormatError") {
  const Bytes good = simple_checkpoint();
  const auto loaded = psic::read_torch_checkpoint(good.data(), good.size());
  EXPECT(loaded.size() == 1 && at::equal(loaded[0].second, at::arange(6, at::kFloat).view({2, 3})));

  auto load = [](const Bytes& b) { return psic::read_torch_checkpoint(b.data(), b.size()); };
  auto message = [&](const Bytes& b) { return error_message([&] { load(b); }); };

  // A compressed entry is named.
  {
    ZipBuilder zip;
    zip.add("archive/data.pkl", simple_pickle()).add("archive/data/0", floats({0, 1, 2, 3, 4, 5}), 8);
    const std::string m = message(zip.build());
    EXPECT_MSG(contains(m, "archive/data/0") && contains(m, "compressed"), m);
  }
  // A flipped data byte fails the CRC.
  {
    Bytes bad = good;
    const psic::ZipArchive zip(good.data(), good.size());
    bad[zip.find("archive/data/0")->data_offset + 5] ^= 0x40;
    const std::string m = message(bad);
    EXPECT_MSG(contains(m, "CRC-32") && contains(m, "archive/data/0"), m);
  }
  // Geometry outside the storage, absurd sizes, a storage declaring more than its entry holds.
  const Bytes six = floats({0, 1, 2, 3, 4, 5});
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle("FloatStorage", 6, {2, 3}, {3, 1}, 1), {{"0", six}})), psic::FormatError);
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle("FloatStorage", 6, {2, 4}, {3, 1}), {{"0", six}})), psic::FormatError);
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle("FloatStorage", 6, {2, 3}, {4, 1}), {{"0", six}})), psic::FormatError);
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle("FloatStorage", 6, {1LL << 40, 1LL << 40}, {0, 0}), {{"0", six}})), psic::FormatError);
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle("FloatStorage", 6, {1LL << 62, 8}, {0, 0}), {{"0", six}})), psic::FormatError);
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle("FloatStorage", 6, {2, -3}, {3, 1}), {{"0", six}})), psic::FormatError);
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle("FloatStorage", 6, {2, 3}, {3, -1}), {{"0", six}})), psic::FormatError);
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle("FloatStorage", 7, {2, 3}, {3, 1}), {{"0", six}})), psic::FormatError);
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle("DoubleStorage", 6, {2, 3}, {3, 1}), {{"0", six}})), psic::FormatError);
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle("ComplexFloatStorage", 3, {3}, {1}), {{"0", six}})), psic::FormatError);
  EXPECT_THROWS_AS(load(make_checkpoint(simple_pickle(), {{"1", six}})), psic::FormatError);  // missing storage entry
  // An unknown opcode is named in hex.
  {
    Bytes pickle = simple_pickle();
    pickle.insert(pickle.begin() + 2, 0xff);
    const std::string m = message(make_checkpoint(pickle, {{"0", six}}));
    EXPECT_MSG(contains(m, "0xff") && contains(m, "data.pkl"), m);
  }
  // Big-endian files are refused; so is an unknown byteorder.
  {
    ZipBuilder zip;
    zip.add("archive/data.pkl", simple_pickle()).add("archive/data/0", six).add("archive/byteorder", "big");
    EXPECT_MSG(contains(message(zip.build()), "big-endian"), message(zip.build()));
    zip.replace(zip.items.size() - 1, Bytes{'l', 'i', 't', 't', 'l', 'e'});
    EXPECT(load(zip.build()).size() == 1);
  }
  // The top level must be a dict.
  {
    PickleWriter p;
    p.proto().op(']').stop();
    EXPECT_MSG(contains(message(make_checkpoint(p.b, {})), "not a state_dict"), message(make_checkpoint(p.b, {})));
  }
  // Not a PyTorch zip checkpoint at all.
  EXPECT_MSG(contains(message(Bytes{}), "not a PyTorch zip checkpoint"), message(Bytes{}));
  const Bytes legacy = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
  const std::string legacy_message = message(legacy);
  EXPECT_MSG(contains(legacy_message, "not a PyTorch zip checkpoint") &&
                 contains(legacy_message, "legacy torch.save format (torch < 1.6): re-save it with torch >= 1.6"),
             legacy_message);
  {
    ZipBuilder zip;
    zip.add("readme.txt", "hello");
    EXPECT_MSG(contains(message(zip.build()), "not a PyTorch zip checkpoint"), message(zip.build()));
  }
  EXPECT_THROWS_AS(psic::read_torch_checkpoint(std::string("/nonexistent/psic/model.pth.tar")), psic::WeightsError);
  const std::string missing = error_message([] { psic::read_torch_checkpoint(std::string("/nonexistent/psic/model.pth.tar")); });
  EXPECT_MSG(contains(missing, "cannot open"), missing);
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

PSIC_CHECK_CASE("formats: a foreign file (a PNG) is a FormatError for both readers") {
  PSIC_NEEDS_SHARED();
  const fs::path png = fixtures() / "inputs" / "k15-64x64.png";
  EXPECT_THROWS_AS(psic::read_torch_checkpoint(png.string()), psic::FormatError);
  EXPECT_THROWS_AS(psic::read_safetensors(png.string()), psic::FormatError);
  const std::string m = error_message([&] { psic::read_torch_checkpoint(png.string()); });
  EXPECT_MSG(contains(m, "not a PyTorch zip checkpoint"), m);
  // A checkpoint is not a safetensors file either.
  EXPECT_THROWS_AS(psic::read_safetensors((fixtures() / "tiny-N16-M24.pth.tar").string()), psic::FormatError);
}

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

// =============================================================================================
// safetensors

namespace {

psic::NamedTensors sample_tensors() {
  psic::NamedTensors t;
  t.emplace_back("weights.f64", at::arange(6, at::kDouble).view({2, 3}) / 7.0);
  t.emplace_back("weights.f32", at::randn({3, 4, 5}, at::kFloat));
  t.emplace_back("weights.f16", at::randn({7}, at::kFloat).to(at::kHalf));
  t.emplace_back("weights.bf16", at::randn({2, 2}, at::kFloat).to(at::kBFloat16));
  t.emplace_back("index.i64", at::tensor({int64_t(-1), int64_t(1) << 50, int64_t(3)}));
  t.emplace_back("index.i32", at::arange(-5, 5, at::kInt));
  t.emplace_back("index.i16", at::arange(-3, 3, at::kShort).view({2, 3}));
  t.emplace_back("index.i8", at::tensor({-128, 0, 127}, at::kChar));
  t.emplace_back("index.u8", at::tensor({0, 200, 255}, at::kByte));
  t.emplace_back("mask", at::tensor({1, 0, 1, 1}, at::kByte).to(at::kBool));
  t.emplace_back("scalar", at::scalar_tensor(2.5, at::kFloat));                // 0-dim
  t.emplace_back("empty", at::empty({0, 3}, at::kFloat));                      // no bytes
  t.emplace_back("transposed", at::arange(12, at::kFloat).view({3, 4}).t());  // non-contiguous input
  return t;
}

std::string header_file(const std::string& json, const Bytes& data) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char(uint64_t(json.size()) >> (8 * i));
  return s + json + std::string(data.begin(), data.end());
}

psic::SafetensorsFile read_string(const std::string& s) {
  return psic::read_safetensors(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

PSIC_CHECK_CASE("formats: safetensors write then read round-trips every dtype, 0-dim and empty tensors, metadata") {
  at::manual_seed(3);
  const psic::NamedTensors tensors = sample_tensors();
  const std::map<std::string, std::string> metadata = {{"format", "psic"}, {"config", "{\"N\": 128}"}, {"note", "ünïcödé"}};
  const Bytes bytes = psic::write_safetensors(tensors, metadata);
  uint64_t header = 0;
  for (int i = 0; i < 8; ++i) header |= uint64_t(bytes[i]) << (8 * i);
  EXPECT_MSG(header % 8 == 0, "data starts 8-byte aligned (header " + std::to_string(header) + ")");

  TempDir dir;
  const fs::path path = dir.path / "model.safetensors";
  psic::write_file_atomic(path.string(), bytes.data(), bytes.size());
  const psic::SafetensorsFile back = psic::read_safetensors(path.string());
  EXPECT(back.metadata == metadata);
  EXPECT(back.tensors.size() == tensors.size());
  for (size_t i = 0; i < back.tensors.size() && i < tensors.size(); ++i) {
    const auto& [name, t] = back.tensors[i];
    EXPECT_MSG(name == tensors[i].first, "entry " + std::to_string(i) + " is " + name + ", expected " + tensors[i].first);
    EXPECT_MSG(t.scalar_type() == tensors[i].second.scalar_type() && t.sizes() == tensors[i].second.sizes() &&
                   at::equal(t, tensors[i].second.contiguous()),
               name + " round-trips");
  }
  // The same bytes parse the same from memory, and writing is deterministic.
  const psic::SafetensorsFile again = psic::read_safetensors(bytes.data(), bytes.size());
  EXPECT(again.tensors.size() == tensors.size());
  EXPECT(psic::write_safetensors(back.tensors, back.metadata) == bytes);
  // No metadata, no tensors: still a valid file.
  const Bytes none = psic::write_safetensors({}, {});
  const psic::SafetensorsFile nothing = psic::read_safetensors(none.data(), none.size());
  EXPECT(nothing.tensors.empty() && nothing.metadata.empty());
}

PSIC_CHECK_CASE("formats: safetensors tensors come back in data-offset order, whatever the header order") {
  const Bytes data = floats({1, 2, 3, 4});
  const std::string s = header_file(
      R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("c":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
      data);
  const psic::SafetensorsFile f = read_string(s);
  std::vector<std::string> names;
  for (const auto& kv : f.tensors) names.push_back(kv.first);
  EXPECT((names == std::vector<std::string>{"z", "a", "b", "c"}));
  if (f.tensors.size() == 4) EXPECT(at::equal(f.tensors[2].second, at::tensor({3.0f})));
}

PSIC_CHECK_CASE("formats: safetensors rejects malformed headers with a FormatError") {
  const Bytes data = floats({1, 2, 3, 4});
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";
  EXPECT(read_string(header_file("{" + ok_entry + "}", data)).tensors.size() == 1);
  const std::vector<std::string> bad_headers = {
      "not json",
      "[1, 2]",
      R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,20]}})",             // past the end
      R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})",             // wrong byte count
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})",                // begin > end
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      R"({"a":{"dtype":"C64","shape":[2],"data_offsets":[0,16]}})",               // unsupported dtype
      R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
      R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})",
      R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}})",
      R"({"a":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}})",
      R"({"a":{"dtype":"F32","shape":[2,2]}})",
      R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0]}})",
      R"({"a":[1,2,3]})",
      R"({"__metadata__":{"k":1}})",
      R"({"__metadata__":"text"})",
  };
  for (const std::string& h : bad_headers) {
    const std::string m = error_message([&] { read_string(header_file(h, data)); });
    EXPECT_MSG(!m.empty(), "accepted header " + h);
    EXPECT_THROWS_AS(read_string(header_file(h, data)), psic::FormatError);
  }
  // Header lengths beyond the file or beyond 100 MB; files too short for a length.
  std::string s = header_file("{}", {});
  s[0] = 100;
  EXPECT_THROWS_AS(read_string(s), psic::FormatError);
  std::string huge(8, '\0');
  huge[3] = 0x10;  // 256 MiB
  huge += std::string(16, ' ');
  EXPECT_THROWS_AS(read_string(huge), psic::FormatError);
  EXPECT_THROWS_AS(read_string("abc"), psic::FormatError);
  EXPECT_THROWS_AS(psic::read_safetensors(std::string("/nonexistent/psic/model.safetensors")), psic::WeightsError);
  // The writer refuses what it cannot represent.
  EXPECT_THROWS_AS(psic::write_safetensors({{"x", at::zeros({2})}, {"x", at::zeros({2})}}, {}), psic::Error);
  EXPECT_THROWS_AS(psic::write_safetensors({{"c", at::zeros({2}, at::kComplexFloat)}}, {}), psic::Error);
  EXPECT_THROWS_AS(psic::write_safetensors({{"__metadata__", at::zeros({2})}}, {}), psic::Error);
}

PSIC_CHECK_CASE("formats: truncated or mutated safetensors files load or throw psic::Error") {
  at::manual_seed(5);
  const Bytes original = psic::write_safetensors(sample_tensors(), {{"format", "psic"}, {"k", "v"}});
  uint64_t header = 0;
  for (int i = 0; i < 8; ++i) header |= uint64_t(original[i]) << (8 * i);
  std::mt19937_64 rng(99);
  const size_t truncations = survive_all(ctx_, 200, 2.0, "truncation", [&](size_t) {
    psic::read_safetensors(original.data(), rng() % original.size());
  });
  Bytes mutated = original;
  size_t loaded = 0;
  const size_t mutations = survive_all(ctx_, 2000, 4.0, "mutation", [&](size_t i) {
    // Mostly inside the length and JSON header, where the parsing happens.
    const size_t at = i % 4 == 0 ? rng() % mutated.size() : rng() % (8 + header);
    const uint8_t old = mutated[at];
    mutated[at] = static_cast<uint8_t>(rng() % 255 + 1) ^ old;
    try {
      psic::read_safetensors(mutated.data(), mutated.size());
      ++loaded;
    } catch (...) {
      mutated[at] = old;
      throw;
    }
    mutated[at] = old;
  });
  EXPECT_MSG(truncations == 200 && mutations == 2000,
             "ran " + std::to_string(truncations) + " truncations and " + std::to_string(mutations) + " mutations in time");
}

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
