#include "formats/torchscript.h"

#include <torch/script.h>

#include "errors.h"
#include "formats/zip_archive.h"

namespace psic {

bool is_torchscript_archive(const uint8_t* data, size_t size) {
  if (size < 4 || data[0] != 'P' || data[1] != 'K') return false;
  const ZipArchive archive(data, size);
  for (const ZipEntry& entry : archive.entries()) {
    const std::string& name = entry.name;
    const auto slash = name.find('/');
    if (slash == std::string::npos) continue;
    const std::string rest = name.substr(slash + 1);
    if (rest == "constants.pkl" || rest.rfind("code/", 0) == 0) return true;
  }
  return false;
}

NamedTensors read_torchscript_tensors(const std::string& path) {
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& e) {
    throw FormatError("cannot load TorchScript archive '" + path + "': " + e.what_without_backtrace());
  }
  NamedTensors out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out.emplace_back(p.name, p.value.detach());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out.emplace_back(b.name, b.value.detach());
  return out;
}

}  // namespace psic
