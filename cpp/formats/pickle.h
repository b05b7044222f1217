// A bounded interpreter for Python pickles (protocols 2-5), enough for what torch.save writes:
// containers, numbers, strings, globals, REDUCE/BUILD/NEWOBJ, and persistent ids (storages).
// It never executes anything: a callable is a named Global, and applying it is the caller's
// decision (see torch_checkpoint). Every read is bounds-checked; stack and memo are bounded.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace psic {

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

struct PickleValue {
  enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Object, Tensor, Storage };
  Kind kind = Kind::None;
  int64_t integer = 0;  // Bool, Int
  double number = 0;    // Float
  std::string text;     // String, Bytes, Global ("module.name"), Object (its class)
  std::vector<PickleRef> items;                            // Tuple, List, Object args
  std::vector<std::pair<PickleRef, PickleRef>> entries;    // Dict, in insertion order
  at::Tensor tensor;                                       // Tensor, Storage (1-D, owning)

  bool is(Kind k) const { return kind == k; }
};

struct PickleHooks {
  // BINPERSID: the persistent id (a tuple) -> a value (torch: a Storage).
  std::function<PickleRef(const PickleRef& pid)> persistent_load;
  // REDUCE/NEWOBJ of a Global with its args -> a value, or nullptr for an opaque Object.
  std::function<PickleRef(const std::string& global, const PickleRef& args)> reduce;
};

// Throws FormatError on anything malformed or unsupported (naming the opcode).
PickleRef unpickle(const uint8_t* data, size_t size, const PickleHooks& hooks);

}  // namespace psic
