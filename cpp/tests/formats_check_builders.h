// Shared by the check_formats*.cpp files: builders for hand-made PyTorch checkpoints (a zip
// writer like PyTorch's, a protocol-2 pickle writer, small ready-made checkpoints).
// Header-only (inline), without ATen.
#pragma once
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "formats/zip_archive.h"
#include "formats_check_support.h"

namespace psic_formats_check {

inline void put16(Bytes& b, uint32_t v) {
  b.push_back(uint8_t(v));
  b.push_back(uint8_t(v >> 8));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, v & 0xFFFF);
  put16(b, v >> 16);
}
inline void put64(Bytes& b, uint64_t v) {
  put32(b, uint32_t(v));
  put32(b, uint32_t(v >> 32));
}
inline void put_text(Bytes& b, const std::string& s) { b.insert(b.end(), s.begin(), s.end()); }

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

inline Bytes floats(const std::vector<float>& v) {
  Bytes b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

inline Bytes int64s(const std::vector<int64_t>& v) {
  Bytes b(v.size() * 8);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A checkpoint whose data.pkl is `pickle` and whose storages are `storages` (key -> bytes).
inline Bytes make_checkpoint(const Bytes& pickle, const std::map<std::string, Bytes>& storages, bool zip64_extra = false,
                      uint16_t misalign = 0) {
  ZipBuilder zip;
  zip.zip64_extra = zip64_extra;
  zip.add("archive/data.pkl", pickle);
  for (const auto& [key, bytes] : storages) zip.add("archive/data/" + key, bytes, 0, misalign);
  zip.add("archive/version", "3\n");
  return zip.build();
}

// {"a": float tensor [2, 3] = 0..5} with the OrderedDict's _metadata state, as nn.Module writes it.
inline Bytes simple_pickle(const std::string& storage_type = "FloatStorage", int64_t numel = 6,
                    const std::vector<int64_t>& sizes = {2, 3}, const std::vector<int64_t>& strides = {3, 1},
                    int64_t offset = 0) {
  PickleWriter p;
  p.proto().ordered_dict().op('q').op(0).mark();
  p.str("a").tensor(storage_type, "0", numel, offset, sizes, strides);
  p.op('u');
  p.ordered_dict().mark().str("").op('}').str("version").integer(1).op('s').op('u').op('b');  // BUILD with _metadata
  return p.stop().b;
}

inline Bytes simple_checkpoint() { return make_checkpoint(simple_pickle(), {{"0", floats({0, 1, 2, 3, 4, 5})}}); }

// A builder holding the entries of an existing zip, to rebuild it with one entry changed
// (and its CRC recomputed).
inline ZipBuilder builder_from(const Bytes& zip_bytes) {
  psic::ZipArchive zip(zip_bytes.data(), zip_bytes.size());
  ZipBuilder out;
  for (const psic::ZipEntry& e : zip.entries()) {
    const auto bytes = zip.read(e.name);
    out.add(e.name, Bytes(bytes.data, bytes.data + bytes.size));
  }
  return out;
}

}  // namespace psic_formats_check
