#include "formats/pickle.h"

#include <cstring>
#include <unordered_map>

#include "errors.h"

namespace psic {

namespace {

constexpr size_t kMaxStack = 1u << 22;
constexpr size_t kMaxMemo = 1u << 22;

PickleRef make(PickleValue::Kind k) {
  auto v = std::make_shared<PickleValue>();
  v->kind = k;
  return v;
}

class Machine {
 public:
  Machine(const uint8_t* d, size_t n, const PickleHooks& h) : data_(d), size_(n), hooks_(h) {}

  PickleRef run() {
    while (true) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                        // PROTO
        case 0x95: take(8); break;                       // FRAME (framing is transparent)
        case '.':                                        // STOP
          if (stack_.empty()) fail("STOP with an empty stack");
          return stack_.back();
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '0': pop(); break;                            // POP
        case '1': pop_mark(); break;                       // POP_MARK
        case 'N': push(make(PickleValue::Kind::None)); break;
        case 0x88: push_bool(true); break;   // NEWTRUE
        case 0x89: push_bool(false); break;  // NEWFALSE
        case 'J': push_int(static_cast<int32_t>(u32())); break;  // BININT
        case 'K': push_int(byte()); break;                       // BININT1
        case 'M': push_int(u16()); break;                        // BININT2
        case 0x8a: push_long(byte()); break;                     // LONG1
        case 0x8b: push_long(u32()); break;                      // LONG4
        case 'G': {                                              // BINFLOAT (big-endian double)
          const uint8_t* p = take(8);
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
          auto v = make(PickleValue::Kind::Float);
          std::memcpy(&v->number, &bits, 8);
          push(v);
          break;
        }
        case 'X': push_text(PickleValue::Kind::String, u32()); break;   // BINUNICODE
        case 0x8c: push_text(PickleValue::Kind::String, byte()); break; // SHORT_BINUNICODE
        case 0x8d: push_text(PickleValue::Kind::String, u64()); break;  // BINUNICODE8
        case 'B': push_text(PickleValue::Kind::Bytes, u32()); break;    // BINBYTES
        case 'C': push_text(PickleValue::Kind::Bytes, byte()); break;   // SHORT_BINBYTES
        case 0x8e: push_text(PickleValue::Kind::Bytes, u64()); break;   // BINBYTES8
        case 'T': push_text(PickleValue::Kind::String, u32()); break;   // BINSTRING (py2 str)
        case 'U': push_text(PickleValue::Kind::String, byte()); break;  // SHORT_BINSTRING
        case ')': push(make(PickleValue::Kind::Tuple)); break;          // EMPTY_TUPLE
        case 't': {                                                     // TUPLE
          auto v = make(PickleValue::Kind::Tuple);
          v->items = pop_mark();
          push(v);
          break;
        }
        case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
          const size_t n = op - 0x84;
          if (stack_.size() < n) fail("TUPLE on a short stack");
          auto v = make(PickleValue::Kind::Tuple);
          v->items.assign(stack_.end() - n, stack_.end());
          stack_.resize(stack_.size() - n);
          push(v);
          break;
        }
        case ']': push(make(PickleValue::Kind::List)); break;  // EMPTY_LIST
        case 'l': {                                            // LIST
          auto v = make(PickleValue::Kind::List);
          v->items = pop_mark();
          push(v);
          break;
        }
        case 'a': {  // APPEND
          PickleRef item = pop();
          list_top()->items.push_back(item);
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_mark();
          auto list = list_top();
          list->items.insert(list->items.end(), items.begin(), items.end());
          break;
        }
        case '}': push(make(PickleValue::Kind::Dict)); break;  // EMPTY_DICT
        case 'd': {                                            // DICT
          auto items = pop_mark();
          auto v = make(PickleValue::Kind::Dict);
          add_pairs(v, items);
          push(v);
          break;
        }
        case 's': {  // SETITEM
          PickleRef value = pop(), key = pop();
          dict_top()->entries.emplace_back(key, value);
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          add_pairs(dict_top(), items);
          break;
        }
        case 'c': {  // GLOBAL "module\nname\n"
          const std::string module = line(), name = line();
          push_global(module + "." + name);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          PickleRef name = pop(), module = pop();
          if (!name->is(PickleValue::Kind::String) || !module->is(PickleValue::Kind::String)) fail("STACK_GLOBAL needs strings");
          push_global(module->text + "." + name->text);
          break;
        }
        case 'Q': {  // BINPERSID
          PickleRef pid = pop();
          if (!hooks_.persistent_load) fail("persistent id without a loader");
          push(hooks_.persistent_load(pid));
          break;
        }
        case 'R': {  // REDUCE
          PickleRef args = pop(), callable = pop();
          push(apply(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          PickleRef args = pop(), cls = pop();
          push(apply(cls, args));
          break;
        }
        case 'b': {  // BUILD: object state (a dict's _metadata, a module's __dict__): not needed
          pop();
          if (stack_.empty()) fail("BUILD on an empty stack");
          break;
        }
        case 'q': memo_put(byte()); break;   // BINPUT
        case 'r': memo_put(u32()); break;    // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
        case 'h': push(memo_get(byte())); break;   // BINGET
        case 'j': push(memo_get(u32())); break;    // LONG_BINGET
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("unsupported pickle opcode ") + hex);
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("checkpoint pickle is corrupted or unsupported: " + what + " (at byte " + std::to_string(pos_) + ")");
  }
  const uint8_t* take(uint64_t n) {
    if (n > size_ - pos_) fail("truncated");
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint8_t byte() { return *take(1); }
  uint32_t u16() { const uint8_t* p = take(2); return p[0] | (p[1] << 8); }
  uint32_t u32() {
    const uint8_t* p = take(4);
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
           (static_cast<uint32_t>(p[3]) << 24);
  }
  uint64_t u64() { const uint64_t lo = u32(); return lo | (static_cast<uint64_t>(u32()) << 32); }
  std::string line() {
    const size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') {
      if (pos_ - start > 1024) fail("GLOBAL name too long");
      ++pos_;
    }
    if (pos_ >= size_) fail("truncated GLOBAL");
    std::string s(reinterpret_cast<const char*>(data_ + start), pos_ - start);
    ++pos_;
    return s;
  }
  void push(PickleRef v) {
    if (stack_.size() >= kMaxStack) fail("stack too deep");
    stack_.push_back(std::move(v));
  }
  PickleRef pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("pop from an empty stack");
    PickleRef v = stack_.back();
    stack_.pop_back();
    return v;
  }
  std::vector<PickleRef> pop_mark() {
    if (marks_.empty()) fail("no MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) fail("MARK beyond the stack");
    std::vector<PickleRef> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }
  void push_bool(bool b) { auto v = make(PickleValue::Kind::Bool); v->integer = b; push(v); }
  void push_int(int64_t i) { auto v = make(PickleValue::Kind::Int); v->integer = i; push(v); }
  void push_long(uint64_t n) {
    if (n > 8) fail("integer wider than 64 bits");
    const uint8_t* p = take(n);
    uint64_t u = 0;
    for (uint64_t i = 0; i < n; ++i) u |= static_cast<uint64_t>(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) u |= ~0ull << (8 * n);  // sign-extend two's complement
    push_int(static_cast<int64_t>(u));
  }
  void push_text(PickleValue::Kind k, uint64_t n) {
    const uint8_t* p = take(n);
    auto v = make(k);
    v->text.assign(reinterpret_cast<const char*>(p), n);
    push(v);
  }
  void push_global(const std::string& name) {
    auto v = make(PickleValue::Kind::Global);
    v->text = name;
    push(v);
  }
  PickleRef list_top() {
    if (stack_.empty() || !stack_.back()->is(PickleValue::Kind::List)) fail("APPEND to a non-list");
    return stack_.back();
  }
  PickleRef dict_top() {
    if (stack_.empty() || !stack_.back()->is(PickleValue::Kind::Dict)) fail("SETITEM on a non-dict");
    return stack_.back();
  }
  void add_pairs(const PickleRef& dict, const std::vector<PickleRef>& items) {
    if (items.size() % 2) fail("odd number of dict items");
    for (size_t i = 0; i < items.size(); i += 2) dict->entries.emplace_back(items[i], items[i + 1]);
  }
  PickleRef apply(const PickleRef& callable, const PickleRef& args) {
    if (!callable->is(PickleValue::Kind::Global)) fail("call of a non-global");
    if (hooks_.reduce) {
      if (PickleRef v = hooks_.reduce(callable->text, args)) return v;
    }
    auto obj = make(PickleValue::Kind::Object);
    obj->text = callable->text;
    if (args->is(PickleValue::Kind::Tuple)) obj->items = args->items;
    return obj;
  }
  void memo_put(uint64_t key) {
    if (stack_.empty()) fail("PUT on an empty stack");
    if (memo_.size() >= kMaxMemo) fail("memo too large");
    memo_[key] = stack_.back();
  }
  PickleRef memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("GET of an unknown memo key");
    return it->second;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const PickleHooks& hooks_;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;
};

}  // namespace

PickleRef unpickle(const uint8_t* data, size_t size, const PickleHooks& hooks) {
  Machine m(data, size, hooks);
  return m.run();
}

}  // namespace psic
