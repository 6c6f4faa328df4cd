// Admission throughput: one scheduling cycle over 10,000 pending tasks on a fleet of
// 1,000 nodes. Reported as items per second = admission decisions per second.
//   make bench   (or build/bench/codefleet_bench --benchmark_filter=BM_Admission)
#include <random>

#include <benchmark/benchmark.h>

#include "scheduling/scheduler.h"

namespace codefleet {
namespace {

using namespace std::chrono_literals;

// 1,000 nodes: 300 H100 (NC40ads), 600 general (D16s_v5), 100 memory (E32s_v5), in eastus.
const char* kBenchSpec = R"(version: 1
name: bench
regions: [eastus]
quotas:
  - region: eastus
    families: {StandardNCadsH100v5Family: 12000, standardDSv5Family: 9600, standardESv5Family: 3200}
environments:
  - name: prod
    region: eastus
    pools:
      - {name: gpu, sku: Standard_NC40ads_H100_v5, max_nodes: 300, classes: [train, infer]}
      - {name: cpu, sku: Standard_D16s_v5, max_nodes: 600, classes: [web, batch, analytics]}
      - {name: mem, sku: Standard_E32s_v5, max_nodes: 100, classes: [analytics]}
workload_classes:
  - {name: train, resources: {vcpus: 40, memory_gib: 320, gpus: 1, gpu_memory_gib: 94}, duration: 2h}
  - {name: infer, resources: {vcpus: 8, memory_gib: 64, gpus: 1, gpu_memory_gib: 40}, duration: 1h}
  - {name: web, resources: {vcpus: 1, memory_gib: 2}, duration: 10m}
  - {name: batch, resources: {vcpus: 2, memory_gib: 4}, duration: 30m, preemptible: true}
  - {name: analytics, resources: {vcpus: 8, memory_gib: 48}, duration: 1h}
)";

struct Fleet {
  ParsedSpec parsed;
  Catalog catalog;
  FleetModel model;
};

Fleet& fleet() {
  static Fleet f = [] {
    Fleet x{*parse_spec(kBenchSpec, "bench.yaml"), *Catalog::load_default(), {}};
    x.model = *build_fleet_model(x.parsed.spec, x.catalog, {});
    x.model.spec = &x.parsed.spec;
    return x;
  }();
  return f;
}

Task random_task(std::mt19937& rng, int priority_lo, int priority_hi) {
  static const char* kClasses[] = {"train", "infer", "web", "batch", "analytics"};
  const char* cls = kClasses[std::uniform_int_distribution<int>(0, 4)(rng)];
  Task t;
  t.class_name = cls;
  t.tenant = "tenant-" + std::to_string(std::uniform_int_distribution<int>(0, 7)(rng));
  t.priority = std::uniform_int_distribution<int>(priority_lo, priority_hi)(rng);
  t.duration = 1h;
  t.preemptible = std::string(cls) == "batch";
  const WorkloadClass* wc = fleet().parsed.spec.find_class(cls);
  t.resources = wc->resources;
  if (t.resources.gpu_milli == 0) t.resources.vcpus = std::uniform_int_distribution<int>(1, 8)(rng);
  return t;
}

// Fills every node of the fleet to `fill_pct` (1,000 nodes), then queues 10,000 tasks.
std::unique_ptr<Scheduler> prepared(SimulatedClock& clock, int pending_priority_lo,
                                    int pending_priority_hi, int fill_pct = 70,
                                    bool small_only = false) {
  auto s = std::make_unique<Scheduler>(fleet().model, QuotaLedger::from_spec(fleet().parsed.spec),
                                       clock);
  std::mt19937 rng(42);
  // One task per node first, so the fleet grows to its 1,000 nodes, then more to fill them.
  for (const auto& p : fleet().model.pools) {
    for (int64_t i = 0; i < p.max_nodes; ++i) {
      Task t;
      t.class_name = p.name == "gpu" ? "infer" : (p.name == "cpu" ? "batch" : "analytics");
      // Over half of each node's memory, so every filler task gets a node of its own.
      t.resources = {std::max<int64_t>(1, p.node.vcpus * fill_pct / 100),
                     p.node.memory_mib * 51 / 100, p.node.gpu_milli, p.node.gpu_memory_mib / 2};
      t.duration = 1h;
      t.priority = 0;
      t.preemptible = true;
      (void)s->submit(t);
    }
  }
  s->cycle();
  if (s->nodes().size() != 1000) std::abort();  // the fleet the benchmark claims
  clock.advance(30min);                         // old enough to be preempted
  for (int i = 0; i < 10'000; ++i) {
    Task t = random_task(rng, pending_priority_lo, pending_priority_hi);
    if (small_only) {
      t.class_name = "analytics";  // served by the general and the memory pool
      t.resources = {1, 1024, 0, 0};
    }
    (void)s->submit(t);
  }
  return s;
}

// Times one cycle per iteration on a freshly prepared fleet; reports decisions per second
// and the per-cycle average of `counter` (admitted or preempted tasks).
template <typename Prepare>
void run_cycles(benchmark::State& state, Prepare prepare, const char* counter) {
  int64_t decisions = 0, counted = 0;
  for (auto _ : state) {
    state.PauseTiming();
    SimulatedClock clock(*parse_rfc3339("2026-03-02T12:00:00Z"));
    auto s = prepare(clock);
    state.ResumeTiming();
    CycleResult r = s->cycle();
    benchmark::DoNotOptimize(r);
    decisions += static_cast<int64_t>(r.considered);
    counted += static_cast<int64_t>(
        std::string(counter) == "preempted_per_cycle" ? r.preempted.size() : r.admitted.size());
    state.PauseTiming();
    s.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(decisions);
  state.counters[counter] = benchmark::Counter(static_cast<double>(counted) / state.iterations());
  state.counters["nodes"] = 1000;  // prepared() aborts otherwise
}

// Mixed: pending work at the running work's priority; about a tenth fits the free room.
void BM_AdmissionCycle_10kPending_1kNodes(benchmark::State& state) {
  run_cycles(
      state, [](SimulatedClock& c) { return prepared(c, 0, 0); }, "admitted_per_cycle");
}
BENCHMARK(BM_AdmissionCycle_10kPending_1kNodes)->Unit(benchmark::kMillisecond);

// Preemption-heavy: every pending task outranks the running preemptible work, so each
// one that does not fit searches the nodes for victims.
void BM_AdmissionCycle_10kPending_1kNodes_Preempting(benchmark::State& state) {
  run_cycles(
      state, [](SimulatedClock& c) { return prepared(c, 10, 100); }, "preempted_per_cycle");
}
BENCHMARK(BM_AdmissionCycle_10kPending_1kNodes_Preempting)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace codefleet

namespace codefleet {
namespace {

// Every pending task fits: 10,000 tasks of 1 vCPU and 1 GiB onto the 700 CPU nodes, each
// with one vCPU taken, so each decision is a full best-fit scan of a pool's nodes.
void BM_AdmissionCycle_10kPending_1kNodes_AllAdmitted(benchmark::State& state) {
  run_cycles(
      state, [](SimulatedClock& c) { return prepared(c, 0, 0, 0, /*small_only=*/true); },
      "admitted_per_cycle");
}
BENCHMARK(BM_AdmissionCycle_10kPending_1kNodes_AllAdmitted)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace codefleet
