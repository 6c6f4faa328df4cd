// 100,000 random submit / complete / cancel / preempt (node lost) / clock-advance steps,
// each followed by a scheduling cycle, with the invariants checked after every step:
//  - no quota is ever exceeded, and the ledger agrees with the nodes that exist;
//  - no node holds more than its capacity, and node usage equals its tasks' needs;
//  - no task is lost or duplicated: the tasks alive are exactly those submitted and not
//    yet completed or cancelled, each admitted one on exactly one node;
//  - no lower-priority task was admitted while a higher-priority one of the same queue,
//    which could have taken its place, was left waiting.
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "fleet_fixture.h"

namespace codefleet {
namespace {

using namespace testing_support;
using namespace std::chrono_literals;

class PropertyHarness {
 public:
  explicit PropertyHarness(uint32_t seed, SchedulerOptions options = {})
      : rng_(seed),
        s_{fleet_->model, QuotaLedger::from_spec(fleet_->parsed.spec), clock_, std::move(options)} {
  }

  void step(int i) {
    int action = pick(0, 99);
    if (action < 45) {
      submit();
    } else if (action < 70) {
      complete();
    } else if (action < 78) {
      cancel();
    } else if (action < 83) {
      lose_node();
    } else {
      advance();
    }
    CycleResult r = s_.cycle();
    check(r, i);
  }

  size_t admitted_total = 0;
  size_t preempted_total = 0;
  size_t rejected_total = 0;

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  void submit() {
    static const char* kClasses[] = {"train", "infer", "web", "batch"};
    Task t = make_task(kClasses[pick(0, 3)], pick(0, 9) * 10,
                       pick(0, 2) == 0 ? "" : (pick(0, 1) ? "prod" : "dev"), pick(0, 1) == 1,
                       "tenant-" + std::to_string(pick(0, 3)));
    if (t.class_name == "web" || t.class_name == "batch") {
      t.resources.vcpus = pick(1, 4);
      t.resources.memory_mib = pick(1, 16) * 1024;
    }
    t.deferrable = pick(0, 9) == 0;
    if (pick(0, 4) == 0) t.deadline = clock_.now() + std::chrono::minutes(pick(30, 600));
    auto id = s_.submit(t);
    if (!id) {
      ++rejected_total;
      EXPECT_EQ(id.error().code, ErrorCode::kInfeasible)
          << id.error().message;  // dev has no cpu pool
      return;
    }
    EXPECT_TRUE(alive_.insert(*id).second) << "duplicate id " << *id;
  }

  TaskId random_alive(bool admitted_only) {
    std::vector<TaskId> ids;
    for (TaskId id : alive_) {
      const TaskRecord* r = s_.find(id);
      if (r && (!admitted_only || r->state == TaskState::kAdmitted)) ids.push_back(id);
    }
    if (ids.empty()) return 0;
    return ids[pick(0, static_cast<int>(ids.size()) - 1)];
  }

  void complete() {
    TaskId id = random_alive(true);
    if (!id) return;
    ASSERT_TRUE(s_.complete(id));
    alive_.erase(id);
  }

  void cancel() {
    TaskId id = random_alive(false);
    if (!id) return;
    ASSERT_TRUE(s_.cancel(id));
    alive_.erase(id);
  }

  void lose_node() {
    if (s_.nodes().empty()) return;
    auto it = s_.nodes().begin();
    std::advance(it, pick(0, static_cast<int>(s_.nodes().size()) - 1));
    ASSERT_TRUE(s_.lose_node(it->first));
  }

  // Time passes; the scaler stops some idle nodes and deletes others.
  void advance() {
    clock_.advance(std::chrono::minutes(pick(1, 90)));
    std::vector<NodeId> idle;
    for (const auto& [id, n] : s_.nodes()) {
      if (n.tasks.empty()) idle.push_back(id);
    }
    for (NodeId id : idle) {
      int what = pick(0, 2);
      if (what == 0) {
        ASSERT_TRUE(s_.delete_node(id));
      }
      if (what == 1) {
        ASSERT_TRUE(s_.stop_node(id, false));
      }
    }
  }

