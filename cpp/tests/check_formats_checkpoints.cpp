// Checks of PyTorch zip checkpoints: the real CompressAI fixtures (keys, dtypes, shapes and values),
// then hand-built checkpoints that exercise each rule of the reader and each error it reports.
#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "check.h"
#include "errors.h"
#include "formats/safetensors.h"
#include "formats/torch_checkpoint.h"
#include "formats/zip_archive.h"
#include "formats_check_builders.h"
#include "formats_check_support.h"

using namespace psic_formats_check;

namespace {

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

}  // namespace

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
