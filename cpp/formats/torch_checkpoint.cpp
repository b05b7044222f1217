#include "formats/torch_checkpoint.h"

#include <fstream>
#include <map>

#include "errors.h"
#include "formats/pickle.h"
#include "formats/zip_archive.h"

namespace psic {

namespace {

const std::map<std::string, at::ScalarType>& storage_types() {
  static const std::map<std::string, at::ScalarType> types = {
      {"torch.FloatStorage", at::kFloat},   {"torch.DoubleStorage", at::kDouble}, {"torch.HalfStorage", at::kHalf},
      {"torch.BFloat16Storage", at::kBFloat16}, {"torch.LongStorage", at::kLong},  {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},   {"torch.CharStorage", at::kChar},     {"torch.ByteStorage", at::kByte},
      {"torch.BoolStorage", at::kBool}};
  return types;
}

int64_t as_int(const PickleRef& v, const char* what) {
  if (!v || !(v->is(PickleValue::Kind::Int) || v->is(PickleValue::Kind::Bool)))
    throw FormatError(std::string("checkpoint: ") + what + " is not an integer");
  return v->integer;
}

std::vector<int64_t> as_int_tuple(const PickleRef& v, const char* what) {
  if (!v || !(v->is(PickleValue::Kind::Tuple) || v->is(PickleValue::Kind::List)))
    throw FormatError(std::string("checkpoint: ") + what + " is not a tuple");
  std::vector<int64_t> out;
  for (const auto& item : v->items) out.push_back(as_int(item, what));
  return out;
}

// torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)
PickleRef rebuild_tensor(const PickleRef& args) {
  if (!args->is(PickleValue::Kind::Tuple) || args->items.size() < 4) throw FormatError("checkpoint: bad tensor record");
  const PickleRef& storage = args->items[0];
  if (!storage->is(PickleValue::Kind::Storage)) throw FormatError("checkpoint: tensor without a storage");
  const int64_t offset = as_int(args->items[1], "storage offset");
  const std::vector<int64_t> size = as_int_tuple(args->items[2], "tensor size");
  const std::vector<int64_t> stride = as_int_tuple(args->items[3], "tensor stride");
  if (size.size() != stride.size() || size.size() > 16) throw FormatError("checkpoint: tensor size and stride differ");
  const int64_t numel = storage->tensor.numel();
  // Every element must lie inside the storage: check before touching memory.
  bool empty = false;
  int64_t last = offset;
  for (size_t i = 0; i < size.size(); ++i) {
    if (size[i] < 0 || stride[i] < 0 || size[i] > (int64_t(1) << 40) || stride[i] > (int64_t(1) << 40))
      throw FormatError("checkpoint: implausible tensor geometry");
    if (size[i] == 0) empty = true;
    else last += (size[i] - 1) * stride[i];
  }
  if (offset < 0 || (!empty && last >= numel)) throw FormatError("checkpoint: tensor exceeds its storage");
  auto v = std::make_shared<PickleValue>();
  v->kind = PickleValue::Kind::Tensor;
  v->tensor = empty ? at::empty(size, storage->tensor.options())
                    : storage->tensor.as_strided(size, stride, offset).clone(at::MemoryFormat::Contiguous);
  return v;
}

const PickleValue* dict_get(const PickleRef& dict, const std::string& key) {
  for (const auto& [k, v] : dict->entries)
    if (k->is(PickleValue::Kind::String) && k->text == key) return v.get();
  return nullptr;
}

}  // namespace

NamedTensors read_torch_checkpoint(const uint8_t* data, size_t size) {
  if (size >= 2 && data[0] == 0x80 && (data[1] == 0x02 || data[1] == 0x8a))
    throw FormatError("legacy torch.save format (torch < 1.6): re-save it with torch >= 1.6");
  if (size >= 2 && data[0] == 0x8a && data[1] == 0x0a)
    throw FormatError("legacy torch.save format (torch < 1.6): re-save it with torch >= 1.6");
  if (size < 4 || data[0] != 'P' || data[1] != 'K') throw FormatError("not a PyTorch zip checkpoint");
  ZipArchive zip(data, size);
  std::string prefix;
  bool found = false;
  for (const auto& [name, entry] : zip.entries()) {
    const std::string suffix = "data.pkl";
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        name.find("/", 0) == name.size() - suffix.size() - 1) {
      prefix = name.substr(0, name.size() - suffix.size());
      found = true;
      break;
    }
  }
  if (!found) throw FormatError("zip archive is not a PyTorch checkpoint (no data.pkl)");
  if (zip.has(prefix + "byteorder")) {
    const ZipEntry& bo = zip.get(prefix + "byteorder");
    if (std::string(reinterpret_cast<const char*>(bo.data), bo.size) != "little")
      throw FormatError("big-endian PyTorch checkpoints are not supported");
  }

