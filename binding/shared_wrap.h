// The JS class of a shared, read-only C++ object (a loaded codec, CLIP model, target graph).
// Defined once per addon; instances are made from C++ after a load, never by `new` in JS.
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

namespace psic_binding {

template <typename Derived, typename Payload>
class SharedWrap : public Napi::ObjectWrap<Derived> {
 public:
  explicit SharedWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info) {}

  static Napi::Object Wrap(Napi::Env, std::shared_ptr<Payload> payload) {
    Napi::Object obj = constructor().New({});
    Derived::Unwrap(obj)->payload_ = std::move(payload);
    return obj;
  }
  // The object behind a JS wrapper of this class; null for anything else.
  static std::shared_ptr<Payload> PayloadOf(const Napi::Value& v) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(constructor().Value())) return nullptr;
    return Derived::Unwrap(v.As<Napi::Object>())->payload_;
  }
  // For PromiseWorker results: a loaded object becomes its JS wrapper.
  static Napi::Value FromResult(Napi::Env env, std::shared_ptr<Payload>& payload) { return Wrap(env, payload); }

 protected:
  using Methods = std::vector<typename Napi::ObjectWrap<Derived>::PropertyDescriptor>;
  static Napi::Function Register(Napi::Env env, const char* name, const Methods& methods) {
    Napi::Function ctor = Napi::ObjectWrap<Derived>::DefineClass(env, name, methods);
    constructor() = Napi::Persistent(ctor);
    constructor().SuppressDestruct();
    return ctor;
  }

  std::shared_ptr<Payload> payload_;

 private:
  static Napi::FunctionReference& constructor() {
    static Napi::FunctionReference ref;
    return ref;
  }
};

}  // namespace psic_binding
