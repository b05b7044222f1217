// A minimal test harness for the C++ core (runs where Node is absent, e.g. a GPU machine).
// Cases register themselves; psic_check runs them and prints TAP.
#pragma once
#include <string>
#include <vector>

namespace psic_test {

struct Context {
  std::vector<std::string> failures;
  void check(bool ok, const std::string& what, const char* file, int line) {
    if (!ok) failures.push_back(std::string(file) + ":" + std::to_string(line) + ": " + what);
  }
};

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

// PSIC_SHARED, else ../shared from the working directory or its parents; "" if absent.
std::string shared_dir();

}  // namespace psic_test

#define PSIC_CAT_(a, b) a##b
#define PSIC_CAT(a, b) PSIC_CAT_(a, b)
#define PSIC_CHECK_CASE(name)                                                                    \
  static void PSIC_CAT(psic_case_, __LINE__)(psic_test::Context&);                               \
  static psic_test::Registrar PSIC_CAT(psic_registrar_, __LINE__)(name, &PSIC_CAT(psic_case_, __LINE__)); \
  static void PSIC_CAT(psic_case_, __LINE__)(psic_test::Context & ctx_)

#define EXPECT(cond) ctx_.check(static_cast<bool>(cond), #cond, __FILE__, __LINE__)
#define EXPECT_MSG(cond, msg) ctx_.check(static_cast<bool>(cond), (msg), __FILE__, __LINE__)
#define EXPECT_THROWS_AS(expr, type)                                                   \
  do {                                                                                \
    bool psic_thrown_ = false;                                                        \
    try {                                                                             \
      (void)(expr);                                                                   \
    } catch (const type&) {                                                           \
      psic_thrown_ = true;                                                            \
    } catch (...) {                                                                   \
    }                                                                                 \
    ctx_.check(psic_thrown_, "expected " #type " from " #expr, __FILE__, __LINE__);   \
  } while (0)
#define PSIC_NEEDS_SHARED() \
  if (psic_test::shared_dir().empty()) throw psic_test::SkipCase { "shared data not found (set PSIC_SHARED)" }
