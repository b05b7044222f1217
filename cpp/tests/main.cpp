// psic_check [substring]: runs the registered C++ checks and prints TAP.
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
  if (const char* env = std::getenv("PSIC_SHARED")) return fs::exists(env) ? std::string(env) : std::string();
  for (fs::path p = fs::current_path(); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p / ".." / "shared" / "fixtures")) return fs::canonical(p / ".." / "shared").string();
    if (p == p.parent_path()) break;
  }
  return "";
}

}  // namespace psic_test

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
    } catch (const psic::Error& e) {
      ctx.failures.push_back(std::string("uncaught ") + e.kind() + ": " + e.what());
    } catch (const std::exception& e) {
      ctx.failures.push_back(std::string("uncaught exception: ") + e.what());
    }
    if (!skip.empty()) {
      std::cout << "ok " << n << " - " << c.name << " # SKIP " << skip << "\n";
    } else if (ctx.failures.empty()) {
      std::cout << "ok " << n << " - " << c.name << "\n";
    } else {
      ++failed;
      std::cout << "not ok " << n << " - " << c.name << "\n  ---\n";
      for (const auto& f : ctx.failures) std::cout << "  # " << f << "\n";
      std::cout << "  ...\n";
    }
    std::cout.flush();
  }
  std::cout << "1.." << n << "\n";
  return failed == 0 ? 0 : 1;
}
