#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "errors.h"
#include "util/file_bytes.h"

namespace psic {

namespace {

constexpr uint64_t kMaxHeaderSize = 100u << 20;
constexpr uint64_t kMaxDims = 64;
const char* const kMetadataKey = "__metadata__";

[[noreturn]] void fail(const std::string& what) { throw FormatError("safetensors: " + what); }

struct DtypeName {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeName kDtypes[] = {{"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16},
                                 {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
                                 {"U8", at::kByte},    {"BOOL", at::kBool}};

at::ScalarType dtype_from_name(const std::string& name, const std::string& tensor) {
  for (const DtypeName& d : kDtypes)
    if (name == d.name) return d.type;
  fail("tensor '" + tensor + "' has the unsupported dtype '" + name.substr(0, 32) + "'");
}

const char* name_of_dtype(at::ScalarType type, const std::string& tensor) {
  for (const DtypeName& d : kDtypes)
    if (type == d.type) return d.name;
  throw Error("safetensors: cannot store tensor '" + tensor + "' of dtype " + c10::toString(type));
}

// One header entry, validated.
struct Slot {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

uint64_t unsigned_field(const nlohmann::json& v, const std::string& tensor, const char* what) {
  if (!v.is_number_unsigned()) fail("tensor '" + tensor + "' has a " + what + " that is not a non-negative integer");
  return v.get<uint64_t>();
}

Slot parse_slot(const std::string& name, const nlohmann::json& e, uint64_t data_size) {
  if (!e.is_object()) fail("the entry of tensor '" + name + "' is not an object");
  auto dtype = e.find("dtype"), shape = e.find("shape"), offsets = e.find("data_offsets");
  if (dtype == e.end() || !dtype->is_string()) fail("tensor '" + name + "' has no dtype");
  if (shape == e.end() || !shape->is_array() || shape->size() > kMaxDims) fail("tensor '" + name + "' has no valid shape");
  if (offsets == e.end() || !offsets->is_array() || offsets->size() != 2) fail("tensor '" + name + "' has no valid data_offsets");
  Slot s{name, dtype_from_name(dtype->get<std::string>(), name), {}, 0, 0};
  const uint64_t element = c10::elementSize(s.dtype);
  // The product of the non-zero extents stays below 2^62 (even for an empty tensor, so that
  // ATen's own numel arithmetic cannot overflow); a non-empty tensor must fit in the data.
  uint64_t product = 1;
  bool empty = false;
  for (const auto& d : *shape) {
    const uint64_t extent = unsigned_field(d, name, "shape dimension");
    if (extent == 0) {
      empty = true;
    } else {
      if (extent > (uint64_t(1) << 62) / product) fail("tensor '" + name + "' has an implausible shape");
      product *= extent;
    }
    s.shape.push_back(static_cast<int64_t>(extent));
  }
  const uint64_t numel = empty ? 0 : product;
  if (numel > data_size / element) fail("tensor '" + name + "' is larger than the file");
  s.begin = unsigned_field((*offsets)[0], name, "data offset");
  s.end = unsigned_field((*offsets)[1], name, "data offset");
  if (s.begin > s.end || s.end > data_size)
    fail("the data_offsets [" + std::to_string(s.begin) + ", " + std::to_string(s.end) + "] of tensor '" + name +
         "' lie outside the data section of " + std::to_string(data_size) + " bytes");
  if (s.end - s.begin != numel * element)
    fail("tensor '" + name + "' spans " + std::to_string(s.end - s.begin) + " bytes, but its dtype and shape need " +
         std::to_string(numel * element));
  return s;
}

}  // namespace

SafetensorsFile read_safetensors(const uint8_t* data, size_t size) {
  if (size < 8) fail("file of " + std::to_string(size) + " bytes is too short");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t(data[i]) << (8 * i);
  if (header_size > kMaxHeaderSize || header_size > size - 8)
    fail("header length " + std::to_string(header_size) + " is implausible (not a safetensors file, or truncated)");
  const uint8_t* body = data + 8 + header_size;
  const uint64_t body_size = size - 8 - header_size;

  // No exceptions from the parser (allow_exceptions = false): invalid JSON is "discarded".
  const nlohmann::json header = nlohmann::json::parse(data + 8, body, nullptr, false);
  if (header.is_discarded()) fail("the header is not valid JSON (not a safetensors file?)");
  if (!header.is_object()) fail("the header is not a JSON object");

  SafetensorsFile out;
  std::vector<Slot> slots;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == kMetadataKey) {
      if (!it->is_object()) fail("__metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) fail("metadata value '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    slots.push_back(parse_slot(it.key(), it.value(), body_size));
  }

  // File order; an empty tensor sorts before a non-empty one at the same offset.
  std::sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;  // end of the last non-empty tensor
  for (const Slot& s : slots) {
    if (s.begin == s.end) continue;
    if (s.begin < covered) fail("tensor '" + s.name + "' overlaps the tensor before it");
    covered = s.end;
  }

  out.tensors.reserve(slots.size());
  for (const Slot& s : slots) {
    at::Tensor t;
    try {
      t = at::empty(s.shape, at::TensorOptions().dtype(s.dtype));
    } catch (const c10::Error& e) {  // the checks above should leave nothing for ATen to refuse
      fail("tensor '" + s.name + "' is unusable: " + e.what_without_backtrace());
    }
    if (s.end > s.begin) std::memcpy(t.data_ptr(), body + s.begin, s.end - s.begin);
    out.tensors.emplace_back(s.name, std::move(t));
  }
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  try {
    return read_safetensors(bytes.data(), bytes.size());
  } catch (const FormatError& e) {
    throw FormatError("'" + path + "': " + e.what());
  }
}

std::vector<uint8_t> write_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps __metadata__ first and the tensors in the given order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::vector<at::Tensor> contiguous;
  contiguous.reserve(tensors.size());
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == kMetadataKey || !names.insert(name).second)
      throw Error("safetensors: tensor name '" + name + "' is reserved or repeated");
    at::Tensor c = tensor.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = c.nbytes();
    header[name] = {{"dtype", name_of_dtype(c.scalar_type(), name)},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(c));
  }
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::exception& e) {  // a name or value that is not valid UTF-8
    throw Error(std::string("safetensors: cannot write the header: ") + e.what());
  }
  // Pad the header with spaces so that the data starts 8-byte aligned, as the reference writer does.
  while (json.size() % 8 != 0) json.push_back(' ');

  std::vector<uint8_t> out(8 + json.size() + offset);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(uint64_t(json.size()) >> (8 * i));
  std::memcpy(out.data() + 8, json.data(), json.size());
  uint8_t* p = out.data() + 8 + json.size();
  for (const at::Tensor& c : contiguous) {
    if (c.nbytes() > 0) std::memcpy(p, c.data_ptr(), c.nbytes());
    p += c.nbytes();
  }
  return out;
}

}  // namespace psic
