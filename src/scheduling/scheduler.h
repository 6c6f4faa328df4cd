// The scheduler: queues, admission, preemption and placement of compute tasks onto
// the nodes of the fleet's pools, inside the quota ledger. Pure domain code: it reads
// time only from the injected `Clock`, so the simulator and the daemon run it alike.
//
// A cycle reads like Kueue's, one function per step:
//   1. snapshot  — bring node states up to `now`, compute tenants' dominant shares
//   2. heads     — eligible pending tasks in order (the `OrderingPolicy`: who goes next)
//   3. assign    — each head to the first ranked pool that can take it (what it gets)
//   4. preempt   — if none can, evict lower-priority preemptible work (or reclaim borrowed quota)
//   5. commit    — placements recorded, nodes created or started through the ledger
//   6. requeue   — the rest wait for the next cycle
//
//   Scheduler s(model, QuotaLedger::from_spec(spec), clock);
//   auto id = s.submit(task);            // kInfeasible when nothing could ever run it
//   CycleResult r = s.cycle();           // r.admitted, r.preempted, r.nodes_created
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <functional>
#include <set>
#include "core/time.h"

#include "routing/router.h"
#include "scheduling/cloud_port.h"
#include "scheduling/quota_ledger.h"

namespace codefleet {

using TaskId = uint64_t;

enum class NodeState { kCreating, kStarting, kRunning, kDeallocated, kHibernated };
const char* node_state_name(NodeState s);

struct Node {
  NodeId id = 0;
  int pool = -1;
  NodeState state = NodeState::kCreating;
  TimePoint ready_at{};
  Resources used;
  std::vector<TaskId> tasks;
  TimePoint idle_since{};
  bool active() const {
    return state == NodeState::kCreating || state == NodeState::kStarting ||
           state == NodeState::kRunning;
  }
};

enum class TaskState { kPending, kAdmitted, kCompleted, kCancelled };
const char* task_state_name(TaskState s);

struct TaskRecord {
  TaskId id = 0;
  Task task;
  TaskState state = TaskState::kPending;
  int queue = -1;  // index into Scheduler::queues()
  int pool = -1;   // admitted: where
  NodeId node = 0;
  TimePoint admitted_at{};  // admitted: when (the task starts at max(admitted_at, node ready))
  TimePoint not_before{};   // deferred until (off-peak window)
  int preemptions = 0;
  std::vector<PoolCandidate> candidates;  // ranked pools, computed once at submit
  // Admitted: its packed share of the node (ppm: 1 / how many such tasks fit) and when it should
  // end, as counted in its pool's load. Pending and waiting for room in a pool (`wait_for_room`):
  // which pool.
  int64_t share_ppm = 0;
  TimePoint expected_end{};
  int waiting_in = -1;
};

struct SchedulerOptions {
  // Thrash guard: work that has run less than this is never preempted.
  Duration min_runtime_before_preemption{std::chrono::minutes(5)};
  // Per environment and quota family, the share (percent) of the family quota that the
  // environment is entitled to. Above it, the environment borrows idle quota, which an
  // environment below its share may reclaim by preemption (as Kueue cohorts do).
  std::map<std::string, std::map<std::string, int64_t>> environment_share_pct;
  // Hold deferrable work for the spec's off-peak window.
  bool defer_off_peak = true;
  // Overrides every provisioning latency (0 for the simulator's oracle).
  std::optional<Duration> fixed_latency;
  // May a pool create or start a node now? (Start/Stop-VMs-style schedules say no
  // outside office hours.) Unset: always.
  std::function<bool(const PoolModel&, TimePoint)> may_scale_up;
  // A full cycle reconsiders every pending task; between full cycles only new arrivals
  // are considered, unless capacity grew (a completion, a node stopped or deleted).
  Duration full_cycle_every{std::chrono::minutes(10)};
  // At most one full cycle this often; in between, a cycle after capacity grew admits
  // nothing and says when to come back (`CycleResult::retry_at`). 0 = no limit.
  Duration full_cycle_min_gap{0};
  // Deferred tasks are released as their first-choice pool can take them: one after the
  // deferred work ahead of it, as if this percentage of the pool's max_nodes ran it.
  int64_t defer_pace_pct = 80;
  // When no node has room for a task now, let it wait for running work to free some
  // instead of creating or starting a node, if the work running and queued in the pool
  // should free room sooner than that node would be ready (estimated from the tasks'
  // durations) — never longer than that latency from when the task became eligible.
  bool wait_for_room = false;
};

struct Admission {
  TaskId task;
  int pool;
  NodeId node;
};

struct CycleResult {
  std::vector<Admission> admitted;
  std::vector<TaskId> preempted;  // back to pending
  std::vector<NodeId> nodes_created;
  std::vector<NodeId> nodes_started;
  size_t considered = 0;              // admission decisions made
  std::optional<TimePoint> retry_at;  // set when the cycle was postponed (full_cycle_min_gap)
  size_t pending_after = 0;
};

// "Who goes next": orders eligible pending tasks. Separate from assignment.
class OrderingPolicy {
 public:
  virtual ~OrderingPolicy() = default;
  // tenant_share_ppm: each tenant's dominant share of the fleet at the snapshot.
  virtual bool before(const TaskRecord& a, const TaskRecord& b,
                      const std::map<std::string, int64_t>& tenant_share_ppm) const = 0;
};

// Priority first, then the tenant with the smaller dominant resource share (fair share),
// then submission time, then id: deterministic.
class PriorityFairShareOrdering final : public OrderingPolicy {
 public:
  bool before(const TaskRecord& a, const TaskRecord& b,
              const std::map<std::string, int64_t>& tenant_share_ppm) const override;
};

class Scheduler final : public FleetView {
 public:
  Scheduler(const FleetModel& model, QuotaLedger ledger, const Clock& clock,
            SchedulerOptions options = {}, std::unique_ptr<OrderingPolicy> ordering = nullptr);

