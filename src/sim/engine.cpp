#include "sim/engine.h"

#include <algorithm>
#include <queue>
#include <unordered_map>

#include "core/stats.h"
#include "core/text.h"

namespace codefleet {

using namespace std::chrono;

namespace {

struct Completion {
  TimePoint at;
  TaskId task;
  int64_t epoch;
  bool operator>(const Completion& o) const { return std::tie(at, task) > std::tie(o.at, o.task); }
};

struct Live {
  TimePoint submitted;
  std::optional<TimePoint> deadline;
  int64_t epoch = 0;
  int64_t started_ms = -1;
};

}  // namespace

SimResult simulate(const FleetModel& model, const Workload& workload, ScalingStrategy& strategy,
                   const SimOptions& options) {
  SimResult out;
  out.strategy = strategy.name();
  SimulatedClock clock(options.start);
  SchedulerOptions so;
  so.full_cycle_min_gap = options.full_cycle_min_gap;
  strategy.configure(so);
  Scheduler s(model, QuotaLedger::from_spec(*model.spec), clock, so);
  SimulatedRegion region(model, *model.spec, options.region);
  s.set_cloud(&region);
  out.quota_limits = region.quota_limits();

  Duration horizon = options.horizon;
  if (horizon.count() <= 0) horizon = ceil<days>(workload.span + seconds(1));
  TimePoint end = options.start + horizon;
  out.horizon = horizon;

  region.advance_to(clock.now());
  strategy.start(s, clock.now());

  std::priority_queue<Completion, std::vector<Completion>, std::greater<>> completions;
  std::unordered_map<TaskId, Live> live;
  live.reserve(4096);
  std::vector<int64_t> waits;
  std::map<std::string, std::vector<int64_t>> waits_by_class;
  auto record_wait = [&](const TaskRecord& rec, Duration w) {
    waits.push_back(w.count());
    waits_by_class[rec.task.class_name].push_back(w.count());
  };
  waits.reserve(workload.arrivals.size());
  // The oracle's bill: each task's dominant share of its node × its run time × what a
  // running node costs — compute (micro-USD per hour × ms) and its OS disk (micro-USD per
  // GiB-month × GiB × ms; divided by hours per month once, at the end).
  std::vector<Int128> oracle_compute(model.pools.size()), oracle_disk(model.pools.size());
  auto pay_busy = [&](const TaskRecord& rec, int64_t run_ms) {
    const PoolModel& p = model.pools[static_cast<size_t>(rec.pool)];
    int64_t share = dominant_share_ppm(rec.task.resources, p.node);
    oracle_compute[static_cast<size_t>(p.index)] +=
        static_cast<Int128>(p.price.usd_per_hour.micros()) * run_ms * share / 1'000'000;
    oracle_disk[static_cast<size_t>(p.index)] +=
        static_cast<Int128>(options.region.disk_usd_per_gib_month.micros()) *
        region.disk_gib(p.index) * run_ms * share / 1'000'000;
  };
  Int128 busy_vcpu_ms = 0;
  size_t next_arrival = 0;
  TimePoint next_tick = clock.now();
  TimePoint next_sample = clock.now();
  TimePoint next_cycle_ok = clock.now();
  bool dirty = true;
  int64_t events = 0;
  size_t progress_every = std::max<size_t>(1, workload.arrivals.size() / 100);

  auto sample = [&](TimePoint at) {
    Sample smp;
    smp.at = at;
    smp.nodes = region.vms_by_pool_and_state();
    smp.quota_vcpus = region.quota_vcpus_now();
    smp.cost_so_far = region.bill().total();
    smp.pending = static_cast<int64_t>(s.pending_count());
    out.samples.push_back(std::move(smp));
  };

  while (true) {
    // The next event: an arrival, a completion, a strategy tick, a sample, or a due cycle.
    TimePoint t = end;
    if (next_arrival < workload.arrivals.size())
      t = std::min(t, options.start + workload.arrivals[next_arrival].at);
    if (!completions.empty()) t = std::min(t, completions.top().at);
    t = std::min({t, next_tick, next_sample});
    // Deferred work that became eligible needs a cycle; one still to come is an event.
    auto release = s.next_release();
    if (release && *release <= clock.now()) dirty = true;
    if (release && *release > clock.now()) t = std::min(t, *release);
    if (dirty) t = std::min(t, std::max(next_cycle_ok, clock.now()));
    if (t >= end) break;
    clock.set(std::max(t, clock.now()));
    TimePoint now = clock.now();

    for (NodeId evicted : region.advance_to(now)) {
      auto lost = s.lose_node(evicted);
      if (lost) {
        for (TaskId id : *lost) live[id].epoch++;
        dirty = true;
      }
    }
    while (!completions.empty() && completions.top().at <= now) {
      Completion c = completions.top();
      completions.pop();
      ++events;
      auto it = live.find(c.task);
      if (it == live.end() || it->second.epoch != c.epoch) continue;  // preempted or lost meanwhile
      const TaskRecord* rec = s.find(c.task);
      int64_t run_ms = duration_cast<milliseconds>(rec->task.duration).count();
      pay_busy(*rec, run_ms);
      busy_vcpu_ms += static_cast<Int128>(rec->task.resources.vcpus) * run_ms;
      if (it->second.deadline && now > *it->second.deadline) ++out.deadline_misses;
      (void)s.complete(c.task);
      live.erase(it);
      ++out.completed;
      dirty = true;
    }
    while (next_arrival < workload.arrivals.size() &&
           options.start + workload.arrivals[next_arrival].at <= now) {
      const Arrival& a = workload.arrivals[next_arrival++];
      ++events;
      ++out.tasks_in;
      Task task = a.task;
      if (a.deadline_after_arrival)
        task.deadline = options.start + a.at + *a.deadline_after_arrival;
      std::optional<TimePoint> deadline = task.deadline;
      auto id = s.submit(std::move(task));
      if (!id) {
        ++out.rejected;
      } else {
        live[*id] = Live{now, deadline, 0, -1};
        dirty = true;
      }
      if (options.progress && next_arrival % progress_every == 0) {
        options.progress(static_cast<double>(next_arrival) /
                         static_cast<double>(workload.arrivals.size()));
      }
    }
    if (now >= next_tick) {
      uint64_t before = s.node_epoch();
      strategy.tick(s, now);
      next_tick = now + strategy.interval();
      if (s.node_epoch() != before) dirty = true;
    }
    if (release && *release <= now) dirty = true;  // deferred work became eligible
    if (dirty && now >= next_cycle_ok) {
      CycleResult r = s.cycle();
      ++events;
      for (TaskId id : r.preempted) {
        live[id].epoch++;
        ++out.preemptions;
      }
      for (const auto& adm : r.admitted) {
        const Node& n = s.nodes().at(adm.node);
        const TaskRecord* rec = s.find(adm.task);
        TimePoint start = std::max(now, n.ready_at);
        Live& l = live[adm.task];
        // Wait excludes deliberate off-peak deferral: it counts from when the task became eligible.
        TimePoint eligible = std::max(l.submitted, rec->not_before);
        if (l.started_ms < 0) record_wait(*rec, start - eligible);
        l.started_ms = duration_cast<milliseconds>(start - options.start).count();
        completions.push({start + rec->task.duration, adm.task, l.epoch});
      }
      next_cycle_ok = now + options.min_cycle_gap;
      dirty = false;
      if (r.retry_at) {
        next_cycle_ok = *r.retry_at;
        dirty = true;
      }
    }
    if (now >= next_sample) {
      sample(now);
      next_sample = now + options.sample_every;
    }
  }
  clock.set(end);
  region.advance_to(end);
  sample(end);

  for (const auto& [id, l] : live) {
    if (l.deadline && *l.deadline < end) ++out.deadline_misses;
    const TaskRecord* rec = s.find(id);
    // A task that never started has waited from when it became eligible to the end (at
    // least): leaving it out would flatter the percentiles of a fleet that cannot keep up.
    if (rec && l.started_ms < 0) {
      TimePoint eligible = std::max(l.submitted, rec->not_before);
      if (eligible < end) record_wait(*rec, end - eligible);
    }
    // Work still running at the end: the oracle pays for its busy time up to the horizon.
    if (rec && rec->state == TaskState::kAdmitted && l.started_ms >= 0) {
      int64_t run_ms = std::max<int64_t>(
          0, duration_cast<milliseconds>(end - options.start).count() - l.started_ms);
      pay_busy(*rec, run_ms);
      busy_vcpu_ms += static_cast<Int128>(rec->task.resources.vcpus) * run_ms;
    }
  }
  out.pending = static_cast<int64_t>(live.size());
  out.events = events;
  out.evictions = region.evictions();
  out.allocation_failures = region.allocation_failures();
  out.peak_quota_vcpus = region.peak_quota_vcpus();
  out.wait_p50_ms = percentile(waits, 50);
  out.wait_p95_ms = percentile(waits, 95);
  out.wait_p99_ms = percentile(waits, 99);
  for (auto& [cls, v] : waits_by_class) {
    out.waits_by_class[cls] = {static_cast<int64_t>(v.size()), percentile(v, 50), percentile(v, 95),
                               percentile(v, 99)};
  }

  const RegionBill& bill = region.bill();
  Int128 node_vcpu_ms = 0;
  for (const auto& p : model.pools) {
    auto run = bill.running_ms_by_pool.count(p.name) ? bill.running_ms_by_pool.at(p.name) : 0;
    out.node_hours_by_pool[p.name] = static_cast<double>(run) / 3.6e6;
    out.node_hours += static_cast<double>(run) / 3.6e6;
    node_vcpu_ms += static_cast<Int128>(run) * p.node.vcpus;
  }
  for (const auto& p : model.pools) out.node_cost += bill.compute(p.name) + bill.disk(p.name);
  if (strategy.bills_busy_capacity_only()) {
    Money compute, disk;
    for (const auto& p : model.pools) {
      size_t i = static_cast<size_t>(p.index);
      Money c = Money::from_micros(div_round_half_away(oracle_compute[i], 3'600'000));
      Money d = Money::from_micros(
          div_round_half_away(oracle_disk[i], options.region.hours_per_month * 3'600'000));
      out.cost_by_pool[p.name] = c + d;
      compute += c;
      disk += d;
    }
    out.cost = compute + disk;
    out.cost_by_state["compute"] = compute;
    out.cost_by_state["disk_running"] = disk;
    out.cost_by_state["disk_stopped"] = Money{};
  } else {
    Money compute, disk_running, disk_stopped;
    for (const auto& p : model.pools) {
      Money c = bill.compute(p.name), d = bill.disk(p.name), ds = bill.disk_stopped(p.name);
      out.cost_by_pool[p.name] = c + d;
      compute += c;
      disk_stopped += ds;
      disk_running += d - ds;
    }
    out.cost = compute + disk_running + disk_stopped;  // the sum of the rounded parts shown
    out.cost_by_state["compute"] = compute;
    out.cost_by_state["disk_running"] = disk_running;
    out.cost_by_state["disk_stopped"] = disk_stopped;
  }
  out.utilisation = node_vcpu_ms > 0
                        ? static_cast<double>(busy_vcpu_ms) / static_cast<double>(node_vcpu_ms)
                        : 0.0;
  return out;
}

}  // namespace codefleet
