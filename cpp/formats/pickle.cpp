#include "formats/pickle.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "errors.h"

namespace psic {

namespace {

// Far above what a state_dict needs (about 15 values per tensor), far below what would hurt.
constexpr size_t kMaxValues = size_t(1) << 22;
constexpr size_t kMaxStack = size_t(1) << 20;
constexpr size_t kMaxMarks = size_t(1) << 20;
constexpr size_t kMaxMemo = size_t(1) << 22;
// A global is "module.name"; without a bound, STACK_GLOBAL on memoized strings could build
// arbitrarily long names from a few bytes of input.
constexpr size_t kMaxGlobalName = 4096;
constexpr int kMaxProtocol = 5;

const std::vector<Pickle::Id>& no_items() {
  static const std::vector<Pickle::Id> empty;
  return empty;
}

}  // namespace

const std::string& Pickle::text(Id id) const {
  static const std::string empty;
  const Node& n = nodes_.at(id);
  return n.text == kNone ? empty : texts_[n.text];
}

const std::vector<Pickle::Id>& Pickle::items(Id id) const {
  const Node& n = nodes_.at(id);
  if (n.kind == Kind::Object) return n.ref == kNone ? no_items() : items(n.ref);  // ref is a Tuple
  return n.children == kNone ? no_items() : children_[n.children];
}

Pickle::Id Pickle::persistent_id(Id id) const {
  const Node& n = nodes_.at(id);
  if (n.kind != Kind::PersistentId) throw FormatError("pickle: not a persistent id");
  return n.ref;
}

const Pickle::Id* Pickle::find(Id dict, const std::string& key) const {
  if (kind(dict) != Kind::Dict) return nullptr;
  const std::vector<Id>& kv = items(dict);
  for (size_t i = 0; i + 1 < kv.size(); i += 2)
    if (kind(kv[i]) == Kind::String && text(kv[i]) == key) return &kv[i + 1];
  return nullptr;
}

const char* Pickle::kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Object: return "object";
    case Kind::PersistentId: return "persistent id";
  }
  return "?";
}

// The pickle virtual machine: a value stack with marks (MARK starts a new frame that TUPLE,
// LIST, DICT, APPENDS, SETITEMS consume), a memo, and the opcode loop.
class PickleMachine {
 public:
  using Id = Pickle::Id;
  using Kind = Pickle::Kind;

