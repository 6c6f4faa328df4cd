// The cloud port: what the scheduler and the scaling strategies ask of the cloud. The
// simulated region implements it for `simulate`; the Azure backend for a real fleet.
// Calls are synchronous requests; the returned duration is how long until the VM runs.
//
//   auto ready_in = cloud.create_vm(pool, node_id, now);   // kUnavailable: AllocationFailed,
//                                                          // QuotaExceeded; retry later
#pragma once

#include <map>
#include <string>
#include <vector>

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
  // Nodes that turned out not to exist after all (a create the cloud accepted, then failed
  // asynchronously), once each: the caller tells the scheduler they are lost.
  virtual std::vector<NodeId> take_lost() { return {}; }
  // Operations that failed since start (for alerts).
  virtual int64_t failures() const { return 0; }
  // The nodes the cloud already runs for each pool (by spec pool name) when a daemon takes
  // over: a real cluster keeps its nodes across restarts. None in a simulated region.
  virtual Result<std::map<std::string, int64_t>> existing_nodes() {
    return std::map<std::string, int64_t>{};
  }
  // Take one such node over as `id`: it exists and runs; nothing is asked of the cloud.
  virtual void adopt_vm(const PoolModel& pool, NodeId id, TimePoint now) {
    (void)pool;
    (void)id;
    (void)now;
  }
  // Every existing node has been adopted (or is beyond what the spec allows).
  virtual void adoption_done() {}
};

}  // namespace codefleet
