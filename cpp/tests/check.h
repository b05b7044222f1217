// A minimal test harness for the C++ core (it runs where Node is absent, e.g. a GPU machine).
// Each check_*.cpp registers cases; main.cpp runs them (optionally filtered) and prints TAP.
//
//   PSIC_CHECK_CASE("area: what it shows") {
//     PSIC_NEEDS_SHARED();                       // SKIP when the shared fixtures are absent
//     EXPECT(a == b);
//     EXPECT_MSG(x < 1e-6, "error " + std::to_string(x));
//     EXPECT_THROWS_AS(psic::read_safetensors(p), psic::FormatError);
//   }
//
// (The macros are EXPECT*, not CHECK*: c10's logging header already defines CHECK.)
#pragma once
#include <exception>
#include <string>
#include <vector>

#include "errors.h"

namespace psic_test {

// Collects the failed expectations of one case; a case passes when it has none.
struct Context {
  std::vector<std::string> failures;
  void check(bool ok, const std::string& what, const char* file, int line) {
    if (!ok) failures.push_back(std::string(file) + ":" + std::to_string(line) + ": " + what);
  }
};
using CheckContext = Context;

// Thrown to skip the rest of a case ("ok N - name # SKIP reason").
struct SkipCase {
  std::string reason;
};

using CaseFn = void (*)(Context&);
struct Case {
  std::string name;
  CaseFn fn;
};

std::vector<Case>& registry();

struct Registrar {
  Registrar(const char* name, CaseFn fn) { registry().push_back({name, fn}); }
};

// $PSIC_SHARED, else ../shared from the working directory or one of its parents; "" if absent.
std::string shared_dir();

// What an exception was, for messages ("psic::FormatError: ...").
inline std::string describe_current_exception() {
  try {
    throw;
  } catch (const psic::Error& e) {
    return std::string(e.kind()) + ": " + e.what();
  } catch (const std::exception& e) {
    return std::string("std::exception: ") + e.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

}  // namespace psic_test

#define PSIC_CAT_(a, b) a##b
#define PSIC_CAT(a, b) PSIC_CAT_(a, b)
#define PSIC_CHECK_CASE(name)                                                                              \
  static void PSIC_CAT(psic_case_, __LINE__)(psic_test::Context&);                                         \
  static psic_test::Registrar PSIC_CAT(psic_registrar_, __LINE__)(name, &PSIC_CAT(psic_case_, __LINE__)); \
  static void PSIC_CAT(psic_case_, __LINE__)(psic_test::Context & ctx_)

#define EXPECT(cond) ctx_.check(static_cast<bool>(cond), #cond, __FILE__, __LINE__)
#define EXPECT_MSG(cond, msg) ctx_.check(static_cast<bool>(cond), (msg), __FILE__, __LINE__)
#define EXPECT_THROWS_AS(expr, type)                                                                   \
  do {                                                                                                 \
    std::string psic_outcome_ = "nothing was thrown";                                                  \
    bool psic_thrown_ = false;                                                                         \
    try {                                                                                              \
      (void)(expr);                                                                                    \
    } catch (const type&) {                                                                            \
      psic_thrown_ = true;                                                                             \
    } catch (...) {                                                                                    \
      psic_outcome_ = psic_test::describe_current_exception();                                         \
    }                                                                                                  \
    ctx_.check(psic_thrown_, "expected " #type " from " #expr ", but " + psic_outcome_, __FILE__, __LINE__); \
  } while (0)
#define PSIC_SKIP(reason) throw psic_test::SkipCase { reason }
#define PSIC_NEEDS_SHARED() \
  if (psic_test::shared_dir().empty()) PSIC_SKIP("shared data not found (set PSIC_SHARED)")
