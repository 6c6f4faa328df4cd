// Resources: what a VM size offers or a task needs, in integer units.
//
// GPUs are counted in thousandths (`gpu_milli`) because Azure sells GPU slices:
// Standard_NV6ads_A10_v5 has 1/6 of an A10 = 167 milli-GPUs. A whole H100 = 1000.
//
//   Resources need{.vcpus = 8, .memory_mib = 32 * 1024, .gpu_milli = 1000};
//   bool ok = need.fits_in(node);
#pragma once

#include <cstdint>
#include <string>

namespace codefleet {

struct Resources {
  int64_t vcpus = 0;
  int64_t memory_mib = 0;
  int64_t gpu_milli = 0;
  int64_t gpu_memory_mib = 0;

  bool fits_in(const Resources& capacity) const {
    return vcpus <= capacity.vcpus && memory_mib <= capacity.memory_mib &&
           gpu_milli <= capacity.gpu_milli && gpu_memory_mib <= capacity.gpu_memory_mib;
  }
  Resources operator+(const Resources& o) const {
    return {vcpus + o.vcpus, memory_mib + o.memory_mib, gpu_milli + o.gpu_milli,
            gpu_memory_mib + o.gpu_memory_mib};
  }
  Resources operator-(const Resources& o) const {
    return {vcpus - o.vcpus, memory_mib - o.memory_mib, gpu_milli - o.gpu_milli,
            gpu_memory_mib - o.gpu_memory_mib};
  }
  bool operator==(const Resources&) const = default;
  // "8 vCPU, 32 GiB, 1 GPU (80 GiB)"
  std::string to_string() const;
};

constexpr int64_t kMibPerGib = 1024;
constexpr int64_t kMilliPerGpu = 1000;

}  // namespace codefleet
