// The simulator on the bundled example and fixtures: accounting invariants, the cost
// ordering of the strategies, quota never exceeded, determinism, and bad traces.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "report/sim_report.h"
#include "sim/capacity.h"
#include "sim/engine.h"

namespace codefleet {
namespace {

struct Fixture {
  ParsedSpec parsed;
  Catalog catalog;
  FleetModel model;
};

std::unique_ptr<Fixture> recommended() {
  auto parsed = parse_spec_file(std::string(CODEFLEET_SOURCE_DIR) + "/examples/recommended.yaml");
  EXPECT_TRUE(parsed);
  auto f = std::make_unique<Fixture>(Fixture{*parsed, *Catalog::load_default(), {}});
  auto model = build_fleet_model(f->parsed.spec, f->catalog, {});
  EXPECT_TRUE(model) << (model ? "" : model.error().message);
  f->model = *model;
  f->model.spec = &f->parsed.spec;
  return f;
}

std::string read(const std::string& rel) {
  std::ifstream in(std::string(CODEFLEET_FIXTURES) + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::map<std::string, SimResult> run_all(const Fixture& f, const Workload& w,
                                         SimOptions opts = {}) {
  std::map<std::string, SimResult> out;
  for (const auto& name : strategy_names()) {
    auto s = make_strategy(name, f.model);
    EXPECT_TRUE(s);
    out[name] = simulate(f.model, w, **s, opts);
  }
  return out;
}

void check_invariants(const Fixture& f, const std::map<std::string, SimResult>& results) {
  for (const auto& [name, r] : results) {
    SCOPED_TRACE(name);
    EXPECT_EQ(r.tasks_in, r.completed + r.rejected + r.pending);
    for (const auto& [family, peak] : r.peak_quota_vcpus) {
      auto limit = r.quota_limits.find(family);
      if (limit != r.quota_limits.end()) {
        EXPECT_LE(peak, limit->second) << family;
      }
    }
  }
  const Money oracle = results.at("oracle").cost, ours = results.at("codefleet").cost;
  EXPECT_LE(oracle, ours);
  EXPECT_LE(ours, results.at("always-on").cost);
  EXPECT_LE(ours, results.at("cluster-autoscaler").cost);
  int64_t slo_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(f.parsed.spec.policies.wait_slo_p95)
          .count();
  EXPECT_LE(results.at("codefleet").wait_p95_ms, slo_ms);
}

TEST(Simulate, SyntheticWeekOrdersTheStrategies) {
  auto f = recommended();
  Workload w = synthetic_workload(f->model, {5000, 7, 42});
  ASSERT_EQ(w.arrivals.size(), 5000u);
  auto results = run_all(*f, w);
  check_invariants(*f, results);
  EXPECT_EQ(results.at("codefleet").rejected, 0);
  EXPECT_GT(results.at("codefleet").completed, 4500);
}

TEST(Simulate, AzureLlmTraceFixture) {
  auto f = recommended();
  auto w = load_trace(read("traces/azure-llm-conv-2023-first300.csv"), "azure.csv",
                      TraceFormat::kAzureLlm, f->parsed.spec, {});
  ASSERT_TRUE(w) << w.error().describe();
  EXPECT_EQ(w->arrivals.size(), 300u);
  // 374 prompt tokens at 8,000 tok/s + 44 generated at 1,600/32 tok/s per sequence = 0.93 s.
  EXPECT_EQ(w->arrivals[0].task.duration, std::chrono::milliseconds(46 + 880));
  check_invariants(*f, run_all(*f, *w));
}

TEST(Simulate, AlibabaPodsFixture) {
  auto f = recommended();
  auto w = load_trace(read("traces/alibaba-pods-small.csv"), "pods.csv", TraceFormat::kAlibabaPods,
                      f->parsed.spec, {});
  ASSERT_TRUE(w) << w.error().describe();
  ASSERT_EQ(w->arrivals.size(), 7u);
  EXPECT_EQ(w->arrivals[0].at, std::chrono::seconds(0));
  EXPECT_EQ(w->arrivals[0].task.resources.vcpus, 4);
  EXPECT_EQ(w->arrivals[0].task.duration, std::chrono::seconds(3598));
  EXPECT_TRUE(w->arrivals[1].task.preemptible);  // qos BE
  EXPECT_EQ(w->arrivals[4].task.resources.gpu_milli, 500);
  auto results = run_all(*f, *w);
  check_invariants(*f, results);
  EXPECT_EQ(results.at("codefleet").rejected, 1);  // 8 GPUs: no pool has them
}

Workload one_task_of(const Fixture& f, const std::string& cls) {
  Workload w;
  w.arrivals.push_back({std::chrono::seconds(0), task_from_class(*f.parsed.spec.find_class(cls))});
  return w;
}

TEST(Capacity, FleetGpusAreTheServingPoolsMaxNodesWithinQuota) {
  auto f = recommended();
  // batch-inference runs on h100-train (24 × 1 GPU) and h100-infer (6 × 2): 1,440 vCPUs,
  // the family's quota. fine-tune runs on h100-train only.
  EXPECT_EQ(check_capacity(f->model, one_task_of(*f, "batch-inference")).fleet_gpu_milli, 36'000);
  EXPECT_EQ(check_capacity(f->model, one_task_of(*f, "fine-tune")).fleet_gpu_milli, 24'000);
  EXPECT_EQ(check_capacity(f->model, Workload{}).fleet_gpu_milli, 0);  // no GPU work
  // A 400-vCPU quota: h100-infer's min_nodes (one 80-vCPU node) exists whatever the load,
  // leaving 320 vCPUs: eight 40-vCPU nodes.
  for (auto& q : f->parsed.spec.quotas) q.families["StandardNCadsH100v5Family"] = 400;
  EXPECT_EQ(check_capacity(f->model, one_task_of(*f, "batch-inference")).fleet_gpu_milli, 10'000);
  EXPECT_EQ(check_capacity(f->model, one_task_of(*f, "fine-tune")).fleet_gpu_milli, 8'000);
}

TEST(Capacity, PeakGpusIsTheBusiestOverlapOfWhatTheFleetCanHold) {
  auto f = recommended();
  const WorkloadClass* cls = f->parsed.spec.find_class("batch-inference");
  ASSERT_NE(cls, nullptr);
  auto task = [&](int64_t gpu_milli, int64_t secs) {
    Task t = task_from_class(*cls);
    t.resources.gpu_milli = gpu_milli;
    t.duration = std::chrono::seconds(secs);
    return t;
  };
  Workload w;
  w.arrivals.push_back({std::chrono::seconds(0), task(1000, 10)});
  w.arrivals.push_back({std::chrono::seconds(5), task(500, 10)});    // 1.5 GPUs from 5 s
  w.arrivals.push_back({std::chrono::seconds(10), task(250, 10)});   // the first ends as it comes
  w.arrivals.push_back({std::chrono::seconds(12), task(8000, 10)});  // no node has 8 GPUs
  CapacityCheck c = check_capacity(f->model, w);
  EXPECT_EQ(c.peak_gpu_milli, 1500);
  EXPECT_EQ(c.peak_gpu_at, std::chrono::seconds(5));
}

TEST(Simulate, ATaskThatNeverStartsWaitsUntilTheEnd) {
  auto f = recommended();
  // Room for one H100 node: a 30-hour task holds it past the one-day horizon, so the task
  // after it never starts. Its wait counts, to the end, rather than vanish from the
  // percentiles.
  for (auto& q : f->parsed.spec.quotas) q.families["StandardNCadsH100v5Family"] = 40;
  const WorkloadClass* cls = f->parsed.spec.find_class("batch-inference");
  ASSERT_NE(cls, nullptr);
  Task t = task_from_class(*cls);
  t.deferrable = false;
  Workload w;
  t.duration = std::chrono::hours(30);
  w.arrivals.push_back({std::chrono::seconds(0), t});
  t.duration = std::chrono::hours(2);
  w.arrivals.push_back({std::chrono::hours(1), t});
  w.span = std::chrono::hours(1);
  auto s = make_strategy("oracle", f->model);
  ASSERT_TRUE(s);
  SimResult r = simulate(f->model, w, **s, {});
  EXPECT_EQ(r.pending, 2);  // one running, one waiting
  EXPECT_EQ(r.wait_p99_ms, 23 * 3'600'000);
  ASSERT_EQ(r.waits_by_class.size(), 1u);
  const auto& by_class = r.waits_by_class.at("batch-inference");
  EXPECT_EQ(by_class.tasks, 2);
  EXPECT_EQ(by_class.p50_ms, 0);
  EXPECT_EQ(by_class.p99_ms, 23 * 3'600'000);
}

TEST(Simulate, SameInputsSameResults) {
  auto f = recommended();
  Workload w = synthetic_workload(f->model, {3000, 3, 7});
  SimOptions opts;
  opts.region.allocation_failure_rate = 0.05;
  opts.region.spot_evictions_per_node_hour = 0.2;
  auto render = [&] {
    auto results = run_all(*f, w, opts);
    std::vector<SimResult> v;
    for (auto& [n, r] : results) v.push_back(r);
    return write_timeseries_csv(v);
  };
  std::string a = render(), b = render();
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), 1000u);
}

TEST(Simulate, FailuresAndEvictionsAreRecoveredFrom) {
  auto f = recommended();
  Workload w = synthetic_workload(f->model, {3000, 3, 9});
  SimOptions opts;
  opts.region.allocation_failure_rate = 0.2;
  opts.region.spot_evictions_per_node_hour = 1.0;
  auto s = make_strategy("codefleet", f->model);
  SimResult r = simulate(f->model, w, **s, opts);
  EXPECT_GT(r.allocation_failures, 0);
  EXPECT_GT(r.evictions, 0);
  EXPECT_EQ(r.tasks_in, r.completed + r.rejected + r.pending);
  EXPECT_GT(r.completed, 2500);
}

TEST(Strategy, CodefleetDeletesAnIdleNodeAfterItsCreateLatency) {
  auto f = recommended();  // h100-train deletes idle nodes; a new one takes 8 min to create
  SimulatedClock clock(*parse_rfc3339("2026-01-05T10:00:00Z"));
  auto strategy = make_strategy("codefleet", f->model);
  ASSERT_TRUE(strategy);
  SchedulerOptions o;
  (*strategy)->configure(o);
  Scheduler s(f->model, QuotaLedger::from_spec(f->parsed.spec), clock, o);
  (*strategy)->start(s, clock.now());
  Task t = task_from_class(*f->parsed.spec.find_class("fine-tune"));
  t.deferrable = false;
  t.duration = std::chrono::minutes(10);
  auto id = s.submit(t);
  ASSERT_TRUE(id);
  ASSERT_EQ(s.cycle().nodes_created.size(), 1u);
  NodeId node = s.find(*id)->node;
  clock.advance(std::chrono::minutes(18));  // created at +8 min, ran 10
  s.cycle();
  ASSERT_TRUE(s.complete(*id));
  clock.advance(std::chrono::minutes(5));  // past the 4-minute start latency
  (*strategy)->tick(s, clock.now());
  EXPECT_TRUE(s.nodes().count(node)) << "deleted before a new node would have been ready";
  clock.advance(std::chrono::minutes(3));  // idle 8 minutes: as long as creating one
  (*strategy)->tick(s, clock.now());
  EXPECT_FALSE(s.nodes().count(node));
}

TEST(Simulate, StoppedNodesPayDisksOnly) {
  auto f = recommended();
  Workload w = synthetic_workload(f->model, {2000, 2, 3});
  auto s = make_strategy("codefleet", f->model);
  SimResult r = simulate(f->model, w, **s, {});
  EXPECT_GT(r.cost_by_state.at("disk_stopped").micros(), 0);
  EXPECT_EQ((r.cost_by_state.at("compute") + r.cost_by_state.at("disk_running") +
             r.cost_by_state.at("disk_stopped")),
            r.cost);
}

struct BadTrace {
  const char* file;
  TraceFormat format;
  const char* want;
};

TEST(Traces, BadInputNamesFileAndLine) {
  auto f = recommended();
  for (auto c : {BadTrace{"traces/empty.csv", TraceFormat::kAzureLlm, "empty"},
                 BadTrace{"traces/bad-azure-header.csv", TraceFormat::kAzureLlm, "bad.csv:1"},
                 BadTrace{"traces/bad-azure-row.csv", TraceFormat::kAzureLlm, "bad.csv:3"},
                 BadTrace{"traces/bad-azure-row.csv", TraceFormat::kAlibabaPods,
                          "missing column 'cpu_milli'"},
                 BadTrace{"traces/alibaba-pods-small.csv", TraceFormat::kJsonl, "bad.csv:1"}}) {
    auto w = load_trace(read(c.file), "bad.csv", c.format, f->parsed.spec, {});
    ASSERT_FALSE(w) << c.file;
    EXPECT_NE(w.error().describe().find(c.want), std::string::npos)
        << c.file << ": " << w.error().describe();
  }
  TraceOptions skip;
  skip.skip_bad_rows = true;
  auto w = load_trace(read("traces/bad-azure-row.csv"), "bad.csv", TraceFormat::kAzureLlm,
                      f->parsed.spec, skip);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->arrivals.size(), 2u);
  EXPECT_EQ(w->bad_rows_skipped, 1);
  auto requests_only = load_trace("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1000,1024,0,0\n",
                                  "multigpu.csv", TraceFormat::kAlibabaPods, f->parsed.spec, {});
  ASSERT_FALSE(requests_only);
  EXPECT_NE(requests_only.error().message.find("cannot drive a time-based simulation"),
            std::string::npos);
}

TEST(Traces, SyntheticOptionsAndReshape) {
  EXPECT_TRUE(parse_synthetic_options("tasks=10,days=2,seed=3"));
  EXPECT_FALSE(parse_synthetic_options("tasks=ten"));
  EXPECT_FALSE(parse_synthetic_options("weeks=2"));
  auto f = recommended();
  Workload w = synthetic_workload(f->model, {100, 1, 1});
  auto doubled = reshape(w, 3, 2.0);
  ASSERT_TRUE(doubled);
  EXPECT_EQ(doubled->span, std::chrono::hours(72));
  EXPECT_EQ(doubled->arrivals.size(), 600u);
}

}  // namespace
}  // namespace codefleet