  // Routes node creation, start, stop and deletion through `cloud` (not owned). Without
  // one, nodes become ready after the pool's latency.
  void set_cloud(CloudPort* cloud) { cloud_ = cloud; }

  // Accepts a compute task. kInfeasible (with the reason) when no pool could ever run it;
  // kInvalidInput for an LLM-class task (those go through the gateway) or a duplicate id.
  Result<TaskId> submit(Task task);
  Result<void> complete(TaskId id);  // the task finished; its resources free up
  Result<void> cancel(TaskId id);    // pending or admitted; gone either way

  CycleResult cycle();

  // Node lifecycle, driven by the scaler or the cloud. Only empty nodes can be stopped
  // or deleted; stopping keeps the quota, deleting releases it.
  Result<void> stop_node(NodeId id, bool hibernate);
  Result<void> delete_node(NodeId id);
  // The node is gone (spot eviction, host failure): its tasks go back to pending, ahead
  // of nothing (their original priority and submission time order them), and its quota is
  // released.
  Result<std::vector<TaskId>> lose_node(NodeId id);
  // An empty node for `pool` ahead of demand (warm pools, always-on, schedules): starts a
  // stopped node if there is one, else creates one within max_nodes and quota.
  Result<NodeId> provision_node(int pool);
  // A node the cloud already runs for `pool` (a daemon taking over a real cluster), running
  // and empty from now. kUnavailable at max_nodes or when the quota has no room for it.
  Result<NodeId> adopt_node(int pool);
  size_t pending_count() const { return pending_.size() + deferred_.size(); }
  // When the next deferred task becomes eligible (a cycle is due then), if any.
  // Also when a task waiting for room (`wait_for_room`) would rather have a node.
  std::optional<TimePoint> next_release() const {
    std::optional<TimePoint> at = recheck_at_;
    if (!deferred_.empty() && (!at || deferred_.begin()->first < *at))
      at = deferred_.begin()->first;
    return at;
  }
  // Changes whenever a node is created, started, stopped, deleted or lost.
  uint64_t node_epoch() const { return node_epoch_; }

  // Nodes each pool needs now: non-empty nodes plus what best-fit decreasing needs for the
  // eligible pending tasks whose first choice it is, within [min_nodes, max_nodes].
  std::vector<int64_t> nodes_needed() const;

  PoolWait pool_wait(const PoolModel& pool, const Task& task, TimePoint now) const override;

  const FleetModel& model() const { return model_; }
  const QuotaLedger& ledger() const { return ledger_; }
  const std::map<NodeId, Node>& nodes() const { return nodes_; }
  const std::map<TaskId, TaskRecord>& tasks() const { return tasks_; }
  const std::vector<std::string>& queues() const { return queue_names_; }
  const TaskRecord* find(TaskId id) const;

 private:
  // The six steps of a cycle.
  std::map<std::string, int64_t> snapshot();
  std::vector<TaskRecord*> heads(const std::map<std::string, int64_t>& shares, bool full);
  // may_wait: whether the task may wait for room (wait_for_room) rather than take a node.
  bool assign(TaskRecord& t, CycleResult& out, bool may_wait = true);
  bool preempt(TaskRecord& t, CycleResult& out);
  void commit(TaskRecord& t, int pool, Node& node, CycleResult& out);
  void requeue(CycleResult& out);

