// The reconcile loop: the scheduling core and a scaling strategy running against the
// cloud port, continuously. Tasks reach it through the store (the API writes them
// durably first; the loop claims them), so a task accepted by any replica is scheduled
// by the leader and nothing accepted is lost across restarts. Every admission,
// preemption, completion and node change is written back to the store.
//
//   Controller c(model, store, {.strategy = "codefleet", .speed = 60});
//   c.start();            // recovers active tasks, then runs its loop on a thread
//   c.notify();           // new tasks were stored
//   auto snap = c.snapshot();
//
// Time: the loop's clock is `daemon_now()`: wall time, or accelerated (`speed` simulated
// seconds per wall second, for demos). Only the loop thread touches the scheduler; other
// threads ask it through `call`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/money.h"
#include "routing/router.h"
#include "scheduling/executor.h"
#include "sim/region.h"
#include "store/store.h"

namespace codefleet {

class Scheduler;
class ScalingStrategy;

struct ControllerOptions {
  std::string strategy = "codefleet";
  double speed = 1.0;                             // simulated seconds per wall second
  TimePoint start_at{};                           // daemon time at speed != 1 (default: now)
  bool simulate_workers = true;                   // tasks run for their duration, then finish
  Duration tick{std::chrono::milliseconds(100)};  // wall time between loop passes at most
  RegionOptions region;
  // A real cloud (AKS) that every node decision is also sent to. The simulated region still
  // keeps node states and the cost estimate; nodes the mirror reports lost are lost.
  CloudPort* mirror = nullptr;
  // Where admitted tasks really run (Kubernetes). Set, it replaces the simulated workers:
  // tasks start, finish and fail as the executor reports, failures are retried as the
  // task's `run.retries` says, and the store is reconciled against the engine whenever
  // this replica becomes the leader.
  Executor* executor = nullptr;
  int cancel_grace_s = 30;  // for the containers of a cancelled or preempted task
};

struct PoolStatus {
  std::string name, environment, region, sku, quota_family;
  int64_t min_nodes = 0, max_nodes = 0;
  bool spot = false, can_hibernate = false;
  std::map<std::string, int64_t> nodes;  // state → count
  Money usd_per_hour;
  std::string price_source;
};

struct QuotaStatus {
  std::string kind, region, name;  // kind: family | regional | spot
  int64_t used = 0;
  std::optional<int64_t> limit;
};

struct BudgetStatus {
  std::string name, scope;
  Money amount, spent_month_to_date, forecast_month;
  std::vector<int64_t> thresholds_pct;
};

struct Snapshot {
  TimePoint at{};
  std::vector<PoolStatus> pools;
  std::vector<QuotaStatus> quotas;
  std::vector<BudgetStatus> budgets;
  std::map<std::string, Money> cost_month_to_date;  // by pool
  int64_t pending = 0, admitted = 0;
  int64_t wait_p95_ms = 0;  // tasks admitted in the last hour
  int64_t cloud_failures = 0;
  bool leading = false;
  bool ready = false;
};

// Observers of what the loop does (metrics, alerts); called on the loop thread.
class ControllerListener {
 public:
  virtual ~ControllerListener() = default;
  virtual void on_admitted(const std::string& class_name, Duration wait) = 0;
  virtual void on_snapshot(const Snapshot& s) = 0;
  virtual void on_cost(const std::string& pool, Money delta) = 0;
};

class Controller {
 public:
  Controller(const FleetModel& model, Store& store, ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void add_listener(ControllerListener* l) { listeners_.push_back(l); }
  // Recovers (admitted and running tasks go back to pending: the simulated fleet starts
  // empty) and starts the loop. kInvalidInput for an unknown strategy.
  Result<void> start();
  void stop();
  void notify();
  TimePoint daemon_now() const;

  // Thread-safe: these run on the loop thread and return its answer.
  Decision route(const Task& task);
  void task_ended(const std::string& id);  // cancelled, finished or failed through the API
  // Cost accrued outside the fleet (LLM calls to AI Foundry): counts toward the month's
  // budgets (the caller has stored it).
  void record_cost(const std::string& name, Money amount);

  Snapshot snapshot() const;

 private:
  void loop();
  // A fresh scheduler, region and clock: at start, and whenever leadership changes hands.
  void reset_fleet(TimePoint now);
  // Requeues what a previous leader had placed and releases every claim; false (retry on
  // a later pass) when the store failed.
  bool become_leader(TimePoint now);
  // After the cloud could not be read, the next try to lead waits this long.
  static constexpr std::chrono::seconds kCloudRetry{2};
  std::chrono::steady_clock::time_point lead_retry_at_{};
  void follow(TimePoint now);
  void pass(TimePoint now);
  void claim(TimePoint now);
  void adopt(const StoredTask& st, TimePoint now);
  void workers(TimePoint now);
  // The executor's side (executor set): recovery at leadership, its events, retries.
  bool recover_executions(const std::vector<StoredTask>& active);
  void executed(TimePoint now);
  void stop_stray(const ExecEvent& e);
  void on_failed(uint64_t tid, const ExecEvent& e, TimePoint now);
  void requeue(uint64_t tid, Duration delay, const std::string& event, const std::string& detail,
               TimePoint now);
  void resubmit(TimePoint now);
  void launch(uint64_t tid, const std::string& pool);
  void dispatch();
  void run_cycle(TimePoint now);
  void account(TimePoint now);
  void publish(TimePoint now);
  void flush(TimePoint now);
  void post(std::function<void()> fn);

  const FleetModel& model_;
  Store& store_;
  ControllerOptions options_;
  std::vector<ControllerListener*> listeners_;
  std::unique_ptr<SimulatedClock> clock_;
  std::unique_ptr<SimulatedRegion> region_;
  std::unique_ptr<CloudPort> tee_;  // region + mirror
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ScalingStrategy> strategy_;
  std::chrono::steady_clock::time_point wall_start_;
  TimePoint daemon_start_{};

  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> calls_;
  bool stop_ = false;
  bool woken_ = false;
  Snapshot snapshot_;

  // Loop-thread state.
  struct Live {
    std::string external_id;
    std::string class_name;
    TimePoint submitted{};
    uint64_t epoch = 0;
    bool started = false;
    // With an executor: the task (to submit again after a retry), the attempt running now
    // (-1: none), the next attempt's number and the retries spent.
    std::shared_ptr<const Task> task;
    int attempt = -1;
    int next_attempt = 0;
    int retries_used = 0;
    std::string machine;  // where its current attempt started ("" = not yet)
  };
  std::map<uint64_t, Live> live_;                // scheduler task id → what we know
  std::map<std::string, uint64_t> by_external_;  // external id → scheduler task id
  struct WorkerEvent {
    TimePoint at;
    uint64_t task;
    uint64_t epoch;
    bool finish;
    bool operator>(const WorkerEvent& o) const { return at > o.at; }
  };
  std::vector<WorkerEvent> worker_events_;  // min-heap
  std::vector<TaskUpdate> updates_;
  std::vector<Launch> launches_;  // sent to the executor once their admissions are stored
  // Attempts the engine held when this replica became the leader, by task: adopted when
  // the task is admitted to the same pool again, else stopped.
  std::map<std::string, ExecJob> adoptable_;
  std::map<std::string, std::pair<int, int>> recovered_attempts_;  // task → (next, retries)
  std::multimap<TimePoint, Live> retries_;  // tasks waiting out their retry backoff
  std::set<std::string> retrying_;          // their ids
  // The scheduler's nodes and the real machines they are (executor set): bound when the
  // first task admitted to a node starts on a machine neither is bound to yet. Later tasks
  // on that node run on that machine; a machine the executor loses takes its node along.
  std::map<NodeId, std::string> machine_of_;
  std::map<std::string, NodeId> node_of_machine_;
  void bind_machine(uint64_t tid, const std::string& machine);
  std::vector<TaskEvent> journal_;
  std::map<uint64_t, int> node_states_;    // last journaled state per node (-1 = gone)
  std::map<std::string, int64_t> billed_;  // per pool, micro-USD already accounted
  std::map<std::pair<std::string, int64_t>, int64_t> unsent_costs_;  // (pool, hour) → micro-USD
  bool readopt_ = false;  // a claim failed: adopt pending tasks nobody holds
  TimePoint next_readopt_{};
  std::map<std::string, Money> month_cost_;
  int64_t month_key_ = -1;
  std::deque<std::pair<TimePoint, int64_t>> recent_waits_;
  TimePoint next_strategy_tick_{};
  bool dirty_ = true;
  TimePoint last_publish_{};
};

}  // namespace codefleet
