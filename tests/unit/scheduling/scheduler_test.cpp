#include <gtest/gtest.h>

#include "fleet_fixture.h"
#include "scheduling/packing.h"

namespace codefleet {
namespace {

using namespace testing_support;
using namespace std::chrono_literals;

TimePoint noon() { return *parse_rfc3339("2026-03-02T12:00:00Z"); }

struct Harness {
  std::unique_ptr<SchedFleet> fleet = sched_fleet();
  SimulatedClock clock{noon()};
  Scheduler s{fleet->model, QuotaLedger::from_spec(fleet->parsed.spec), clock};
  TaskId submit(Task t) {
    auto id = s.submit(std::move(t));
    EXPECT_TRUE(id) << (id ? "" : id.error().message);
    return id ? *id : 0;
  }
};

TEST(Scheduler, PlacesOnANewNodeThenPacksTheNext) {
  Harness h;
  TaskId a = h.submit(make_task("infer", 90));
  TaskId b = h.submit(make_task("infer", 90));
  CycleResult r = h.s.cycle();
  ASSERT_EQ(r.admitted.size(), 2u);
  EXPECT_EQ(r.nodes_created.size(), 2u);  // one GPU each: an NC40ads node holds one
  EXPECT_EQ(h.s.find(a)->state, TaskState::kAdmitted);
  EXPECT_EQ(h.s.find(b)->state, TaskState::kAdmitted);
  EXPECT_EQ(h.s.ledger().used_family("eastus", "StandardNCadsH100v5Family"), 80);
  TaskId w1 = h.submit(make_task("web", 70));
  TaskId w2 = h.submit(make_task("web", 70));
  h.s.cycle();
  EXPECT_EQ(h.s.find(w1)->node, h.s.find(w2)->node);  // best fit: both on one D4s_v5
}

// wait_for_room (the codefleet strategy's): a task waits for running work to free room
// when that should come sooner than a new node.
struct WaitHarness {
  std::unique_ptr<SchedFleet> fleet = sched_fleet();
  SimulatedClock clock{noon()};
  Scheduler s;
  explicit WaitHarness(bool wait)
      : s(fleet->model, QuotaLedger::from_spec(fleet->parsed.spec), clock, options(wait)) {}
  static SchedulerOptions options(bool wait) {
    SchedulerOptions o;
    o.wait_for_room = wait;
    return o;
  }
  TaskId submit(Duration d) {
    Task t = make_task("infer", 90);
    t.duration = d;
    auto id = s.submit(std::move(t));
    EXPECT_TRUE(id);
    return id ? *id : 0;
  }
  // A one-minute task on a new GPU node (8 minutes to create), the clock where it has 30 s
  // left: room comes in 30 s, a new node in 8 minutes.
  TaskId room_in_30s() {
    TaskId a = submit(1min);
    EXPECT_EQ(s.cycle().nodes_created.size(), 1u);
    clock.advance(8min + 30s);
    return a;
  }
};

TEST(Scheduler, WaitsForRoomThatComesSoonerThanANewNode) {
  for (bool wait : {true, false}) {
    SCOPED_TRACE(wait);
    WaitHarness h(wait);
    TaskId a = h.room_in_30s();  // nothing to wait for at first: a node (8 min)
    TaskId b = h.submit(1min);
    CycleResult r = h.s.cycle();
    if (!wait) {
      EXPECT_EQ(r.nodes_created.size(), 1u);  // a second node, ready in 8 minutes
      continue;
    }
    EXPECT_TRUE(r.nodes_created.empty());
    EXPECT_EQ(h.s.find(b)->state, TaskState::kPending);
    ASSERT_TRUE(h.s.next_release());
    EXPECT_EQ(*h.s.next_release(), noon() + 8min + 30s + 8min);  // when it would rather have a node
    NodeId first = h.s.find(a)->node;
    h.clock.advance(30s);
    ASSERT_TRUE(h.s.complete(a));
    r = h.s.cycle();
    ASSERT_EQ(r.admitted.size(), 1u);
    EXPECT_EQ(h.s.find(b)->node, first);  // a's node, freed
    EXPECT_TRUE(r.nodes_created.empty());
    EXPECT_EQ(h.s.nodes().size(), 1u);
  }
}

TEST(Scheduler, WaitingForRoomEndsWhenTheRunningWorkOverruns) {
  WaitHarness h(true);
  h.room_in_30s();
  TaskId b = h.submit(1min);
  EXPECT_TRUE(h.s.cycle().nodes_created.empty());
  TimePoint give_up = noon() + 8min + 30s + 8min;
  EXPECT_EQ(h.s.next_release(), give_up);
  // A full cycle before the running task is due (an unrelated task's end makes one): b
  // still waits.
  Task web = make_task("web", 70);
  auto other = h.s.submit(web);
  ASSERT_TRUE(other);
  h.s.cycle();
  h.clock.advance(20s);
  ASSERT_TRUE(h.s.complete(*other));
  CycleResult r = h.s.cycle();
  EXPECT_TRUE(r.nodes_created.empty());
  EXPECT_EQ(h.s.find(b)->state, TaskState::kPending);
  // The running task overruns its estimate (it never completes here): the next full cycle
  // after it was due gives b a node rather than keep it waiting on a wrong estimate.
  h.clock.advance(1min);
  web = make_task("web", 70);
  other = h.s.submit(web);
  h.s.cycle();
  ASSERT_TRUE(h.s.complete(*other));
  r = h.s.cycle();
  EXPECT_EQ(h.s.find(b)->state, TaskState::kAdmitted);
  EXPECT_EQ(std::count_if(r.nodes_created.begin(), r.nodes_created.end(),
                          [&](NodeId n) { return n == h.s.find(b)->node; }),
            1);
}

TEST(Scheduler, WaitingForRoomEndsAfterANodesLatencyAtTheLatest) {
  WaitHarness h(true);
  h.room_in_30s();
  TaskId b = h.submit(1min);
  h.s.cycle();
  // Nothing else happens: the scheduler asks for a cycle when b would rather have a node.
  ASSERT_TRUE(h.s.next_release());
  h.clock.set(*h.s.next_release());
  CycleResult r = h.s.cycle();
  EXPECT_EQ(r.nodes_created.size(), 1u);
  EXPECT_EQ(h.s.find(b)->state, TaskState::kAdmitted);
}

TEST(Scheduler, WaitingForRoomKeepsTheDeadline) {
  WaitHarness h(true);
  h.room_in_30s();
  // Room in 30 s would do, but if it did not come the task would wait 8 minutes and then
  // need 8 more for a node: a deadline 12 minutes out cannot take that risk.
  Task t = make_task("infer", 90);
  t.duration = 1min;
  t.deadline = h.clock.now() + 12min;
  auto id = h.s.submit(t);
  ASSERT_TRUE(id);
  CycleResult r = h.s.cycle();
  EXPECT_EQ(r.nodes_created.size(), 1u);
  EXPECT_EQ(h.s.find(*id)->state, TaskState::kAdmitted);
}

TEST(Scheduler, CancellingAWaitingTaskTakesItsWorkOffTheQueue) {
  WaitHarness h(true);
  h.room_in_30s();
  // Four 2-minute tasks wait (30 s, 2:30, 4:30, 6:30 < 8 min); a fifth would get a node.
  std::vector<TaskId> waiting;
  for (int i = 0; i < 4; ++i) waiting.push_back(h.submit(2min));
  EXPECT_TRUE(h.s.cycle().nodes_created.empty());
  for (TaskId id : waiting) ASSERT_TRUE(h.s.cancel(id));
  // With their work gone, the next one waits too.
  h.submit(2min);
  EXPECT_TRUE(h.s.cycle().nodes_created.empty());
}

TEST(Scheduler, WorkQueuedAheadMakesLaterTasksBringUpNodes) {
  WaitHarness h(true);
  h.room_in_30s();
  // Room in 30 s, then every 2 minutes as the waiting tasks run: the 1st..4th start within
  // 30 s + 3 × 2 min < 8 min; the 5th and 6th are sooner on new nodes.
  for (int i = 0; i < 6; ++i) h.submit(2min);
  CycleResult r = h.s.cycle();
  EXPECT_EQ(r.nodes_created.size(), 2u);
  EXPECT_EQ(r.admitted.size(), 2u);
  EXPECT_EQ(h.s.pending_count(), 4u);
}

TEST(Scheduler, FitsButNoQuotaIsQueuedNotRejected) {
  Harness h;
  // 200 vCPUs of H100 quota = 5 nodes, across the prod and dev GPU pools.
  for (int i = 0; i < 5; ++i) h.submit(make_task("train", 50, "prod"));
  h.s.cycle();
  TaskId waiting = h.submit(make_task("train", 50, "prod"));
  CycleResult r = h.s.cycle();
  EXPECT_TRUE(r.admitted.empty());
  EXPECT_EQ(h.s.find(waiting)->state, TaskState::kPending);
  Decision d = route(h.fleet->model, make_task("train", 50, "prod"), h.s, h.clock.now());
  EXPECT_EQ(d.outcome, Outcome::kQueued) << d.reason;
  EXPECT_NE(d.reason.find("quota"), std::string::npos) << d.reason;
  EXPECT_GT(d.wait, 0s);
  // A task nothing can ever hold is rejected at once, as infeasible.
  Task huge = make_task("train", 50);
  huge.resources.gpu_milli = 4000;
  auto rejected = h.s.submit(huge);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kInfeasible);
  EXPECT_NE(rejected.error().message.find("too small"), std::string::npos)
      << rejected.error().message;
}

TEST(Scheduler, StoppedNodesKeepTheirQuotaOnlyDeletionFreesIt) {
  Harness h;
  TaskId a = h.submit(make_task("infer", 90));
  h.s.cycle();
  NodeId node = h.s.find(a)->node;
  ASSERT_TRUE(h.s.complete(a));
  ASSERT_FALSE(h.s.stop_node(node, /*hibernate=*/true));  // NCads_H100_v5 cannot hibernate
  ASSERT_TRUE(h.s.stop_node(node, /*hibernate=*/false));
  EXPECT_EQ(h.s.nodes().at(node).state, NodeState::kDeallocated);
  EXPECT_EQ(h.s.ledger().used_family("eastus", "StandardNCadsH100v5Family"), 40);
  // The next GPU task starts the deallocated node instead of creating one.
  TaskId b = h.submit(make_task("infer", 90));
  CycleResult r = h.s.cycle();
  EXPECT_EQ(r.nodes_started, std::vector<NodeId>{node});
  EXPECT_TRUE(r.nodes_created.empty());
  ASSERT_TRUE(h.s.complete(b));
  ASSERT_TRUE(h.s.delete_node(node));
  EXPECT_EQ(h.s.ledger().used_family("eastus", "StandardNCadsH100v5Family"), 0);
}

TEST(Scheduler, BusyNodesCannotBeStoppedOrDeleted) {
  Harness h;
  TaskId a = h.submit(make_task("infer", 90));
  h.s.cycle();
  NodeId node = h.s.find(a)->node;
  EXPECT_EQ(h.s.stop_node(node, false).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(h.s.delete_node(node).error().code, ErrorCode::kUnavailable);
}

TEST(Scheduler, PreemptsLowerPriorityPreemptibleWorkAfterTheGuard) {
  Harness h;
  h.fleet = sched_fleet(sched_spec_with_h100_quota(40));
  Scheduler s(h.fleet->model, QuotaLedger::from_spec(h.fleet->parsed.spec), h.clock);
  auto low = s.submit(make_task("train", 10, "prod", /*preemptible=*/true));
  s.cycle();
  ASSERT_EQ(s.find(*low)->state, TaskState::kAdmitted);
  auto high = s.submit(make_task("train", 80, "prod"));
  CycleResult early = s.cycle();
  EXPECT_TRUE(early.preempted.empty()) << "the low task has run less than 5 minutes";
  EXPECT_EQ(s.find(*high)->state, TaskState::kPending);
  h.clock.advance(6min);
  CycleResult r = s.cycle();
  EXPECT_EQ(r.preempted, std::vector<TaskId>{*low});
  EXPECT_EQ(s.find(*high)->state, TaskState::kAdmitted);
  EXPECT_EQ(s.find(*low)->state, TaskState::kPending);
  EXPECT_EQ(s.find(*low)->preemptions, 1);
}

TEST(Scheduler, NonPreemptibleWorkIsNeverEvicted) {
  Harness h;
  h.fleet = sched_fleet(sched_spec_with_h100_quota(40));
  Scheduler s(h.fleet->model, QuotaLedger::from_spec(h.fleet->parsed.spec), h.clock);
  auto low = s.submit(make_task("train", 10, "prod", /*preemptible=*/false));
  s.cycle();
  auto high = s.submit(make_task("train", 80, "prod"));
  h.clock.advance(1h);
  CycleResult r = s.cycle();
  EXPECT_TRUE(r.preempted.empty());
  EXPECT_EQ(s.find(*high)->state, TaskState::kPending);
  EXPECT_EQ(s.find(*low)->state, TaskState::kAdmitted);
}

TEST(Scheduler, DeferrableWorkWaitsForOffPeakUnlessItsDeadlineIsEarlier) {
  Harness h;  // noon UTC; off-peak from 20:00 UTC
  Task deferred = make_task("batch", 10);
  deferred.deferrable = true;
  TaskId d = h.submit(deferred);
  Task urgent = deferred;
  urgent.deadline = *parse_rfc3339("2026-03-02T15:00:00Z");
  TaskId u = h.submit(urgent);
  h.s.cycle();
  EXPECT_EQ(h.s.find(d)->state, TaskState::kPending);
  EXPECT_EQ(h.s.find(u)->state, TaskState::kAdmitted);
  // Released within the first three hours of the window (deferred work is spread out).
  TimePoint opens = *parse_rfc3339("2026-03-02T20:00:00Z");
  EXPECT_GE(h.s.find(d)->not_before, opens);
  EXPECT_LT(h.s.find(d)->not_before, opens + 3h);
  h.clock.set(opens + 3h);
  h.s.cycle();
  EXPECT_EQ(h.s.find(d)->state, TaskState::kAdmitted);
}

TEST(Scheduler, DeferredWorkIsReleasedAtThePaceThePoolCanTakeIt) {
  Harness h;  // noon UTC; off-peak 20:00-06:00 UTC
  TimePoint opens = *parse_rfc3339("2026-03-02T20:00:00Z");
  Task t = make_task("batch", 10);
  t.deferrable = true;
  TaskId first = h.submit(t);
  const TaskRecord* r = h.s.find(first);
  EXPECT_EQ(r->not_before, opens);
  // Each next task comes after the work ahead of it, run by 80% of the nodes the pool may
  // have (max_nodes, within its quota). The work is its packed share × its duration.
  const PoolModel& p = h.fleet->model.pools[static_cast<size_t>(r->candidates.front().pool)];
  int64_t share = packed_share_ppm(t.resources, p.node);
  int64_t nodes = p.max_nodes;
  if (auto limit = quota_limit_for_node(h.fleet->model, p, nullptr))
    nodes = std::min(nodes, *limit / p.node.vcpus);
  auto step = std::chrono::milliseconds(static_cast<int64_t>(
      static_cast<Int128>(share) * 3'600'000 / (static_cast<Int128>(nodes) * 800'000)));
  ASSERT_GT(step, 0s);
  TimePoint last = opens;
  int deferred = 1;
  for (;; ++deferred) {
    TaskId id = h.submit(t);
    TimePoint nb = h.s.find(id)->not_before;
    if (nb == h.clock.now()) break;  // tonight is full: it runs now
    EXPECT_NEAR(std::chrono::duration_cast<std::chrono::milliseconds>(nb - last).count(),
                step.count(), 1);  // each offset is rounded down to the millisecond
    last = nb;
    ASSERT_LT(deferred, 100'000);
  }
  // The window (10 h) holds what 80% of the nodes can run in it.
  EXPECT_LT(last, *parse_rfc3339("2026-03-03T06:00:00Z"));
  EXPECT_GE(last + step, *parse_rfc3339("2026-03-03T06:00:00Z"));
}

// Fills the CPU pool from 19:30 with work that lasts `filler` (non-deferrable), runs the
// night's cycles, then submits a deferrable task at noon the next day: its not_before.
TimePoint deferral_after_a_night(std::chrono::hours filler) {
  Harness h;
  h.clock.set(*parse_rfc3339("2026-03-02T19:30:00Z"));
  std::vector<TaskId> fillers;
  for (int i = 0; i < 40; ++i) {  // 40 × 2 vCPUs: all 20 D4s_v5 nodes the quota holds
    Task t = make_task("batch", 10);
    t.duration = filler;
    fillers.push_back(h.submit(t));
  }
  TimePoint ends = h.clock.now() + filler;
  for (TimePoint t = h.clock.now(); t <= *parse_rfc3339("2026-03-03T12:00:00Z"); t += 10min) {
    h.clock.set(t);
    if (t >= ends && !fillers.empty()) {  // the work ends (the simulator's completions)
      for (TaskId id : fillers) EXPECT_TRUE(h.s.complete(id));
      fillers.clear();
    }
    h.s.cycle();
  }
  Task probe = make_task("batch", 10);
  probe.deferrable = true;
  TaskId id = h.submit(probe);
  return h.s.find(id)->not_before;
}

TEST(Scheduler, DeferralSkipsAWindowWhosePoolWasBusyLastTime) {
  TimePoint noon_next = *parse_rfc3339("2026-03-03T12:00:00Z");
  // The pool was idle through the night (1 h fillers): tonight can take the work.
  EXPECT_GE(deferral_after_a_night(1h), *parse_rfc3339("2026-03-03T20:00:00Z"));
  // Full all night (30 h fillers): deferring would only queue it there, so it runs now.
  TimePoint busy = deferral_after_a_night(30h);
  EXPECT_LT(busy, noon_next + 1min);
}

TEST(Scheduler, FairShareFavoursTheTenantUsingLess) {
  Harness h;
  h.fleet = sched_fleet(sched_spec_with_h100_quota(80));
  Scheduler s(h.fleet->model, QuotaLedger::from_spec(h.fleet->parsed.spec), h.clock);
  s.submit(make_task("train", 50, "prod", false, "team-a"));
  s.cycle();  // team-a holds one of the two possible nodes
  h.clock.advance(1min);
  auto a2 = s.submit(make_task("train", 50, "prod", false, "team-a"));
  h.clock.advance(1min);
  auto b1 = s.submit(make_task("train", 50, "prod", false, "team-b"));  // submitted later
  s.cycle();
  EXPECT_EQ(s.find(*b1)->state, TaskState::kAdmitted);
  EXPECT_EQ(s.find(*a2)->state, TaskState::kPending);
}

TEST(Scheduler, ReclaimsQuotaBorrowedBeyondAnEnvironmentsShare) {
  Harness h;
  h.fleet = sched_fleet(sched_spec_with_h100_quota(80));
  SchedulerOptions opts;
  opts.environment_share_pct["prod"]["StandardNCadsH100v5Family"] = 50;
  opts.environment_share_pct["dev"]["StandardNCadsH100v5Family"] = 50;
  Scheduler s(h.fleet->model, QuotaLedger::from_spec(h.fleet->parsed.spec), h.clock, opts);
  // dev borrows the whole family while prod is idle.
  auto d1 = s.submit(make_task("train", 50, "dev"));
  auto d2 = s.submit(make_task("train", 50, "dev"));
  s.cycle();
  ASSERT_EQ(s.find(*d1)->state, TaskState::kAdmitted);
  ASSERT_EQ(s.find(*d2)->state, TaskState::kAdmitted);
  h.clock.advance(10min);
  auto p1 = s.submit(make_task("train", 50, "prod"));
  CycleResult r = s.cycle();
  EXPECT_EQ(s.find(*p1)->state, TaskState::kAdmitted);
  EXPECT_EQ(r.preempted.size(), 1u);
  EXPECT_TRUE(s.ledger().within_limits());
  EXPECT_EQ(s.ledger().used_family("eastus", "StandardNCadsH100v5Family"), 80);
}

TEST(Scheduler, LostNodesRequeueTheirTasksAndFreeQuota) {
  Harness h;
  TaskId a = h.submit(make_task("batch", 10, "", true));
  h.s.cycle();
  NodeId node = h.s.find(a)->node;
  auto lost = h.s.lose_node(node);
  ASSERT_TRUE(lost);
  EXPECT_EQ(*lost, std::vector<TaskId>{a});
  EXPECT_EQ(h.s.find(a)->state, TaskState::kPending);
  EXPECT_EQ(h.s.nodes().count(node), 0u);
}

TEST(Scheduler, NodesNeededPacksPendingWorkBestFitDecreasing) {
  Harness h;
  for (int i = 0; i < 5; ++i) h.submit(make_task("train", 50, "prod"));
  h.s.cycle();
  for (int i = 0; i < 3; ++i) h.submit(make_task("train", 50, "prod"));  // no quota left
  h.s.cycle();
  auto need = h.s.nodes_needed();
  int gpu = -1;
  for (const auto& p : h.fleet->model.pools) {
    if (p.name == "gpu") gpu = p.index;
  }
  EXPECT_EQ(need[gpu], 6);  // 5 busy + 3 more wanted, capped at max_nodes 6
}

TEST(Packing, BestFitDecreasingGpuFirst) {
  Resources node{40, 320 * 1024, 1000, 94 * 1024};
  std::vector<Resources> needs(3, Resources{8, 64 * 1024, 1000, 40 * 1024});
  EXPECT_EQ(pack_best_fit_decreasing(node, needs), 3u);  // GPUs are never shared
  std::vector<Resources> cpu(10, Resources{4, 16 * 1024, 0, 0});
  EXPECT_EQ(pack_best_fit_decreasing(node, cpu), 1u);
  size_t skipped = 0;
  pack_best_fit_decreasing(node, {Resources{80, 1, 0, 0}}, &skipped);
  EXPECT_EQ(skipped, 1u);
}

TEST(Scheduler, SameInputsSameDecisions) {
  auto run = [] {
    Harness h;
    std::vector<std::pair<TaskId, NodeId>> placements;
    for (int i = 0; i < 30; ++i) {
      h.submit(make_task(i % 3 == 0 ? "infer" : "web", 10 + (i * 7) % 50, "", i % 2 == 0,
                         "t" + std::to_string(i % 4)));
    }
    for (const auto& a : h.s.cycle().admitted) placements.push_back({a.task, a.node});
    return placements;
  };
  EXPECT_EQ(run(), run());
}

}  // namespace
}  // namespace codefleet

namespace codefleet {
namespace {

// On examples/recommended.yaml: once fine-tuning has taken the H100 quota that h100-train
// may use (24 nodes; h100-infer holds the rest), a further fine-tune is queued, not rejected.
TEST(SchedulerOnExamples, H100QuotaFullMeansQueued) {
  auto parsed = parse_spec_file(std::string(CODEFLEET_SOURCE_DIR) + "/examples/recommended.yaml");
  ASSERT_TRUE(parsed);
  Catalog catalog = *Catalog::load_default();
  auto model = build_fleet_model(parsed->spec, catalog, {});
  ASSERT_TRUE(model) << model.error().message;
  model->spec = &parsed->spec;
  SimulatedClock clock(*parse_rfc3339("2026-01-05T21:00:00Z"));  // off-peak in Amsterdam
  Scheduler s(*model, QuotaLedger::from_spec(parsed->spec), clock);
  auto fine_tune = [&] {
    return *parse_task_json(R"({"class": "fine-tune", "deferrable": false})", parsed->spec, "t");
  };
  // Six 2-GPU inference nodes (480 vCPUs) and 24 training nodes (960 vCPUs) = 1440.
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(s.submit(*parse_task_json(R"({"class": "online-inference"})", parsed->spec, "t")));
  for (int i = 0; i < 24; ++i) ASSERT_TRUE(s.submit(fine_tune()));
  s.cycle();
  EXPECT_EQ(s.ledger().used_family("westeurope", "StandardNCadsH100v5Family"), 1440);
  auto extra = s.submit(fine_tune());
  ASSERT_TRUE(extra) << "fits, so it is accepted";
  s.cycle();
  EXPECT_EQ(s.find(*extra)->state, TaskState::kPending);
  Decision d = route(*model, fine_tune(), s, clock.now());
  EXPECT_EQ(d.outcome, Outcome::kQueued) << d.reason;
  EXPECT_TRUE(s.ledger().within_limits());
}

}  // namespace
}  // namespace codefleet
