#include "core/resources.h"

#include <fmt/format.h>

namespace codefleet {

namespace {
std::string gib(int64_t mib) {
  if (mib % kMibPerGib == 0) return fmt::format("{}", mib / kMibPerGib);
  return fmt::format("{:.2f}", static_cast<double>(mib) / kMibPerGib);
}
std::string gpus(int64_t milli) {
  if (milli % kMilliPerGpu == 0) return fmt::format("{}", milli / kMilliPerGpu);
  return fmt::format("{:.3f}", static_cast<double>(milli) / kMilliPerGpu);
}
}  // namespace

std::string Resources::to_string() const {
  std::string out = fmt::format("{} vCPU, {} GiB", vcpus, gib(memory_mib));
  if (gpu_milli > 0) out += fmt::format(", {} GPU ({} GiB)", gpus(gpu_milli), gib(gpu_memory_mib));
  return out;
}

}  // namespace codefleet