  PickleMachine(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  Pickle run() {
    while (true) {
      op_pos_ = pos_;
      const uint8_t op = byte();
      switch (op) {
        case 0x80: {  // PROTO
          const int version = byte();
          if (version > kMaxProtocol) fail("unsupported protocol " + std::to_string(version));
          break;
        }
        case 0x95: take(8); break;  // FRAME: a length hint; framing is transparent to us
        case '.': {                 // STOP
          out_.root_ = top();  // like Python, whatever lies below is ignored
          return std::move(out_);
        }
        case '(':  // MARK
          if (marks_.size() >= kMaxMarks) fail("too many MARKs");
          marks_.push_back(stack_.size());
          break;
        case '0':  // POP (on an empty frame, Python discards the mark instead)
          if (frame_size() > 0) stack_.pop_back();
          else pop_mark();
          break;
        case '1': pop_mark(); break;  // POP_MARK
        case '2': push(top()); break; // DUP

        case 'N': push(value(Kind::None)); break;  // NONE
        case 0x88: push_integer(Kind::Bool, 1); break;  // NEWTRUE
        case 0x89: push_integer(Kind::Bool, 0); break;  // NEWFALSE
        case 'J': push_integer(Kind::Int, static_cast<int32_t>(u32())); break;  // BININT
        case 'K': push_integer(Kind::Int, byte()); break;                       // BININT1
        case 'M': push_integer(Kind::Int, u16()); break;                        // BININT2
        case 0x8a: push_long(byte()); break;                                    // LONG1
        case 0x8b: push_long(u32()); break;                                     // LONG4
        case 'I': push_text_int(); break;                                       // INT (text)
        case 'G': push_binfloat(); break;                                       // BINFLOAT

        case 'X': push_text(Kind::String, u32()); break;     // BINUNICODE
        case 0x8c: push_text(Kind::String, byte()); break;   // SHORT_BINUNICODE
        case 0x8d: push_text(Kind::String, u64()); break;    // BINUNICODE8
        case 'T': push_text(Kind::String, u32()); break;     // BINSTRING (Python 2 str)
        case 'U': push_text(Kind::String, byte()); break;    // SHORT_BINSTRING
        case 'B': push_text(Kind::Bytes, u32()); break;      // BINBYTES
        case 'C': push_text(Kind::Bytes, byte()); break;     // SHORT_BINBYTES
        case 0x8e: push_text(Kind::Bytes, u64()); break;     // BINBYTES8

        case ')': push(container(Kind::Tuple)); break;                 // EMPTY_TUPLE
        case 't': push(container(Kind::Tuple, pop_mark())); break;     // TUPLE
        case 0x85: case 0x86: case 0x87: {                             // TUPLE1, TUPLE2, TUPLE3
          const size_t n = op - 0x84u;
          if (frame_size() < n) fail("TUPLE" + std::to_string(n) + " on a stack of " + std::to_string(frame_size()));
          std::vector<Id> items(stack_.end() - n, stack_.end());
          stack_.resize(stack_.size() - n);
          push(container(Kind::Tuple, std::move(items)));
          break;
        }
        case ']': push(container(Kind::List)); break;              // EMPTY_LIST
        case 'l': push(container(Kind::List, pop_mark())); break;  // LIST
        case 'a': {                                                // APPEND
          const Id item = pop();
          append(top(), {item});
          break;
        }
        case 'e': {  // APPENDS
          std::vector<Id> items = pop_mark();
          append(top(), items);
          break;
        }
        case '}': push(container(Kind::Dict)); break;  // EMPTY_DICT
        case 'd': {                                    // DICT
          std::vector<Id> kv = pop_mark();
          if (kv.size() % 2) fail("DICT with an odd number of items");
          push(container(Kind::Dict, std::move(kv)));
          break;
        }
        case 's': {  // SETITEM
          const Id v = pop(), k = pop();
          set_items(top(), {k, v});
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<Id> kv = pop_mark();
          if (kv.size() % 2) fail("SETITEMS with an odd number of items");
          set_items(top(), kv);
          break;
        }

        case 'c': {  // GLOBAL "module\nname\n"
          const std::string module = line(), name = line();
          push_global(module, name);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const Id name = pop(), module = pop();
          if (!out_.is(module, Kind::String) || !out_.is(name, Kind::String)) fail("STACK_GLOBAL needs two strings");
          push_global(out_.text(module), out_.text(name));
          break;
        }
        case 'Q': {  // BINPERSID
          const Id pid = pop();
          const Id v = value(Kind::PersistentId);
          out_.nodes_[v].ref = pid;
          push(v);
          break;
        }
        case 'R': {  // REDUCE: callable(*args)
          const Id args = pop(), callable = pop();
          push(call(callable, args, "REDUCE"));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          const Id args = pop(), cls = pop();
          push(call(cls, args, "NEWOBJ"));
          break;
        }
        case 'b': {  // BUILD: sets an object's state (a module's __dict__, an OrderedDict's _metadata).
          pop();     // Nothing we read depends on it.
          top();
          break;
        }

        case 'q': memo_put(byte()); break;                  // BINPUT
        case 'r': memo_put(u32()); break;                   // LONG_BINPUT
        case 'p': memo_put(decimal_line()); break;          // PUT
        case 0x94: memo_put(memo_.size()); break;           // MEMOIZE
        case 'h': push(memo_get(byte())); break;            // BINGET
        case 'j': push(memo_get(u32())); break;             // LONG_BINGET
        case 'g': push(memo_get(decimal_line())); break;    // GET

        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("unsupported opcode ") + hex);
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("pickle: " + what + " at byte " + std::to_string(op_pos_));
  }

  // ---- input ----
  const uint8_t* take(uint64_t n) {
    if (n > size_ - pos_) fail("truncated data");
    const uint8_t* p = data_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  uint8_t byte() { return *take(1); }
  uint16_t u16() {
    const uint8_t* p = take(2);
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
  }
  uint32_t u32() {
    const uint8_t* p = take(4);
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
  }
  uint64_t u64() {
    const uint64_t lo = u32();
    return lo | (uint64_t(u32()) << 32);
  }
  std::string line() {
    const size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') {
      if (pos_ - start >= kMaxGlobalName) fail("text line too long");
      ++pos_;
    }
    if (pos_ >= size_) fail("truncated text line");
    std::string s(reinterpret_cast<const char*>(data_ + start), pos_ - start);
    ++pos_;
    return s;
  }
  uint64_t decimal_line() {
    const std::string s = line();
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) fail("bad memo key '" + s + "'");
    return std::stoull(s);
  }

  // ---- values ----
  Id value(Kind k) {
    if (out_.nodes_.size() >= kMaxValues) fail("too many values");
    out_.nodes_.emplace_back();
    out_.nodes_.back().kind = k;
    return static_cast<Id>(out_.nodes_.size() - 1);
  }
  Id container(Kind k, std::vector<Id> items = {}) {
    const Id v = value(k);
    out_.nodes_[v].children = static_cast<uint32_t>(out_.children_.size());
    out_.children_.push_back(std::move(items));
    return v;
  }
  Id text_value(Kind k, std::string s) {
    const Id v = value(k);
    out_.nodes_[v].text = static_cast<uint32_t>(out_.texts_.size());
    out_.texts_.push_back(std::move(s));
    return v;
  }
  void push_integer(Kind k, int64_t i) {
    const Id v = value(k);
    out_.nodes_[v].integer = i;
    push(v);
  }
  void push_long(uint64_t n) {  // little-endian two's complement of n bytes
    if (n > 8) fail("integer of " + std::to_string(n) + " bytes does not fit in 64 bits");
    const uint8_t* p = take(n);
    uint64_t u = 0;
    for (uint64_t i = 0; i < n; ++i) u |= uint64_t(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) u |= ~uint64_t(0) << (8 * n);
    push_integer(Kind::Int, static_cast<int64_t>(u));
  }
  void push_text_int() {  // "I01\n" is True, "I00\n" False, else a decimal
    const std::string s = line();
    if (s == "01" || s == "00") return push_integer(Kind::Bool, s == "01");
    const size_t first_digit = (!s.empty() && s[0] == '-') ? 1 : 0;
    const size_t digits = s.size() - first_digit;
    if (digits == 0 || digits > 18 || s.find_first_not_of("0123456789", first_digit) != std::string::npos)
      fail("bad INT '" + s.substr(0, 32) + "'");
    push_integer(Kind::Int, std::stoll(s));
  }
  void push_binfloat() {  // big-endian IEEE double
    const uint8_t* p = take(8);
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
    const Id v = value(Kind::Float);
    std::memcpy(&out_.nodes_[v].number, &bits, sizeof bits);
    push(v);
  }
  void push_text(Kind k, uint64_t n) {
    const uint8_t* p = take(n);
    push(text_value(k, std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n))));
  }
  void push_global(const std::string& module, const std::string& name) {
    if (module.size() + name.size() + 1 > kMaxGlobalName) fail("global name too long");
    push(text_value(Kind::Global, module + "." + name));
  }

  // A call is not executed; it becomes an Object referring to its argument tuple (no copy, so
  // repeating a call on a memoized tuple costs nothing). collections.OrderedDict() is a dict.
  Id call(Id callable, Id args, const char* opcode) {
    if (!out_.is(callable, Kind::Global)) fail(std::string(opcode) + " of a " + Pickle::kind_name(out_.kind(callable)) + ", not a global");
    if (!out_.is(args, Kind::Tuple)) fail(std::string(opcode) + " with " + Pickle::kind_name(out_.kind(args)) + " arguments, not a tuple");
    if (out_.text(callable) == "collections.OrderedDict" && out_.items(args).empty()) return container(Kind::Dict);
    const Id v = value(Kind::Object);
    out_.nodes_[v].text = out_.nodes_[callable].text;
    out_.nodes_[v].ref = args;
    return v;
  }
  void append(Id list, const std::vector<Id>& items) {
    if (out_.is(list, Kind::Object)) return;  // a list subclass we do not model: drop its items
    if (!out_.is(list, Kind::List)) fail(std::string("APPEND to a ") + Pickle::kind_name(out_.kind(list)));
    auto& children = out_.children_[out_.nodes_[list].children];
    children.insert(children.end(), items.begin(), items.end());
  }
  void set_items(Id dict, const std::vector<Id>& kv) {
    if (out_.is(dict, Kind::Object)) return;  // a dict subclass we do not model: drop its items
    if (!out_.is(dict, Kind::Dict)) fail(std::string("SETITEM on a ") + Pickle::kind_name(out_.kind(dict)));
    auto& children = out_.children_[out_.nodes_[dict].children];
    children.insert(children.end(), kv.begin(), kv.end());
  }

  // ---- stack, marks, memo ----
  size_t frame_start() const { return marks_.empty() ? 0 : marks_.back(); }
  size_t frame_size() const { return stack_.size() - frame_start(); }
  void push(Id v) {
    if (stack_.size() >= kMaxStack) fail("stack too deep");
    stack_.push_back(v);
  }
  Id pop() {
    if (frame_size() == 0) fail("pop from an empty stack");
    const Id v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Id top() const {
    if (frame_size() == 0) fail("empty stack");
    return stack_.back();
  }
  std::vector<Id> pop_mark() {
    if (marks_.empty()) fail("no MARK");
    const size_t start = marks_.back();
    marks_.pop_back();
    std::vector<Id> items(stack_.begin() + static_cast<std::ptrdiff_t>(start), stack_.end());
    stack_.resize(start);
    return items;
  }
  void memo_put(uint64_t key) {
    const Id v = top();
    if (memo_.size() >= kMaxMemo && memo_.count(key) == 0) fail("memo too large");
    memo_[key] = v;
  }
  Id memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + std::to_string(key) + " was never stored");
    return it->second;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::vector<Id> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Id> memo_;
  Pickle out_;
};

Pickle unpickle(const uint8_t* data, size_t size) {
  PickleMachine machine(data, size);
  return machine.run();
}

}  // namespace psic
