// Checks of safetensors: write/read round trips of every dtype, data-offset order, malformed
// headers, and truncated or mutated files (load or throw psic::Error).
#include <ATen/ATen.h>

#include <map>
#include <random>
#include <string>

#include "check.h"
#include "errors.h"
#include "formats/safetensors.h"
#include "formats_check_builders.h"
#include "formats_check_support.h"
#include "util/atomic_file.h"

using namespace psic_formats_check;


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