  void check(const CycleResult& r, int step) {
    SCOPED_TRACE("step " + std::to_string(step));
    admitted_total += r.admitted.size();
    preempted_total += r.preempted.size();
    const auto& model = fleet_->model;
    // Quota: within limits, and equal to the cores of the nodes that exist.
    ASSERT_TRUE(s_.ledger().within_limits());
    std::map<std::string, int64_t> by_family;
    int64_t spot = 0;
    for (const auto& [id, n] : s_.nodes()) {
      const PoolModel& p = model.pools[n.pool];
      (p.spot ? spot : by_family[p.quota_family]) += p.node.vcpus;
    }
    for (const auto& [family, vcpus] : by_family)
      ASSERT_EQ(s_.ledger().used_family("eastus", family), vcpus) << family;
    for (const auto& line : s_.ledger().lines()) {
      if (line.kind == "spot") {
        ASSERT_EQ(line.used, spot);
      }
    }
    // Nodes: capacity respected, usage consistent, tasks admitted and pointing back.
    std::map<TaskId, int> seen_on_nodes;
    for (const auto& [id, n] : s_.nodes()) {
      Resources sum;
      for (TaskId t : n.tasks) {
        const TaskRecord* rec = s_.find(t);
        ASSERT_NE(rec, nullptr) << "node " << id << " holds unknown task " << t;
        ASSERT_EQ(rec->state, TaskState::kAdmitted);
        ASSERT_EQ(rec->node, id);
        sum = sum + rec->task.resources;
        seen_on_nodes[t]++;
      }
      ASSERT_EQ(sum, n.used);
      ASSERT_TRUE(n.used.fits_in(model.pools[n.pool].node));
    }
    // Conservation: alive == known to the scheduler; admitted ones on exactly one node.
    ASSERT_EQ(s_.tasks().size(), alive_.size());
    for (TaskId id : alive_) {
      const TaskRecord* rec = s_.find(id);
      ASSERT_NE(rec, nullptr) << "task " << id << " lost";
      if (rec->state == TaskState::kAdmitted) {
        ASSERT_EQ(seen_on_nodes[id], 1) << "task " << id;
      }
      if (rec->state == TaskState::kPending) {
        ASSERT_EQ(seen_on_nodes.count(id), 0u) << "task " << id;
      }
    }
    // Priority within a queue.
    std::set<TaskId> preempted(r.preempted.begin(), r.preempted.end());
    for (const auto& a : r.admitted) {
      const TaskRecord* low = s_.find(a.task);
      if (!low || low->state != TaskState::kAdmitted) continue;
      for (const auto& [tid, t] : s_.tasks()) {
        if (t.state != TaskState::kPending || preempted.count(tid) || t.queue != low->queue ||
            t.task.priority <= low->task.priority || t.not_before > clock_.now()) {
          continue;
        }
        for (const auto& c : t.candidates) {
          const PoolModel& p = model.pools[c.pool];
          if (c.pool == a.pool) {
            const Node& n = s_.nodes().at(a.node);
            Resources could_have = p.node - n.used + low->task.resources;
            ASSERT_FALSE(t.task.resources.fits_in(could_have))
                << "task " << tid << " (priority " << t.task.priority << ") waits while " << a.task
                << " (priority " << low->task.priority << ") took its place on node " << a.node;
          }
          for (const auto& [nid, n] : s_.nodes()) {
            if (n.pool != c.pool) continue;
            ASSERT_FALSE(n.active() && t.task.resources.fits_in(p.node - n.used))
                << "task " << tid << " waits though node " << nid << " has room";
            ASSERT_FALSE(n.state == NodeState::kDeallocated || n.state == NodeState::kHibernated)
                << "task " << tid << " waits though node " << nid << " could be started";
          }
        }
      }
    }
  }

  std::mt19937 rng_;
  std::unique_ptr<SchedFleet> fleet_ = sched_fleet();
  SimulatedClock clock_{*parse_rfc3339("2026-03-02T08:00:00Z")};
  Scheduler s_;
  std::set<TaskId> alive_;
};

void run_steps(PropertyHarness& h, int steps) {
  for (int i = 0; i < steps; ++i) {
    h.step(i);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// The simulator's settings: full cycles at most every 5 s (a postponed cycle admits
// nothing), so the same invariants must hold with them.
TEST(SchedulerProperty, SimulatorSettingsKeepTheInvariants) {
  SchedulerOptions o;
  o.full_cycle_min_gap = std::chrono::seconds(5);
  PropertyHarness h(7, o);
  run_steps(h, 30'000);
  EXPECT_GT(h.admitted_total, 1'000u);
}

TEST(SchedulerProperty, HundredThousandRandomSteps) {
  constexpr int kSteps = 100'000;
  PropertyHarness h(20261127);
  for (int i = 0; i < kSteps; ++i) {
    h.step(i);
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The run exercised what it claims to: admissions, preemptions, infeasible rejections.
  EXPECT_GT(h.admitted_total, 10'000u);
  EXPECT_GT(h.preempted_total, 100u);
  EXPECT_GT(h.rejected_total, 0u);
  RecordProperty("admitted", static_cast<int>(h.admitted_total));
  RecordProperty("preempted", static_cast<int>(h.preempted_total));
}

}  // namespace
}  // namespace codefleet
