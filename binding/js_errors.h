// C++ exceptions -> JS errors whose `code` names the psic error class (src/errors.ts maps them).
#pragma once
#include <napi.h>

#include <exception>
#include <string>

namespace psic_binding {

struct CaughtError {
  std::string code = "PsicError";
  std::string message;
};

// Call inside a catch block: classifies the current exception.
CaughtError classify_current_exception();

Napi::Error make_js_error(Napi::Env env, const CaughtError& error);

// Runs fn; a C++ exception becomes a thrown JS error with a code.
template <typename Fn>
auto guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (...) {
    make_js_error(env, classify_current_exception()).ThrowAsJavaScriptException();
    return decltype(fn())();
  }
}

}  // namespace psic_binding
