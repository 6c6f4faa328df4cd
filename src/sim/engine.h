// The simulator: a discrete-event loop on a `SimulatedClock` that drives the real
// scheduler (routing, admission, preemption, packing) and a scaling strategy against a
// `SimulatedRegion`, with a workload of task arrivals. No simulation-only copy of any
// policy: the scheduler and strategies are the daemon's.
//
//   SimResult r = simulate(model, workload, *make_strategy("codefleet", model).value(), opts);
//   r.cost, r.wait_p95, r.tasks_completed ...
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/money.h"
#include "scaling/strategy.h"
#include "sim/region.h"
#include "workload/traces.h"

namespace codefleet {

struct SimOptions {
  TimePoint start = *parse_rfc3339("2026-01-05T00:00:00Z");  // a Monday
  Duration horizon{0};  // 0 = the workload's span rounded up to whole days
  RegionOptions region;
  Duration sample_every{std::chrono::hours(1)};
  Duration min_cycle_gap{std::chrono::seconds(1)};  // cycles at most once a simulated second
  Duration full_cycle_min_gap{
      std::chrono::seconds(5)};          // full cycles (all pending work) at most this often
  std::function<void(double)> progress;  // fraction done, now and then
};

struct Sample {
  TimePoint at;
  std::map<std::string, std::map<std::string, int64_t>> nodes;  // pool → state → count
  std::map<std::string, int64_t> quota_vcpus;                   // family → cores in use
  Money cost_so_far;
  int64_t pending = 0;
};

struct SimResult {
  std::string strategy;
  Money cost;
  // What the nodes the run brought up cost at whole-node prices (compute and disks): the
  // cost of every strategy but the oracle; the oracle's zero-latency nodes, deleted as
  // soon as they empty, at their real price.
  Money node_cost;
  std::map<std::string, Money> cost_by_pool;
  std::map<std::string, Money> cost_by_state;  // compute, disk_running, disk_stopped
  std::map<std::string, double> node_hours_by_pool;
  double node_hours = 0;
  int64_t wait_p50_ms = 0, wait_p95_ms = 0, wait_p99_ms = 0;
  struct ClassWaits {
    int64_t tasks = 0;  // tasks that waited (started, or still waiting at the end)
    int64_t p50_ms = 0, p95_ms = 0, p99_ms = 0;
  };
  std::map<std::string, ClassWaits> waits_by_class;
  int64_t deadline_misses = 0;
  std::map<std::string, int64_t> peak_quota_vcpus;
  std::map<std::string, int64_t> quota_limits;
  double utilisation = 0;  // busy vCPU-hours / billed node vCPU-hours
  int64_t tasks_in = 0, completed = 0, rejected = 0, pending = 0;
  int64_t preemptions = 0, evictions = 0, allocation_failures = 0;
  int64_t events = 0;
  Duration horizon{0};  // the period billed
  std::vector<Sample> samples;
};

SimResult simulate(const FleetModel& model, const Workload& workload, ScalingStrategy& strategy,
                   const SimOptions& options);

}  // namespace codefleet
