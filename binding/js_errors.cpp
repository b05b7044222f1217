#include "js_errors.h"

#include <c10/util/Exception.h>

#include <new>

#include "errors.h"

namespace psic_binding {

CaughtError classify_current_exception() {
  try {
    throw;
  } catch (const psic::Error& e) {
    return {e.kind(), e.what()};
  } catch (const c10::Error& e) {
    // A LibTorch failure on input that passed our checks is still reported, never fatal.
    return {"PsicError", std::string("LibTorch error: ") + e.what_without_backtrace()};
  } catch (const std::bad_alloc&) {
    return {"PsicLimitError", "out of memory"};
  } catch (const std::exception& e) {
    return {"PsicError", e.what()};
  } catch (...) {
    return {"PsicError", "unknown native error"};
  }
}

Napi::Error make_js_error(Napi::Env env, const CaughtError& error) {
  Napi::Error err = Napi::Error::New(env, error.message);
  err.Set("code", Napi::String::New(env, error.code));
  return err;
}

}  // namespace psic_binding