  bool try_pool(TaskRecord& t, const PoolModel& p, CycleResult& out);
  Node* best_node(const PoolModel& p, const Resources& need);
  // wait_for_room: how soon the pool's running and waiting work should free room, as if
  // spread evenly over its active nodes; Duration::max() when it has none.
  Duration drain_estimate(const PoolModel& p) const;
  void stop_waiting(TaskRecord& t);
  void evict(TaskRecord& victim, CycleResult& out);
  void unbind(TaskRecord& t);
  int64_t env_usage_vcpus(const std::string& env, const std::string& family) const;
  std::optional<int64_t> env_nominal_vcpus(const std::string& env, const PoolModel& p) const;
  bool meets_deadline(const TaskRecord& t, const PoolModel& p, Duration wait) const;
  int queue_for(const Task& task);
  Duration latency(Duration pool_latency) const {
    return options_.fixed_latency.value_or(pool_latency);
  }
  bool may_scale_up(const PoolModel& p) const {
    return !options_.may_scale_up || options_.may_scale_up(p, clock_.now());
  }
  // Creates a node (ledger, then cloud); nullptr when the ledger or the cloud refuses.
  Node* create_node(const PoolModel& p, CycleResult* out);
  // The node record: running when `ready_at` is now, else creating.
  Node* add_node(const PoolModel& p, NodeId id, TimePoint ready_at);
  bool start_stopped(Node& n, CycleResult* out);
  void make_pending(TaskRecord& t);
  void add_pending(TaskId id);
  void remove_pending(TaskId id);
  bool room_for(const std::vector<int64_t>& lowest_victim, int64_t priority) const;
  bool queue_has_room(size_t queue, const std::vector<int64_t>& lowest_victim,
                      int64_t priority) const;

  const FleetModel& model_;
  QuotaLedger ledger_;
  const Clock& clock_;
  SchedulerOptions options_;
  std::unique_ptr<OrderingPolicy> ordering_;
  std::map<NodeId, Node> nodes_;
  // Per pool, its nodes in creation order (std::map keeps node addresses stable).
  std::vector<std::vector<Node*>> pool_nodes_;
  std::map<TaskId, TaskRecord> tasks_;
  std::set<TaskId> pending_;  // eligible now
  // Per pool: admitted work as Σ share_ppm × expected end (ms) and Σ share_ppm, so the
  // work left is Σ share × end − now × Σ share; and the work of tasks waiting for room
  // (share_ppm × duration ms).
  struct PoolLoad {
    Int128 share_end = 0, share = 0, waiting = 0;
    std::multiset<TimePoint> ends;  // admitted tasks' expected ends (overdue ones spoil it)
  };
  std::vector<PoolLoad> load_;
  std::optional<TimePoint> recheck_at_;
  std::multimap<TimePoint, TaskId> deferred_;  // waiting for not_before
  // Each pool's busy share of its last off-peak window (busy nodes over its node limit):
  // deferral pays off only when the window has idle capacity to take the work.
  struct WindowLoad {
    TimePoint last{};
    bool in_window = false;
    int64_t busy_node_ms = 0, window_ms = 0;
    std::optional<int64_t> last_pct;
  };
  std::vector<WindowLoad> window_load_;
  // Per pool, the work deferred to its next off-peak window (packed share ppm × ms).
  struct DeferQueue {
    TimePoint window{};
    Int128 queued = 0;
  };
  std::vector<DeferQueue> defer_queue_;
  void track_window_load(TimePoint now);
  std::set<TaskId> fresh_;  // pending, not yet considered
  // Pending tasks per (tenant, queue), ordered by (-priority, submitted_at, id).
  std::map<std::pair<std::string, int>, std::set<std::tuple<int64_t, TimePoint, TaskId>>>
      pending_by_tenant_;
  bool capacity_grew_ = true;
  std::optional<TimePoint> last_full_cycle_;
  CloudPort* cloud_ = nullptr;
  bool losing_ = false;
  uint64_t node_epoch_ = 0;
  // When admitted preemptible tasks pass the thrash guard: a full cycle is due then, since
  // work waiting for capacity may now preempt them.
  std::multiset<TimePoint> preemptible_from_;
  // Per queue, conservative bounds over its pending tasks (reset when it empties).
  struct QueueBounds {
    int64_t pending = 0;
    Resources min_shape;
    int64_t max_priority = 0;
    std::vector<int> pools;
  };
  std::vector<QueueBounds> queue_bounds_;
  Resources total_capacity_;  // every pool at max_nodes (fair-share denominator)
  std::map<std::string, Resources> tenant_used_;  // admitted resources per tenant
  // Ranked pools per task shape (class, environment, resources): computed once. The order
  // does not depend on duration (every pool's cost scales with it alike).
  std::map<std::tuple<std::string, std::string, int64_t, int64_t, int64_t, int64_t>,
           std::vector<PoolCandidate>>
      rank_cache_;
  std::map<std::string, TaskId> by_external_id_;
  std::vector<std::string> queue_names_;
  std::map<std::string, int> queue_index_;
  // Per cycle: shapes that found no room in a pool (free capacity only shrinks within a
  // cycle until a preemption), so larger-or-equal shapes skip the node scan.
  std::vector<std::vector<Resources>> no_room_;
  // Per cycle: (shape, priority) that found no victims in a pool; a larger-or-equal shape
  // with lower-or-equal priority finds none either (fewer victims are eligible to it).
  std::vector<std::vector<std::pair<Resources, int64_t>>> no_victims_;
  std::vector<TaskRecord*> scratch_eligible_, scratch_victims_, scratch_best_;
  TaskId next_task_ = 1;
  NodeId next_node_ = 1;
};

}  // namespace codefleet
