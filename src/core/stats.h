// Nearest-rank percentiles of samples (waits, latencies), in integers.
//
//   int64_t p95 = percentile(waits_ms, 95);   // reorders `waits_ms` (nth_element)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace codefleet {

// The smallest sample with at least `pct`% of the samples at or below it; 0 when there
// are none. Partially reorders `v`.
inline int64_t percentile(std::vector<int64_t>& v, int pct) {
  if (v.empty()) return 0;
  size_t k = (v.size() * static_cast<size_t>(pct) + 99) / 100;
  k = std::clamp<size_t>(k, 1, v.size()) - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace codefleet
