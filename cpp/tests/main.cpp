// psic_check [substring]: runs the registered C++ checks whose name contains the substring
// (all of them without one) and prints TAP version 14. Exits 1 if any case failed.
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>

#include "check.h"
#include "errors.h"
#include "util/blas_core_type.h"

namespace psic_test {

std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

std::string shared_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (const char* env = std::getenv("PSIC_SHARED"); env && *env)
    return fs::exists(env, ec) ? fs::canonical(env, ec).string() : std::string();
  for (fs::path p = fs::current_path(ec); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p / ".." / "shared" / "fixtures", ec)) return fs::canonical(p / ".." / "shared", ec).string();
    if (p == p.parent_path()) break;
  }
  return "";
}

}  // namespace psic_test

namespace {

// A YAML double-quoted scalar.
std::string yaml_quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  psic::pin_openblas_core_type_and_reexec(argv);
  const std::string filter = argc > 1 ? argv[1] : "";
  std::cout << "TAP version 14\n";
  int n = 0, failed = 0;
  for (const auto& c : psic_test::registry()) {
    if (!filter.empty() && c.name.find(filter) == std::string::npos) continue;
    ++n;
    psic_test::Context ctx;
    std::string skip;
    try {
      c.fn(ctx);
    } catch (const psic_test::SkipCase& s) {
      skip = s.reason;
    } catch (...) {
      ctx.failures.push_back("uncaught " + psic_test::describe_current_exception());
    }
    if (!skip.empty() && ctx.failures.empty()) {
      std::cout << "ok " << n << " - " << c.name << " # SKIP " << skip << "\n";
    } else if (ctx.failures.empty()) {
      std::cout << "ok " << n << " - " << c.name << "\n";
    } else {
      ++failed;
      std::cout << "not ok " << n << " - " << c.name << "\n  ---\n  failures:\n";
      for (const auto& f : ctx.failures) std::cout << "    - " << yaml_quote(f) << "\n";
      std::cout << "  ...\n";
    }
    std::cout.flush();
  }
  std::cout << "1.." << n << "\n";
  return failed == 0 ? 0 : 1;
}
