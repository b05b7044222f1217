// A bounded interpreter for Python pickles (protocols 2-5), enough for what torch.save writes.
// It never executes anything: a call (REDUCE/NEWOBJ) becomes an Object naming its class and
// holding its arguments, a persistent id becomes a PersistentId; giving them meaning is the
// caller's business (see torch_checkpoint). The one call it understands itself is
// collections.OrderedDict(), which becomes a Dict, so that SETITEMS can fill it.
//
// Values live in an arena and refer to each other by index: no reference cycles, no recursive
// destruction, memory proportional to the input. Every read is bounds-checked; stack, memo and
// value counts are bounded; malformed input throws FormatError ("pickle: ... at byte N").
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace psic {

class Pickle {
 public:
  using Id = uint32_t;
  enum class Kind : uint8_t { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Object, PersistentId };

  Id root() const { return root_; }
  Kind kind(Id id) const { return nodes_.at(id).kind; }
  bool is(Id id, Kind k) const { return kind(id) == k; }
  int64_t integer(Id id) const { return nodes_.at(id).integer; }  // Bool, Int
  double number(Id id) const { return nodes_.at(id).number; }     // Float
  // String and Bytes: the contents; Global and Object: the class, "module.name".
  const std::string& text(Id id) const;
  // Tuple, List: the items. Dict: keys and values alternating, in insertion order.
  // Object: the items of its argument tuple. Anything else: empty.
  const std::vector<Id>& items(Id id) const;
  // PersistentId: the id itself (torch: a tuple describing a storage).
  Id persistent_id(Id id) const;
  // For a Dict: the value stored under a String key, or nullptr.
  const Id* find(Id dict, const std::string& key) const;

  static const char* kind_name(Kind k);

 private:
  friend class PickleMachine;
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Node {
    Kind kind = Kind::None;
    int64_t integer = 0;
    double number = 0;
    uint32_t text = kNone;      // index into texts_
    uint32_t children = kNone;  // index into children_ (Tuple, List, Dict)
    uint32_t ref = kNone;       // Object: its argument tuple; PersistentId: the id
  };
  std::vector<Node> nodes_;
  std::vector<std::string> texts_;
  std::vector<std::vector<Id>> children_;
  Id root_ = 0;
};

// Runs the pickle up to its STOP opcode. Throws FormatError on anything malformed or unsupported.
Pickle unpickle(const uint8_t* data, size_t size);

}  // namespace psic
