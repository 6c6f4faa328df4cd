// Scaling strategies: what to do with nodes when demand falls (stop, hibernate, delete)
// and rises ahead of it (warm pools, schedules). Each is a small object behind one
// interface; the simulator compares them on the same workload, and the daemon runs one.
//
//   auto s = make_strategy("codefleet", model);
//   s->configure(options);           // scheduler settings it needs (deferral, latency...)
//   s->start(scheduler, now);        // initial fleet
//   s->tick(scheduler, now);         // every s->interval()
//
// Strategies:
//   always-on          the requirements' 24/7 fleet: every pool at max_nodes, never stopped
//   cluster-autoscaler Kubernetes Cluster Autoscaler defaults: 10 s scan; a node unneeded
//                      for 10 min is deleted; no scale-down for 10 min after a scale-up.
//                      (Running tasks are not moved, so only empty nodes are unneeded.)
//   office-hours       Azure Start/Stop VMs: pools start at max_nodes when their schedule
//                      opens (the pool's `schedule`, else weekdays 08:00-18:00 in the
//                      off-peak time zone) and are deallocated when it closes; no scale-up
//                      outside it
//   codefleet          idle nodes stop after the time that makes stopping pay (the time to
//                      bring one back: the pool's start latency, or its create latency
//                      where idle nodes are deleted; at most `idle.after`), by each pool's idle
//                      action: hibernate where the size can, deallocate otherwise, or
//                      delete; work waits for room that running work frees sooner than a
//                      new node would come (SchedulerOptions::wait_for_room); a warm pool
//                      of stopped nodes sized from the last hour's peak
//                      demand, the rest deleted (freeing quota); off-peak deferral; spot
//                      pools for preemptible work (through routing)
//   oracle             the lower bound: zero start latency, pays only for busy capacity
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "scheduling/scheduler.h"

namespace codefleet {

class ScalingStrategy {
 public:
  virtual ~ScalingStrategy() = default;
  virtual std::string name() const = 0;
  virtual void configure(SchedulerOptions& options) const = 0;
  virtual void start(Scheduler& s, TimePoint now) {
    (void)s;
    (void)now;
  }
  virtual void tick(Scheduler& s, TimePoint now) = 0;
  virtual Duration interval() const { return std::chrono::seconds(10); }
  // The oracle is billed for busy capacity only (task time × share of a node).
  virtual bool bills_busy_capacity_only() const { return false; }
};

std::vector<std::string> strategy_names();
// kInvalidInput naming the valid names for an unknown one.
Result<std::unique_ptr<ScalingStrategy>> make_strategy(const std::string& name,
                                                       const FleetModel& model);

}  // namespace codefleet