  std::map<std::string, at::Tensor> storages;
  PickleHooks hooks;
  hooks.persistent_load = [&](const PickleRef& pid) -> PickleRef {
    // ('storage', storage_type, key, location, numel)
    if (!pid->is(PickleValue::Kind::Tuple) || pid->items.size() < 5 || !pid->items[0]->is(PickleValue::Kind::String) ||
        pid->items[0]->text != "storage" || !pid->items[1]->is(PickleValue::Kind::Global) ||
        !pid->items[2]->is(PickleValue::Kind::String))
      throw FormatError("checkpoint: unsupported persistent id");
    auto type = storage_types().find(pid->items[1]->text);
    if (type == storage_types().end()) throw FormatError("checkpoint: unsupported storage type " + pid->items[1]->text);
    const std::string key = pid->items[2]->text;
    const int64_t numel = as_int(pid->items[4], "storage size");
    auto v = std::make_shared<PickleValue>();
    v->kind = PickleValue::Kind::Storage;
    auto cached = storages.find(key);
    if (cached != storages.end()) {
      v->tensor = cached->second;
      return v;
    }
    const ZipEntry& entry = zip.get(prefix + "data/" + key);
    const int64_t elem = static_cast<int64_t>(c10::elementSize(type->second));
    if (numel < 0 || static_cast<uint64_t>(numel) * elem > entry.size)
      throw FormatError("checkpoint: storage " + key + " is shorter than declared");
    at::Tensor t = at::empty({numel}, at::TensorOptions().dtype(type->second));
    if (numel > 0) std::memcpy(t.data_ptr(), entry.data, static_cast<size_t>(numel * elem));
    storages[key] = t;
    v->tensor = t;
    return v;
  };
  hooks.reduce = [](const std::string& global, const PickleRef& args) -> PickleRef {
    if (global == "torch._utils._rebuild_tensor_v2" || global == "torch._utils._rebuild_tensor")
      return rebuild_tensor(args);
    if (global == "torch._utils._rebuild_parameter" || global == "torch._utils._rebuild_parameter_with_state") {
      if (args->is(PickleValue::Kind::Tuple) && !args->items.empty() && args->items[0]->is(PickleValue::Kind::Tensor))
        return args->items[0];
      throw FormatError("checkpoint: bad parameter record");
    }
    if (global == "collections.OrderedDict") {
      auto d = std::make_shared<PickleValue>();
      d->kind = PickleValue::Kind::Dict;
      return d;
    }
    return nullptr;
  };
  const ZipEntry& pkl = zip.get(prefix + "data.pkl");
  PickleRef root = unpickle(pkl.data, pkl.size, hooks);
  if (!root->is(PickleValue::Kind::Dict)) throw FormatError("checkpoint does not hold a dict (state_dict)");
  // A training checkpoint wraps the state_dict.
  for (const char* key : {"state_dict", "model"}) {
    const PickleValue* inner = dict_get(root, key);
    if (inner && inner->is(PickleValue::Kind::Dict)) {
      root = std::make_shared<PickleValue>(*inner);
      break;
    }
  }
  NamedTensors out;
  for (const auto& [k, v] : root->entries)
    if (k->is(PickleValue::Kind::String) && v->is(PickleValue::Kind::Tensor)) out.emplace_back(k->text, v->tensor);
  if (out.empty()) throw WeightsError("checkpoint holds no tensors");
  return out;
}

NamedTensors read_torch_checkpoint(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw WeightsError("cannot open model file '" + path + "'");
  const std::streamsize n = f.tellg();
  if (n < 0) throw WeightsError("cannot read model file '" + path + "'");
  f.seekg(0);
  std::vector<uint8_t> bytes(static_cast<size_t>(n));
  if (!f.read(reinterpret_cast<char*>(bytes.data()), n)) throw WeightsError("cannot read model file '" + path + "'");
  return read_torch_checkpoint(bytes.data(), bytes.size());
}

}  // namespace psic
