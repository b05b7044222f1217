#include "formats/torch_checkpoint.h"

#include <cstring>
#include <optional>
#include <unordered_map>

#include "errors.h"
#include "util/file_bytes.h"
#include "formats/pickle.h"
#include "formats/zip_archive.h"

namespace psic {

namespace {

using Id = Pickle::Id;
using Kind = Pickle::Kind;

constexpr size_t kMaxDims = 64;
constexpr int kMaxNesting = 4;  // parameter -> rebuild_from_type -> tensor; no real nesting is deeper

[[noreturn]] void fail(const std::string& what) { throw FormatError("PyTorch checkpoint: " + what); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// torch.save names a storage's dtype by its legacy typed-storage class.
at::ScalarType storage_dtype(const std::string& storage_class) {
  static const std::unordered_map<std::string, at::ScalarType> types = {
      {"torch.FloatStorage", at::kFloat}, {"torch.DoubleStorage", at::kDouble}, {"torch.HalfStorage", at::kHalf},
      {"torch.BFloat16Storage", at::kBFloat16}, {"torch.LongStorage", at::kLong}, {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort}, {"torch.CharStorage", at::kChar}, {"torch.ByteStorage", at::kByte},
      {"torch.BoolStorage", at::kBool}};
  auto it = types.find(storage_class);
  if (it == types.end()) fail("unsupported storage type '" + storage_class + "'");
  return it->second;
}

// A storage as the pickle refers to it: bytes inside the file, typed by the reference.
struct StorageRef {
  std::string key;
  const uint8_t* data;
  uint64_t numel;
  at::ScalarType dtype;
};

// A tensor the pickle describes, validated against its storage but not yet copied.
struct TensorRecord {
  StorageRef storage;
  int64_t offset;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  uint64_t numel;
};

class CheckpointReader {
 public:
  CheckpointReader(const uint8_t* data, size_t size)
      : zip_(open_zip(data, size)),
        // A state_dict's tensors are its storages, a few of them views of a shared one; more
        // than this is a corrupted or hostile file expanding a storage by strides.
        byte_budget_(4 * uint64_t(size) + (uint64_t(1) << 20)) {}

  NamedTensors read() {
    prefix_ = find_prefix();
    check_version_and_byteorder();
    const ZipArchive::Bytes pkl = entry("data.pkl");
    try {
      pickle_ = unpickle(pkl.data, pkl.size);
    } catch (const FormatError& e) {
      fail(prefix_ + "data.pkl: " + e.what());
    }
    Id dict = pickle_.root();
    if (!pickle_.is(dict, Kind::Dict))
      fail("the top level of " + prefix_ + "data.pkl is a " + Pickle::kind_name(pickle_.kind(dict)) + ", not a state_dict");
    for (const char* wrapper : {"state_dict", "model"}) {  // training checkpoints
      const Id* inner = pickle_.find(dict, wrapper);
      if (inner && pickle_.is(*inner, Kind::Dict)) {
        dict = *inner;
        break;
      }
    }

    NamedTensors out;
    std::unordered_map<std::string, size_t> position;
    const std::vector<Id>& kv = pickle_.items(dict);
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      if (!pickle_.is(kv[i], Kind::String)) continue;
      std::string name = pickle_.text(kv[i]);
      const std::optional<TensorRecord> record = tensor_record(kv[i + 1], name, 0);
      if (!record) continue;  // not a tensor (e.g. a number in a training checkpoint)
      if (name.rfind("module.", 0) == 0) name.erase(0, 7);  // DataParallel
      at::Tensor t = materialize(*record, name);
      auto [it, fresh] = position.emplace(name, out.size());
      if (fresh) out.emplace_back(std::move(name), std::move(t));
      else out[it->second].second = std::move(t);  // a repeated key overwrites, as in Python
    }
    return out;
  }

 private:
  static ZipArchive open_zip(const uint8_t* data, size_t size) {
    try {
      return ZipArchive(data, size);
    } catch (const FormatError& e) {
      fail(e.what());
    }
  }

  ZipArchive::Bytes entry(const std::string& name) const {
    try {
      return zip_.read(prefix_ + name);
    } catch (const FormatError& e) {
      fail(e.what());
    }
  }

  // torch.save writes "<archive>/data.pkl" next to "<archive>/data/<key>" and "<archive>/version".
  std::string find_prefix() const {
    const std::string* found = nullptr;
    for (const ZipEntry& e : zip_.entries()) {
      if (e.name != "data.pkl" && !ends_with(e.name, "/data.pkl")) continue;
      if (found) fail("several data.pkl entries ('" + *found + "', '" + e.name + "')");
      found = &e.name;
    }
    if (!found) throw FormatError("not a PyTorch zip checkpoint: the zip archive has no data.pkl entry");
    return found->substr(0, found->size() - 8);
  }

  void check_version_and_byteorder() const {
    if (zip_.find(prefix_ + "version")) {
      const ZipArchive::Bytes v = entry("version");
      std::string text(reinterpret_cast<const char*>(v.data), v.size);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
        fail("the version entry is not a number");
    }
    if (zip_.find(prefix_ + "byteorder")) {
      const ZipArchive::Bytes b = entry("byteorder");
      const std::string order(reinterpret_cast<const char*>(b.data), b.size);
      if (order == "big") fail("big-endian checkpoints are not supported");
      if (order != "little") fail("unknown byteorder '" + order.substr(0, 16) + "'");
    }
  }

  // ('storage', torch.<Type>Storage, key, location, numel) -> the bytes of entry data/<key>.
  StorageRef storage(Id ref, const std::string& name) {
    if (!pickle_.is(ref, Kind::PersistentId))
      fail("tensor '" + name + "' has a " + Pickle::kind_name(pickle_.kind(ref)) + " where its storage belongs");
    const Id pid = pickle_.persistent_id(ref);
    const std::vector<Id>& f = pickle_.items(pid);
    if (!pickle_.is(pid, Kind::Tuple) || f.size() < 5 || !pickle_.is(f[0], Kind::String) ||
        pickle_.text(f[0]) != "storage" || !pickle_.is(f[1], Kind::Global) || !pickle_.is(f[2], Kind::String) ||
        !pickle_.is(f[4], Kind::Int))
      fail("tensor '" + name + "' has a malformed storage reference");
    StorageRef s{pickle_.text(f[2]), nullptr, 0, storage_dtype(pickle_.text(f[1]))};
    const int64_t declared = pickle_.integer(f[4]);
    const ZipArchive::Bytes bytes = entry("data/" + s.key);  // CRC-checked once per storage
    const uint64_t element = c10::elementSize(s.dtype);
    if (declared < 0 || uint64_t(declared) > bytes.size / element)
      fail("storage '" + s.key + "' declares " + std::to_string(declared) + " elements of " + c10::toString(s.dtype) +
           " but holds " + std::to_string(bytes.size) + " bytes");
    s.data = bytes.data;
    s.numel = uint64_t(declared);
    return s;
  }

  std::vector<int64_t> int_tuple(Id v, const std::string& name, const char* what) const {
    if (!pickle_.is(v, Kind::Tuple)) fail(std::string("the ") + what + " of tensor '" + name + "' is not a tuple");
    const std::vector<Id>& items = pickle_.items(v);
    if (items.size() > kMaxDims) fail("tensor '" + name + "' has " + std::to_string(items.size()) + " dimensions");
    std::vector<int64_t> out;
    for (Id i : items) {
      if (!pickle_.is(i, Kind::Int)) fail(std::string("the ") + what + " of tensor '" + name + "' holds a non-integer");
      out.push_back(pickle_.integer(i));
    }
    return out;
  }

  // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata]).
  // Checks that every element lies inside the storage before anything touches memory.
  TensorRecord rebuild_tensor(const std::vector<Id>& args, const std::string& name) {
    if (args.size() < 4) fail("tensor '" + name + "' has " + std::to_string(args.size()) + " rebuild arguments, expected 4 or more");
    TensorRecord r{storage(args[0], name), 0, int_tuple(args[2], name, "size"), int_tuple(args[3], name, "stride"), 1};
    if (!pickle_.is(args[1], Kind::Int)) fail("the storage offset of tensor '" + name + "' is not an integer");
    r.offset = pickle_.integer(args[1]);
    if (r.sizes.size() != r.strides.size()) fail("tensor '" + name + "' has a size and a stride of different lengths");
    if (r.offset < 0 || uint64_t(r.offset) > r.storage.numel)
      fail("tensor '" + name + "' starts at element " + std::to_string(r.offset) + " of a storage of " + std::to_string(r.storage.numel));
    // The product of the non-zero sizes stays below 2^62 (so that ATen's numel arithmetic cannot
    // overflow, even for an empty tensor), and a non-empty tensor must fit the byte budget.
    uint64_t product = 1;
    bool empty = false;
    for (size_t d = 0; d < r.sizes.size(); ++d) {
      if (r.sizes[d] < 0 || r.strides[d] < 0) fail("tensor '" + name + "' has a negative size or stride");
      if (r.sizes[d] == 0) {
        empty = true;
        continue;
      }
      if (uint64_t(r.sizes[d]) > (uint64_t(1) << 62) / product) fail("tensor '" + name + "' has an implausible size");
      product *= uint64_t(r.sizes[d]);
    }
    r.numel = empty ? 0 : product;
    if (r.numel == 0) return r;
    if (r.numel > byte_budget_ / c10::elementSize(r.storage.dtype))
      fail("tensor '" + name + "' of " + std::to_string(r.numel) + " elements is implausibly large for this file");
    // The last element: offset + sum (size-1)*stride, which must be < the storage size.
    uint64_t last = uint64_t(r.offset);
    const uint64_t end = r.storage.numel;
    if (last >= end) fail("tensor '" + name + "' lies outside its storage '" + r.storage.key + "'");
    for (size_t d = 0; d < r.sizes.size(); ++d) {
      const uint64_t steps = uint64_t(r.sizes[d]) - 1, stride = uint64_t(r.strides[d]);
      if (steps == 0 || stride == 0) continue;
      if (steps > (end - 1 - last) / stride) fail("tensor '" + name + "' lies outside its storage '" + r.storage.key + "'");
      last += steps * stride;
    }
    return r;
  }

  // A value that rebuilds a tensor, or nothing for any other value.
  std::optional<TensorRecord> tensor_record(Id v, const std::string& name, int depth) {
    if (!pickle_.is(v, Kind::Object)) return std::nullopt;
    return call_record(pickle_.text(v), pickle_.items(v), name, depth);
  }

  std::optional<TensorRecord> call_record(const std::string& callable, const std::vector<Id>& args,
                                          const std::string& name, int depth) {
    if (depth > kMaxNesting) fail("tensor '" + name + "' is nested too deeply");
    if (callable == "torch._utils._rebuild_tensor_v2" || callable == "torch._utils._rebuild_tensor")
      return rebuild_tensor(args, name);
    if (callable == "torch._utils._rebuild_parameter" || callable == "torch._utils._rebuild_parameter_with_state") {
      // (tensor, requires_grad, backward_hooks[, state]): an nn.Parameter is its tensor.
      std::optional<TensorRecord> inner = args.empty() ? std::nullopt : tensor_record(args[0], name, depth + 1);
      if (!inner) fail("parameter '" + name + "' does not hold a tensor");
      return inner;
    }
    if (callable == "torch._tensor._rebuild_from_type_v2") {
      // (func, type, args, state): a tensor subclass or a tensor with Python attributes.
      if (args.size() < 3 || !pickle_.is(args[0], Kind::Global) || !pickle_.is(args[2], Kind::Tuple))
        fail("tensor '" + name + "' has a malformed _rebuild_from_type_v2 record");
      std::optional<TensorRecord> inner = call_record(pickle_.text(args[0]), pickle_.items(args[2]), name, depth + 1);
      if (!inner) fail("tensor '" + name + "' is rebuilt by an unsupported '" + pickle_.text(args[0]) + "'");
      return inner;
    }
    if (callable.rfind("torch._utils._rebuild_", 0) == 0)  // sparse, quantized, meta, ... tensors
      fail("tensor '" + name + "' needs the unsupported '" + callable + "'");
    return std::nullopt;
  }

  // The tensor's elements, copied out of the file into memory the tensor owns.
  at::Tensor materialize(const TensorRecord& r, const std::string& name) {
    const at::TensorOptions options = at::TensorOptions().dtype(r.storage.dtype);
    if (r.numel == 0) return at::empty(r.sizes, options);
    const uint64_t element = c10::elementSize(r.storage.dtype);
    if (r.numel * element > byte_budget_)
      fail("tensor '" + name + "' and the ones before it take more memory than the file can describe");
    byte_budget_ -= r.numel * element;
    const uint8_t* base = r.storage.data;
    if (reinterpret_cast<uintptr_t>(base) % element != 0) {
      // torch aligns entries to 64 bytes; a file that does not gets an aligned copy (once).
      auto it = aligned_copies_.find(r.storage.key);
      if (it == aligned_copies_.end()) {
        at::Tensor copy = at::empty({int64_t(r.storage.numel * element)}, at::TensorOptions().dtype(at::kByte));
        std::memcpy(copy.data_ptr(), base, r.storage.numel * element);
        it = aligned_copies_.emplace(r.storage.key, copy).first;
      }
      base = static_cast<const uint8_t*>(it->second.data_ptr());
    }
    // from_blob does not take ownership; clone() copies the view into owned, contiguous memory
    // while the file bytes are still alive.
    const at::Tensor whole = at::from_blob(const_cast<uint8_t*>(base), {int64_t(r.storage.numel)}, options);
    return whole.as_strided(r.sizes, r.strides, r.offset).clone(at::MemoryFormat::Contiguous);
  }

  ZipArchive zip_;
  std::string prefix_;
  Pickle pickle_;
  uint64_t byte_budget_;
  std::unordered_map<std::string, at::Tensor> aligned_copies_;
};

// The zip format starts with a local file header; a pickle there is the pre-1.6 format.
void check_signature(const uint8_t* data, size_t size) {
  if (size >= 4 && std::memcmp(data, "PK\x03\x04", 4) == 0) return;
  const bool legacy = (size >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5) ||
                      (size >= 2 && data[0] == 0x8a && data[1] == 0x0a);
  if (legacy)
    throw FormatError(
        "not a PyTorch zip checkpoint: legacy torch.save format (torch < 1.6): re-save it with torch >= 1.6");
  throw FormatError("not a PyTorch zip checkpoint (no zip signature at the start of the file)");
}

}  // namespace

NamedTensors read_torch_checkpoint(const uint8_t* data, size_t size) {
  check_signature(data, size);
  try {
    CheckpointReader reader(data, size);
    return reader.read();
  } catch (const c10::Error& e) {
    // Validation should leave nothing for ATen to reject; if it does, it is still bad input.
    throw FormatError(std::string("PyTorch checkpoint: unusable tensor: ") + e.what_without_backtrace());
  }
}

NamedTensors read_torch_checkpoint(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  try {
    return read_torch_checkpoint(bytes.data(), bytes.size());
  } catch (const FormatError& e) {
    throw FormatError("'" + path + "': " + e.what());
  }
}

}  // namespace psic
