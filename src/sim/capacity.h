// What a workload asks of a fleet at its busiest, against the most the fleet can hold.
// When the one exceeds the other, waits are bound by capacity — quota and max_nodes —
// and no scaling strategy can meet a wait SLO: `simulate` says so rather than let a
// strategy look bad for what the fleet's size decided.
//
//   CapacityCheck c = check_capacity(model, workload);
//   if (c.peak_gpu_milli > c.fleet_gpu_milli) { ...the fleet cannot carry the peak... }
#pragma once

#include <cstdint>
#include <string>

#include "core/time.h"
#include "routing/fleet_model.h"
#include "workload/traces.h"

namespace codefleet {

struct CapacityCheck {
  // GPUs (thousandths) asked at once if every task ran from its arrival for its duration;
  // tasks no pool of their class can hold (a node too small, or none within quota: they
  // are rejected) are left out.
  int64_t peak_gpu_milli = 0;
  Duration peak_gpu_at{0};  // offset into the workload of the first such peak
  // The most GPUs the pools serving that work can hold at once: their max_nodes, as far as
  // the spec's quotas (family, regional, spot) let them exist beside every pool's
  // min_nodes. A greedy fill, most GPUs per vCPU first.
  int64_t fleet_gpu_milli = 0;
};

CapacityCheck check_capacity(const FleetModel& model, const Workload& workload);

}  // namespace codefleet
