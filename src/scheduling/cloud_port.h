// The cloud port: what the scheduler and the scaling strategies ask of the cloud. The
// simulated region implements it for `simulate`; the Azure backend for a real fleet.
// Calls are synchronous requests; the returned duration is how long until the VM runs.
//
//   auto ready_in = cloud.create_vm(pool, node_id, now);   // kUnavailable: AllocationFailed,
//                                                          // QuotaExceeded; retry later
#pragma once

#include "core/result.h"
#include "core/time.h"
#include "routing/fleet_model.h"

namespace codefleet {

using NodeId = uint64_t;

class CloudPort {
 public:
  virtual ~CloudPort() = default;
  virtual Result<Duration> create_vm(const PoolModel& pool, NodeId id, TimePoint now) = 0;
  // Start a deallocated VM, or resume a hibernated one. May fail: Azure guarantees no
  // capacity on resume.
  virtual Result<Duration> start_vm(const PoolModel& pool, NodeId id, bool hibernated,
                                    TimePoint now) = 0;
  // Deallocate (or hibernate) a VM. It keeps its disks, and its quota.
  virtual void stop_vm(const PoolModel& pool, NodeId id, bool hibernate, TimePoint now) = 0;
  virtual void delete_vm(const PoolModel& pool, NodeId id, TimePoint now) = 0;
};

}  // namespace codefleet
