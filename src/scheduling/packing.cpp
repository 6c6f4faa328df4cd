#include "scheduling/packing.h"

#include <algorithm>
#include <tuple>

namespace codefleet {

size_t pack_best_fit_decreasing(const Resources& capacity, std::vector<Resources> needs,
                                size_t* unplaceable) {
  std::sort(needs.begin(), needs.end(), [](const Resources& a, const Resources& b) {
    return std::tie(a.gpu_milli, a.gpu_memory_mib, a.vcpus, a.memory_mib) >
           std::tie(b.gpu_milli, b.gpu_memory_mib, b.vcpus, b.memory_mib);
  });
  std::vector<Resources> free;  // one entry per opened node
  size_t skipped = 0;
  for (const auto& n : needs) {
    if (!n.fits_in(capacity)) {
      ++skipped;
      continue;
    }
    int best = -1;
    for (size_t i = 0; i < free.size(); ++i) {
      if (!n.fits_in(free[i])) continue;
      if (best < 0 || fit_score(free[i], n) < fit_score(free[best], n)) best = static_cast<int>(i);
    }
    if (best < 0) {
      free.push_back(capacity);
      best = static_cast<int>(free.size() - 1);
    }
    free[best] = free[best] - n;
  }
  if (unplaceable) *unplaceable = skipped;
  return free.size();
}

}  // namespace codefleet
