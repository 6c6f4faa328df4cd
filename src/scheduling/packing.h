// Bin packing of tasks onto nodes. GPUs first: GPU count and GPU memory are never
// over-committed, and the fullest node that still fits wins (best fit).
//
//   size_t nodes = pack_best_fit_decreasing(node_capacity, needs);  // autoscaler input
#pragma once

#include <cstddef>
#include <vector>

#include "core/resources.h"

namespace codefleet {

// Leftover capacity after placing `need` on a node with `free` capacity, as a tuple
// ordered GPU-first; smaller is a better fit.
struct FitScore {
  int64_t gpu_milli, gpu_memory_mib, vcpus, memory_mib;
  auto operator<=>(const FitScore&) const = default;
};
inline FitScore fit_score(const Resources& free, const Resources& need) {
  return {free.gpu_milli - need.gpu_milli, free.gpu_memory_mib - need.gpu_memory_mib,
          free.vcpus - need.vcpus, free.memory_mib - need.memory_mib};
}

// Number of empty nodes of `capacity` that best-fit decreasing needs for `needs`
// (sorted GPU-first, largest first). Needs larger than a node are skipped and counted
// in `*unplaceable` when given.
size_t pack_best_fit_decreasing(const Resources& capacity, std::vector<Resources> needs,
                                size_t* unplaceable = nullptr);

}  // namespace codefleet
