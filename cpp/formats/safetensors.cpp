#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "errors.h"

namespace psic {

namespace {

constexpr uint64_t kMaxHeader = 100u << 20;

const std::vector<std::pair<std::string, at::ScalarType>>& dtypes() {
  static const std::vector<std::pair<std::string, at::ScalarType>> table = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
      {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},        {"BOOL", at::kBool}};
  return table;
}

at::ScalarType dtype_from_name(const std::string& name) {
  for (const auto& [n, t] : dtypes())
    if (n == name) return t;
  throw FormatError("safetensors: unsupported dtype '" + name + "'");
}

std::string dtype_name(at::ScalarType type) {
  for (const auto& [n, t] : dtypes())
    if (t == type) return n;
  throw Error(std::string("safetensors: cannot store dtype ") + c10::toString(type));
}

}  // namespace

SafetensorsFile read_safetensors(const uint8_t* data, size_t size) {
  if (size < 8) throw FormatError("safetensors file is truncated");
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(data[i]) << (8 * i);
  if (header_len > kMaxHeader || header_len > size - 8) throw FormatError("not a safetensors file (bad header length)");
  nlohmann::json header = nlohmann::json::parse(data + 8, data + 8 + header_len, nullptr, false);
  if (header.is_discarded() || !header.is_object()) throw FormatError("not a safetensors file (header is not JSON)");
  const uint8_t* body = data + 8 + header_len;
  const uint64_t body_size = size - 8 - header_len;

  SafetensorsFile out;
  struct Item {
    uint64_t begin, end;
    std::string name;
    at::ScalarType type;
    std::vector<int64_t> shape;
  };
  std::vector<Item> items;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) throw FormatError("safetensors: __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) throw FormatError("safetensors: metadata values must be strings");
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const auto& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets") ||
        !e["dtype"].is_string() || !e["shape"].is_array() || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
      throw FormatError("safetensors: bad entry for '" + it.key() + "'");
    Item item{0, 0, it.key(), dtype_from_name(e["dtype"].get<std::string>()), {}};
    uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t(1) << 40)) throw FormatError("safetensors: bad shape of '" + it.key() + "'");
      item.shape.push_back(d.get<int64_t>());
      numel *= d.get<uint64_t>();
      if (numel > (uint64_t(1) << 40)) throw FormatError("safetensors: tensor '" + it.key() + "' is too large");
    }
    if (!e["data_offsets"][0].is_number_unsigned() || !e["data_offsets"][1].is_number_unsigned())
      throw FormatError("safetensors: bad offsets of '" + it.key() + "'");
    item.begin = e["data_offsets"][0].get<uint64_t>();
    item.end = e["data_offsets"][1].get<uint64_t>();
    if (item.begin > item.end || item.end > body_size ||
        item.end - item.begin != numel * c10::elementSize(item.type))
      throw FormatError("safetensors: offsets of '" + it.key() + "' do not match its dtype and shape");
    items.push_back(std::move(item));
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < items.size(); ++i)
    if (items[i].begin < items[i - 1].end) throw FormatError("safetensors: overlapping tensors");
  for (const auto& item : items) {
    at::Tensor t = at::empty(item.shape, at::TensorOptions().dtype(item.type));
    if (t.nbytes() > 0) std::memcpy(t.data_ptr(), body + item.begin, t.nbytes());
    out.tensors.emplace_back(item.name, t);
  }
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw WeightsError("cannot open model file '" + path + "'");
  const std::streamsize n = f.tellg();
  f.seekg(0);
  std::vector<uint8_t> bytes(static_cast<size_t>(std::max<std::streamsize>(n, 0)));
  if (!f.read(reinterpret_cast<char*>(bytes.data()), n)) throw WeightsError("cannot read model file '" + path + "'");
  return read_safetensors(bytes.data(), bytes.size());
}

std::vector<uint8_t> write_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<at::Tensor> contiguous;
  for (const auto& [name, t] : tensors) {
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    header[name] = {{"dtype", dtype_name(c.scalar_type())}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + c.nbytes()}}};
    offset += c.nbytes();
    contiguous.push_back(c);
  }
  std::string json = header.dump();
  while ((json.size() + 8) % 8) json.push_back(' ');  // align the data to 8 bytes
  std::vector<uint8_t> out(8 + json.size() + offset);
  const uint64_t len = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(len >> (8 * i));
  std::memcpy(out.data() + 8, json.data(), json.size());
  uint8_t* p = out.data() + 8 + json.size();
  for (const auto& c : contiguous) {
    if (c.nbytes()) std::memcpy(p, c.data_ptr(), c.nbytes());
    p += c.nbytes();
  }
  return out;
}

}  // namespace psic
