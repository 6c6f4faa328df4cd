// The reconcile loop (see controller.h). One pass:
//   1. clock      — daemon time now; the region accrues billing and reports evictions
//   2. calls      — requests from API threads (route dry runs, ended tasks)
//   3. claim      — new tasks from the store into the scheduler
//   4. workers    — simulated workers start and finish admitted tasks on their nodes; or,
//                   with an executor, what it reports (started, finished, failed, lost),
//                   failures retried after their backoff

//   5. scale      — the strategy's tick, at its interval
//   6. cycle      — the scheduler's cycle; admissions and preemptions recorded
//   7. account    — node changes journaled, cost accrued per pool and hour
//   8. flush      — all of it written to the store in one transaction each
//   9. publish    — the snapshot the API, metrics and alerts read
#include "server/controller.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "core/stats.h"
#include "core/text.h"
#include "scaling/strategy.h"
#include "scheduling/scheduler.h"
#include "spec/run.h"
#include "spec/spec.h"
#include "workload/task.h"

namespace codefleet {

using namespace std::chrono;

namespace {

std::string node_name(NodeId id) { return fmt::format("node-{}", id); }

// Start of the UTC calendar month holding `t`.
TimePoint month_start(TimePoint t) {
  auto day = floor<days>(t);
  year_month_day ymd{day};
  return sys_days{ymd.year() / ymd.month() / 1};
}

TimePoint next_month_start(TimePoint t) {
  year_month_day ymd{floor<days>(t)};
  auto next = ymd.year() / ymd.month() / 1 + months{1};
  return sys_days{next};
}

// Every call to the region (which decides the answer and keeps the cost estimate), then to
// the mirror (the real cloud).
class MirrorCloud final : public CloudPort {
 public:
  MirrorCloud(CloudPort& region, CloudPort& mirror) : region_(region), mirror_(mirror) {}
  Result<Duration> create_vm(const PoolModel& p, NodeId id, TimePoint now) override {
    auto r = region_.create_vm(p, id, now);
    if (r) (void)mirror_.create_vm(p, id, now);
    return r;
  }
  Result<Duration> start_vm(const PoolModel& p, NodeId id, bool hibernated,
                            TimePoint now) override {
    auto r = region_.start_vm(p, id, hibernated, now);
    if (r) (void)mirror_.start_vm(p, id, hibernated, now);
    return r;
  }
  void stop_vm(const PoolModel& p, NodeId id, bool hibernate, TimePoint now) override {
    region_.stop_vm(p, id, hibernate, now);
    mirror_.stop_vm(p, id, hibernate, now);
  }
  void delete_vm(const PoolModel& p, NodeId id, TimePoint now) override {
    region_.delete_vm(p, id, now);
    mirror_.delete_vm(p, id, now);
  }
  Result<std::map<std::string, int64_t>> existing_nodes() override {
    return mirror_.existing_nodes();
  }
  void adopt_vm(const PoolModel& p, NodeId id, TimePoint now) override {
    region_.adopt_vm(p, id, now);
    mirror_.adopt_vm(p, id, now);
  }
  void adoption_done() override { mirror_.adoption_done(); }

 private:
  CloudPort& region_;
  CloudPort& mirror_;
};

}  // namespace

Controller::Controller(const FleetModel& model, Store& store, ControllerOptions options)
    : model_(model), store_(store), options_(std::move(options)) {}

Controller::~Controller() { stop(); }

TimePoint Controller::daemon_now() const {
  auto wall = steady_clock::now() - wall_start_;
  if (options_.speed == 1.0) return daemon_start_ + duration_cast<Duration>(wall);
  auto scaled = duration<double, std::milli>(wall).count() * options_.speed;
  return daemon_start_ + Duration(static_cast<int64_t>(scaled));
}

Result<void> Controller::start() {
  auto strategy = make_strategy(options_.strategy, model_);
  if (!strategy) return tl::unexpected(strategy.error());
  strategy_ = std::move(*strategy);
  wall_start_ = steady_clock::now();
  daemon_start_ = options_.start_at == TimePoint{} ? time_point_cast<Duration>(system_clock::now())
                                                   : options_.start_at;
  reset_fleet(daemon_now());
  if (options_.executor) options_.executor->set_wakeup([this] { notify(); });
  thread_ = std::thread([this] { loop(); });
  return {};
}

void Controller::reset_fleet(TimePoint now) {
  // The scheduler refers to the clock and the region: it goes first.
  scheduler_.reset();
  region_.reset();
  clock_ = std::make_unique<SimulatedClock>(now);
  SchedulerOptions so;
  so.full_cycle_min_gap = seconds(1);
  strategy_->configure(so);
  region_ = std::make_unique<SimulatedRegion>(model_, *model_.spec, options_.region);
  scheduler_ =
      std::make_unique<Scheduler>(model_, QuotaLedger::from_spec(*model_.spec), *clock_, so);
  if (options_.mirror) {
    tee_ = std::make_unique<MirrorCloud>(*region_, *options_.mirror);
    scheduler_->set_cloud(tee_.get());
  } else {
    scheduler_->set_cloud(region_.get());
  }
  region_->advance_to(now);
  live_.clear();
  by_external_.clear();
  worker_events_.clear();
  updates_.clear();
  launches_.clear();
  adoptable_.clear();
  recovered_attempts_.clear();
  retries_.clear();
  retrying_.clear();
  machine_of_.clear();
  node_of_machine_.clear();
  journal_.clear();
  node_states_.clear();
  billed_.clear();
  unsent_costs_.clear();
  recent_waits_.clear();
  readopt_ = false;
  dirty_ = true;
  last_publish_ = TimePoint{};
  // Cost already accrued this month (earlier runs, other leaders).
  month_cost_.clear();
  auto costs = store_.costs_by_pool(unix_ms(month_start(now)), unix_ms(now) + 3'600'000);
  if (costs) {
    for (const auto& [pool, micros] : *costs) month_cost_[pool] = Money::from_micros(micros);
  }
  month_key_ = unix_ms(month_start(now));
}

bool Controller::become_leader(TimePoint now) {
  // Recovery: the simulated fleet starts empty, so admitted and running work goes back to
  // pending; then every active task is claimed again. Any store failure: try again later.
  auto active = store_.active_tasks();
  if (!active) return false;
  if (options_.executor && !recover_executions(*active)) {
    lead_retry_at_ = std::chrono::steady_clock::now() + kCloudRetry;
    store_.resign();
    return false;
  }
  for (const auto& t : *active) {
    if (t.state == TaskPhase::kPending) continue;
    updates_.push_back(
        {t.id,
         TaskPhase::kPending,
         "",
         "",
         "",
         unix_ms(now),
         "requeued",
         options_.executor
             ? R"({"reason":"a new leader took over; a Job still there is adopted when the task is placed on its pool again"})"
             : R"({"reason":"a new leader took over; its fleet starts empty"})",
         {TaskPhase::kAdmitted, TaskPhase::kRunning}});
  }
  flush(now);
  if (!updates_.empty()) return false;
  if (!store_.release_claims()) return false;
  // A real cluster keeps its nodes across restarts and leader changes: take them over as
  // running, empty nodes (the requeued work lands on them; the strategy stops the rest as
  // its idle policy says) rather than let the fleet start empty and scale them away.
  if (options_.mirror) {
    auto existing = options_.mirror->existing_nodes();
    if (!existing) {
      fmt::print(stderr,
                 R"({{"level":"error","msg":"cannot read the cloud's nodes; retrying","error":{}}})"
                 "\n",
                 json_quote(existing.error().describe()));
      lead_retry_at_ = std::chrono::steady_clock::now() + kCloudRetry;  // spare ARM
      store_.resign();  // another replica that can read the cloud may lead meanwhile
      return false;
    }
    for (const auto& p : model_.pools) {
      auto it = existing->find(p.name);
      int64_t have = it == existing->end() ? 0 : it->second, adopted = 0;
      while (adopted < have && scheduler_->adopt_node(p.index)) ++adopted;
      if (have == 0) continue;
      fmt::print(
          stderr,
          R"({{"level":"{}","msg":"adopted the pool's nodes","pool":{},"nodes":{},"adopted":{}{}}})"
          "\n",
          adopted < have ? "warn" : "info", json_quote(p.name), have, adopted,
          adopted < have ? R"(,"note":"beyond max_nodes or quota: the rest are scaled down")" : "");
    }
    options_.mirror->adoption_done();
  }
  strategy_->start(*scheduler_, now);
  next_strategy_tick_ = now;
  if (options_.executor) options_.executor->start();
  return true;
}

// Level-triggered: what the engine holds is compared with the store. An attempt of a live
// task is kept for adoption (the task is requeued like every other and, placed on the same
// pool again, takes its Job back instead of starting a second one); an older attempt of a
// live task, and a running Job whose task is not live, are stopped. A task whose Job
// vanished simply runs again. False when the engine cannot be read.
bool Controller::recover_executions(const std::vector<StoredTask>& active) {
  auto jobs = options_.executor->jobs();
  if (!jobs) {
    fmt::print(stderr,
               R"({{"level":"error","msg":"cannot list the executor's jobs; retrying","error":{}}})"
               "\n",
               json_quote(jobs.error().describe()));
    return false;
  }
  std::map<std::string, int> latest;  // task → its highest attempt held
  for (const auto& j : *jobs) {
    auto [it, fresh] = latest.emplace(j.task_id, j.attempt);
    if (!fresh) it->second = std::max(it->second, j.attempt);
  }
  // What each live task's events say: retries spent, admissions so far (each was one
  // attempt, so the next number is never one a Job still being torn down may hold), and
  // the attempts whose failure was already handled (a retry followed).
  std::map<std::string, std::set<int>> handled;
  for (const auto& t : active) {
    if (t.state == TaskPhase::kPending && !latest.count(t.id) && t.created_ms == t.updated_ms)
      continue;  // never admitted: nothing to count
    auto events = store_.task_events(t.id);
    if (!events) return false;
    int retries = 0, admissions = 0;
    for (const auto& e : *events) {
      admissions += e.kind == "admitted";
      if (e.kind != "retry") continue;
      ++retries;
      auto at = e.detail_json.find(R"("attempt":)");
      if (at != std::string::npos) handled[t.id].insert(std::atoi(e.detail_json.c_str() + at + 10));
    }
    auto held = latest.find(t.id);
    int next = std::max(admissions, held == latest.end() ? 0 : held->second + 1);
    recovered_attempts_[t.id] = {next, retries};
  }
  std::set<std::string> live;
  for (const auto& t : active) live.insert(t.id);
  int64_t kept = 0, stopped = 0;
  for (const auto& j : *jobs) {
    bool is_live = live.count(j.task_id) > 0;
    bool current = is_live && latest[j.task_id] == j.attempt;
    bool news = !(j.done && handled[j.task_id].count(j.attempt));  // its end not yet handled
    if (current && news) {
      adoptable_[j.task_id] = j;
      ++kept;
    } else if (!j.done) {
      options_.executor->cancel(j.task_id, j.attempt, options_.cancel_grace_s);
      ++stopped;
    }
    // An ended Job whose end is handled, or whose task ended, stays for its log (its TTL).
  }
  fmt::print(
      stderr,
      R"({{"level":"info","msg":"reconciled the store with the executor","executor":{},"jobs":{},"adoptable":{},"stopped":{}}})"
      "\n",
      json_quote(options_.executor->kind()), jobs->size(), kept, stopped);
  return true;
}

void Controller::stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (options_.executor) options_.executor->set_wakeup({});
}

void Controller::notify() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void Controller::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    calls_.push_back(std::move(fn));
    woken_ = true;
  }
  cv_.notify_one();
}

Decision Controller::route(const Task& task) {
  auto promise = std::make_shared<std::promise<Decision>>();
  auto future = promise->get_future();
  post([this, task, promise] {
    promise->set_value(codefleet::route(model_, task, *scheduler_, clock_->now()));
  });
  return future.get();
}

void Controller::task_ended(const std::string& id) {
  post([this, id] {
    auto it = by_external_.find(id);
    if (it == by_external_.end()) return;
    const TaskRecord* rec = scheduler_->find(it->second);
    if (rec && rec->state == TaskState::kAdmitted) {
      (void)scheduler_->complete(it->second);
    } else {
      (void)scheduler_->cancel(it->second);
    }
    auto l = live_.find(it->second);
    if (options_.executor && l != live_.end() && l->second.attempt >= 0) {
      options_.executor->cancel(id, l->second.attempt, options_.cancel_grace_s);
    }
    // Ended before it was placed again after a recovery: the Job it held goes too.
    if (auto held = adoptable_.find(id); options_.executor && held != adoptable_.end()) {
      options_.executor->cancel(id, held->second.attempt, options_.cancel_grace_s);
      adoptable_.erase(held);
    }
    live_.erase(it->second);
    by_external_.erase(it);
    dirty_ = true;
  });
  post([this, id] {  // a task cancelled while it waits out a retry's backoff
    for (auto it = retries_.begin(); it != retries_.end(); ++it) {
      if (it->second.external_id == id) {
        retries_.erase(it);
        retrying_.erase(id);
        return;
      }
    }
  });
}

void Controller::record_cost(const std::string& name, Money amount) {
  post([this, name, amount] { month_cost_[name] = month_cost_[name] + amount; });
}

Snapshot Controller::snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void Controller::loop() {
  bool leading = false;
  auto last_lead_check = steady_clock::now();
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.tick, [&] { return stop_ || woken_; });
      if (stop_) break;
      woken_ = false;
    }
    TimePoint now = daemon_now();
    if (leading && steady_clock::now() - last_lead_check >= seconds(1)) {
      // Still the leader? With PostgreSQL, a dropped session frees the advisory lock and
      // another replica may already lead: step down at once, state and all.
      last_lead_check = steady_clock::now();
      auto lead = store_.try_lead();
      if (!lead || !*lead) {
        fmt::print(stderr, R"({{"level":"warn","msg":"leadership lost; following"}})"
                           "\n");
        leading = false;
        reset_fleet(now);
      }
    }
    if (!leading) {
      auto lead = steady_clock::now() < lead_retry_at_ ? Result<bool>(false) : store_.try_lead();
      if (lead && *lead) {
        reset_fleet(now);
        leading = become_leader(now);
        last_lead_check = steady_clock::now();
      }
      if (!leading) {
        follow(now);
        continue;
      }
      fmt::print(stderr, R"({{"level":"info","msg":"leading: the reconcile loop runs here"}})"
                         "\n");
    }
    pass(now);
    std::this_thread::sleep_for(milliseconds(5));  // let submissions batch up
  }
  flush(daemon_now());
}

void Controller::follow(TimePoint now) {
  clock_->set(std::max(now, clock_->now()));
  std::deque<std::function<void()>> calls;
  {
    std::lock_guard lock(mu_);
    calls.swap(calls_);
    snapshot_ = Snapshot{};
    snapshot_.at = now;
    snapshot_.leading = false;
    snapshot_.ready = true;
  }
  for (auto& c : calls) c();  // dry runs are answered against an empty fleet
  if (options_.executor) (void)options_.executor->take_events();  // the leader's business
}

void Controller::pass(TimePoint now) {
  // 1. clock
  clock_->set(std::max(now, clock_->now()));
  now = clock_->now();
  // Nodes that are gone: spot evictions in the region, and nodes the real cloud would not
  // provide (their scale-up failed), which leave the region's books too.
  std::vector<std::pair<NodeId, const char*>> gone;
  for (NodeId id : region_->advance_to(now)) gone.emplace_back(id, "evicted");
  if (options_.executor) {
    for (const std::string& machine : options_.executor->take_lost_nodes()) {
      auto bound = node_of_machine_.find(machine);
      if (bound == node_of_machine_.end()) continue;
      NodeId id = bound->second;
      // A task on this node that runs on another machine (started before the tie, or
      // placed there by Kubernetes) says the node is not only this machine: untie them,
      // and let the pods that were on it come back one by one.
      bool elsewhere = std::any_of(live_.begin(), live_.end(), [&](const auto& entry) {
        const TaskRecord* r = scheduler_->find(entry.first);
        return r && r->state == TaskState::kAdmitted && r->node == id &&
               !entry.second.machine.empty() && entry.second.machine != machine;
      });
      node_of_machine_.erase(bound);
      machine_of_.erase(id);
      if (elsewhere) continue;
      auto it = scheduler_->nodes().find(id);
      if (it != scheduler_->nodes().end()) {
        region_->delete_vm(model_.pools[it->second.pool], id, now);
        gone.emplace_back(id, "node_lost");
      }
    }
  }
  if (options_.mirror) {
    for (NodeId id : options_.mirror->take_lost()) {
      auto it = scheduler_->nodes().find(id);
      if (it == scheduler_->nodes().end()) continue;
      region_->delete_vm(model_.pools[it->second.pool], id, now);
      gone.emplace_back(id, "node_lost");
    }
  }
  for (const auto& [evicted, why] : gone) {
    auto lost = scheduler_->lose_node(evicted);
    if (!lost) continue;
    for (auto tid : *lost) {
      auto it = live_.find(tid);
      if (it == live_.end()) continue;
      it->second.epoch++;
      it->second.started = false;
      if (options_.executor && it->second.attempt >= 0) {
        options_.executor->cancel(it->second.external_id, it->second.attempt, 0);
        it->second.attempt = -1;
      }
      updates_.push_back({it->second.external_id,
                          TaskPhase::kPending,
                          "",
                          "",
                          "",
                          unix_ms(now),
                          why,
                          fmt::format(R"({{"node":"{}"}})", node_name(evicted)),
                          {TaskPhase::kAdmitted, TaskPhase::kRunning}});
    }
    dirty_ = true;
  }
  // 2. calls
  std::deque<std::function<void()>> calls;
  {
    std::lock_guard lock(mu_);
    calls.swap(calls_);
  }
  for (auto& c : calls) c();
  // 3-7
  claim(now);
  workers(now);
  if (options_.executor) {
    resubmit(now);
    executed(now);
  }
  if (now >= next_strategy_tick_) {
    uint64_t before = scheduler_->node_epoch();
    strategy_->tick(*scheduler_, now);
    next_strategy_tick_ = now + strategy_->interval();
    if (scheduler_->node_epoch() != before) dirty_ = true;
  }
  run_cycle(now);
  account(now);
  // 8-9
  flush(now);
  if (updates_.empty()) dispatch();  // a Job only for an admission that is stored
  publish(now);
}

void Controller::adopt(const StoredTask& st, TimePoint now) {
  if (by_external_.count(st.id) || retrying_.count(st.id)) return;
  auto task = parse_task_json(st.body_json, *model_.spec, "task " + st.id);
  Result<uint64_t> id = tl::unexpected(Error{});
  if (task) {
    task->id = st.id;
    task->tenant = st.tenant;
    task->submitted_at = from_unix_ms(st.created_ms);
    id = scheduler_->submit(*task);
  } else {
    id = tl::unexpected(task.error());
  }
  if (!id) {
    updates_.push_back({st.id,
                        TaskPhase::kRejected,
                        "",
                        "",
                        id.error().message,
                        unix_ms(now),
                        "rejected",
                        "{}",
                        {TaskPhase::kPending}});
    return;
  }
  Live l{st.id, st.class_name, task->submitted_at, 0, false, nullptr, -1, 0, 0, ""};
  if (options_.executor) {
    l.task = std::make_shared<const Task>(*task);
    if (auto r = recovered_attempts_.find(st.id); r != recovered_attempts_.end()) {
      l.next_attempt = r->second.first;
      l.retries_used = r->second.second;
      recovered_attempts_.erase(r);
    }
  }
  live_[*id] = std::move(l);
  by_external_[st.id] = *id;
  dirty_ = true;
}

void Controller::claim(TimePoint now) {
  // After a failed claim the rows may have been committed as claimed all the same (an
  // answer lost after COMMIT): pending tasks nobody holds are adopted from the store.
  if (readopt_ && now >= next_readopt_) {
    auto active = store_.active_tasks();
    if (active) {
      for (const auto& st : *active) {
        if (st.state == TaskPhase::kPending) adopt(st, now);
      }
      readopt_ = false;
    }
    next_readopt_ = now + seconds(30);
  }
  // Small batches: each is one write transaction that submissions queue behind.
  constexpr int kBatch = 256;
  for (int round = 0; round < 4; ++round) {
    auto claimed = store_.claim_new_tasks(kBatch);
    if (!claimed) {
      readopt_ = true;
      return;
    }
    for (const auto& st : *claimed) adopt(st, now);
    if (static_cast<int>(claimed->size()) < kBatch) return;
  }
}

void Controller::workers(TimePoint now) {
  auto cmp = std::greater<WorkerEvent>();
  while (!worker_events_.empty() && worker_events_.front().at <= now) {
    std::pop_heap(worker_events_.begin(), worker_events_.end(), cmp);
    WorkerEvent e = worker_events_.back();
    worker_events_.pop_back();
    auto it = live_.find(e.task);
    if (it == live_.end() || it->second.epoch != e.epoch) continue;  // preempted meanwhile
    const TaskRecord* rec = scheduler_->find(e.task);
    if (!rec || rec->state != TaskState::kAdmitted) continue;
    if (!e.finish) {
      it->second.started = true;
      updates_.push_back({it->second.external_id,
                          TaskPhase::kRunning,
                          "",
                          "",
                          "",
                          unix_ms(e.at),
                          "started",
                          "{}",
                          {TaskPhase::kAdmitted}});
      continue;
    }
    updates_.push_back({it->second.external_id,
                        TaskPhase::kCompleted,
                        "",
                        "",
                        "",
                        unix_ms(e.at),
                        "finished",
                        "{}",
                        {TaskPhase::kAdmitted, TaskPhase::kRunning}});
    (void)scheduler_->complete(e.task);
    by_external_.erase(it->second.external_id);
    live_.erase(it);
    dirty_ = true;
  }
}

// The attempt for an admission: the Job the engine still held at recovery when it is on
// this pool (create-or-adopt: the executor reports its state), else a new attempt (and
// the held one, on another pool, stopped).
void Controller::launch(uint64_t tid, const std::string& pool) {
  Live& l = live_.at(tid);
  int attempt = l.next_attempt;
  std::string where = pool;
  if (auto held = adoptable_.find(l.external_id); held != adoptable_.end()) {
    // Taken back wherever it was placed now: killing a running attempt, or running a
    // finished one again, to follow the new placement would be worse than accounting it
    // on this pool while it ends on its own.
    attempt = held->second.attempt;
    if (held->second.pool != pool) {
      fmt::print(
          stderr,
          R"({{"level":"warn","msg":"adopted a Job on another pool than the new placement","task":{},"job_pool":{},"placed_on":{}}})"
          "\n",
          json_quote(l.external_id), json_quote(held->second.pool), json_quote(pool));
      where = held->second.pool;
    }
    adoptable_.erase(held);
  }
  l.attempt = attempt;
  l.next_attempt = std::max(l.next_attempt, attempt + 1);
  l.started = false;
  l.machine.clear();
  std::string machine;
  if (const TaskRecord* rec = scheduler_->find(tid); rec && where == pool) {
    if (auto m = machine_of_.find(rec->node); m != machine_of_.end()) machine = m->second;
  }
  launches_.push_back({l.external_id, l.task->tenant, l.class_name, attempt, where, machine,
                       l.task->resources, l.task->run});
}

void Controller::dispatch() {
  for (const auto& l : launches_) options_.executor->launch(l);
  launches_.clear();
}

// An attempt that starts although it is not the one the loop runs (a create an earlier
// leader still had on its way, one left over from an older attempt): stopped, so that one
// task never runs twice. Not a Job kept for adoption.
void Controller::stop_stray(const ExecEvent& e) {
  if (e.kind != ExecEvent::Kind::kStarted || retrying_.count(e.task_id)) return;
  auto held = adoptable_.find(e.task_id);
  if (held != adoptable_.end() && held->second.attempt == e.attempt) return;
  fmt::print(
      stderr,
      R"({{"level":"warn","msg":"stopping an attempt that is not the task's current one","task":{},"attempt":{}}})"
      "\n",
      json_quote(e.task_id), e.attempt);
  options_.executor->cancel(e.task_id, e.attempt, options_.cancel_grace_s);
}

void Controller::executed(TimePoint now) {
  for (const ExecEvent& e : options_.executor->take_events()) {
    auto bi = by_external_.find(e.task_id);
    if (bi == by_external_.end()) {  // ended, or waiting out a retry's backoff
      stop_stray(e);
      continue;
    }
    uint64_t tid = bi->second;
    Live& l = live_.at(tid);
    const TaskRecord* rec = scheduler_->find(tid);
    if (e.attempt != l.attempt) {
      stop_stray(e);
      continue;
    }
    if (!rec || rec->state != TaskState::kAdmitted) continue;  // stale
    std::string where = fmt::format(R"("attempt":{},"node":{})", e.attempt, json_quote(e.node));
    switch (e.kind) {
      case ExecEvent::Kind::kStarted:
        if (l.started) break;
        l.started = true;
        l.machine = e.node;
        bind_machine(tid, e.node);
        updates_.push_back({l.external_id,
                            TaskPhase::kRunning,
                            "",
                            e.node,
                            "",
                            unix_ms(now),
                            "started",
                            "{" + where + "}",
                            {TaskPhase::kAdmitted}});
        break;
      case ExecEvent::Kind::kFinished:
        updates_.push_back({l.external_id,
                            TaskPhase::kCompleted,
                            "",
                            e.node,
                            "",
                            unix_ms(now),
                            "finished",
                            fmt::format(R"({{{},"exit_code":{}}})", where, e.exit_code),
                            {TaskPhase::kAdmitted, TaskPhase::kRunning}});
        (void)scheduler_->complete(tid);
        by_external_.erase(bi);
        live_.erase(tid);
        dirty_ = true;
        break;
      case ExecEvent::Kind::kFailed:
        on_failed(tid, e, now);
        break;
      case ExecEvent::Kind::kLost:
        // The platform's doing (node lost, evicted, the Job gone): no retry is spent. What
        // is left of the attempt goes (a pod on a node that only lost touch may still run).
        options_.executor->cancel(l.external_id, l.attempt, 0);
        requeue(tid, Duration{0}, "node_lost",
                fmt::format(R"({{{},"reason":{}}})", where, json_quote(e.reason)), now);
        break;
    }
  }
}

void Controller::bind_machine(uint64_t tid, const std::string& machine) {
  const TaskRecord* rec = scheduler_->find(tid);
  if (!rec || machine.empty() || machine_of_.count(rec->node) || node_of_machine_.count(machine))
    return;
  machine_of_[rec->node] = machine;
  node_of_machine_[machine] = rec->node;
  journal_.push_back({node_name(rec->node), "node",
                      fmt::format(R"({{"pool":{},"machine":{}}})",
                                  json_quote(model_.pools[rec->pool].name), json_quote(machine)),
                      unix_ms(clock_->now())});
}

// A failure of the task itself: retried while its policy allows (the exit code listed, or
// any failure when none are), after a backoff that doubles each time; else final.
void Controller::on_failed(uint64_t tid, const ExecEvent& e, TimePoint now) {
  Live& l = live_.at(tid);
  RetryPolicy policy = l.task && l.task->run ? l.task->run->retries : RetryPolicy{};
  bool listed = policy.on_exit_codes.empty() ||
                std::find(policy.on_exit_codes.begin(), policy.on_exit_codes.end(), e.exit_code) !=
                    policy.on_exit_codes.end();
  std::string what = fmt::format(R"("attempt":{},"node":{},"reason":{},"exit_code":{})", e.attempt,
                                 json_quote(e.node), json_quote(e.reason), e.exit_code);
  if (listed && l.retries_used < policy.limit) {
    ++l.retries_used;
    Duration backoff = policy.backoff * (int64_t{1} << std::min(l.retries_used - 1, 20));
    requeue(tid, backoff, "retry",
            fmt::format(R"({{{},"retry":{},"limit":{},"backoff_ms":{}}})", what, l.retries_used,
                        policy.limit, duration_cast<milliseconds>(backoff).count()),
            now);
    return;
  }
  std::string reason =
      e.exit_code != 0 ? fmt::format("{} (exit code {})", e.reason, e.exit_code) : e.reason;
  if (l.retries_used > 0) reason += fmt::format(" after {} retries", l.retries_used);
  updates_.push_back({l.external_id,
                      TaskPhase::kFailed,
                      "",
                      e.node,
                      reason,
                      unix_ms(now),
                      "failed",
                      "{" + what + "}",
                      {TaskPhase::kAdmitted, TaskPhase::kRunning}});
  (void)scheduler_->complete(tid);
  by_external_.erase(l.external_id);
  live_.erase(tid);
  dirty_ = true;
}

// Back to pending (in the store now; in the scheduler after `delay`) as a fresh submission.
void Controller::requeue(uint64_t tid, Duration delay, const std::string& event,
                         const std::string& detail, TimePoint now) {
  Live l = std::move(live_.at(tid));
  live_.erase(tid);
  by_external_.erase(l.external_id);
  (void)scheduler_->cancel(tid);
  updates_.push_back({l.external_id,
                      TaskPhase::kPending,
                      "",
                      "",
                      "",
                      unix_ms(now),
                      event,
                      detail,
                      {TaskPhase::kAdmitted, TaskPhase::kRunning}});
  l.attempt = -1;
  l.started = false;
  retrying_.insert(l.external_id);
  retries_.emplace(now + delay, std::move(l));
  dirty_ = true;
}

void Controller::resubmit(TimePoint now) {
  while (!retries_.empty() && retries_.begin()->first <= now) {
    Live l = std::move(retries_.begin()->second);
    retries_.erase(retries_.begin());
    retrying_.erase(l.external_id);
    Task task = *l.task;
    auto id = scheduler_->submit(task);
    if (!id) {
      updates_.push_back({l.external_id,
                          TaskPhase::kFailed,
                          "",
                          "",
                          id.error().message,
                          unix_ms(now),
                          "failed",
                          "{}",
                          {TaskPhase::kPending}});
      continue;
    }
    by_external_[l.external_id] = *id;
    live_[*id] = std::move(l);
    dirty_ = true;
  }
}

void Controller::run_cycle(TimePoint now) {
  auto release = scheduler_->next_release();
  if (release && *release <= now) dirty_ = true;
  if (!dirty_) return;
  CycleResult r = scheduler_->cycle();
  dirty_ = r.retry_at.has_value();
  for (auto tid : r.preempted) {
    auto it = live_.find(tid);
    if (it == live_.end()) continue;
    it->second.epoch++;
    it->second.started = false;
    if (options_.executor && it->second.attempt >= 0) {
      options_.executor->cancel(it->second.external_id, it->second.attempt,
                                options_.cancel_grace_s);
      it->second.attempt = -1;
    }
    updates_.push_back({it->second.external_id,
                        TaskPhase::kPending,
                        "",
                        "",
                        "",
                        unix_ms(now),
                        "preempted",
                        "{}",
                        {TaskPhase::kAdmitted, TaskPhase::kRunning}});
  }
  auto cmp = std::greater<WorkerEvent>();
  for (const auto& adm : r.admitted) {
    auto it = live_.find(adm.task);
    if (it == live_.end()) continue;
    const Node& n = scheduler_->nodes().at(adm.node);
    const TaskRecord* rec = scheduler_->find(adm.task);
    TimePoint start = std::max(now, n.ready_at);
    TimePoint eligible = std::max(it->second.submitted, rec->not_before);
    Duration wait = std::max(Duration{0}, start - eligible);
    recent_waits_.emplace_back(now, duration_cast<milliseconds>(wait).count());
    for (auto* l : listeners_) l->on_admitted(it->second.class_name, wait);
    const std::string& pool = model_.pools[adm.pool].name;
    updates_.push_back({it->second.external_id,
                        TaskPhase::kAdmitted,
                        pool,
                        node_name(adm.node),
                        "",
                        unix_ms(now),
                        "admitted",
                        fmt::format(R"({{"pool":"{}","node":"{}","starts_at_ms":{}}})", pool,
                                    node_name(adm.node), unix_ms(start)),
                        {TaskPhase::kPending}});
    if (options_.executor) {
      launch(adm.task, pool);
    } else if (options_.simulate_workers) {
      worker_events_.push_back({start, adm.task, it->second.epoch, false});
      std::push_heap(worker_events_.begin(), worker_events_.end(), cmp);
      worker_events_.push_back({start + rec->task.duration, adm.task, it->second.epoch, true});
      std::push_heap(worker_events_.begin(), worker_events_.end(), cmp);
    }
  }
  while (!recent_waits_.empty() && recent_waits_.front().first < now - hours(1)) {
    recent_waits_.pop_front();
  }
}

void Controller::account(TimePoint now) {
  // Node changes into the journal.
  std::map<uint64_t, int> seen;
  for (const auto& [id, n] : scheduler_->nodes()) {
    int state = static_cast<int>(n.state);
    seen[id] = state;
    auto it = node_states_.find(id);
    if (it != node_states_.end() && it->second == state) continue;
    journal_.push_back({node_name(id), "node",
                        fmt::format(R"({{"pool":"{}","state":"{}"}})", model_.pools[n.pool].name,
                                    node_state_name(n.state)),
                        unix_ms(now)});
  }
  for (const auto& [id, state] : node_states_) {
    if (!seen.count(id)) {
      journal_.push_back({node_name(id), "node", R"({"state":"deleted"})", unix_ms(now)});
      if (auto m = machine_of_.find(id); m != machine_of_.end()) {
        node_of_machine_.erase(m->second);
        machine_of_.erase(m);
      }
    }
  }
  node_states_ = std::move(seen);
  // Cost accrued since the last pass, into this hour.
  int64_t key = unix_ms(month_start(now));
  if (key != month_key_) {
    month_cost_.clear();
    month_key_ = key;
  }
  const RegionBill& bill = region_->bill();
  int64_t hour = unix_ms(floor<hours>(now));
  for (const auto& p : model_.pools) {
    Money total = bill.compute(p.name) + bill.disk(p.name);
    Money delta = total - Money::from_micros(billed_[p.name]);
    billed_[p.name] = total.micros();
    if (delta.micros() == 0) continue;
    month_cost_[p.name] = month_cost_[p.name] + delta;
    unsent_costs_[{p.name, hour}] += delta.micros();
    for (auto* l : listeners_) l->on_cost(p.name, delta);
  }
  if (!unsent_costs_.empty()) {
    // Kept until written: a store outage delays cost, never loses it.
    std::vector<CostAccrual> costs;
    for (const auto& [key, micros] : unsent_costs_)
      costs.push_back({key.first, key.second, micros});
    if (auto r = store_.add_costs(costs); r) {
      unsent_costs_.clear();
    } else {
      fmt::print(stderr,
                 R"({{"level":"error","msg":"cost not written yet; retrying","error":{}}})"
                 "\n",
                 json_quote(r.error().message));
    }
  }
}

void Controller::flush(TimePoint now) {
  (void)now;
  // On failure everything is kept and written on a later pass: a state change is delayed
  // by a store outage, never lost.
  if (!updates_.empty()) {
    auto r = store_.update_tasks(updates_);
    if (r) {
      updates_.clear();
    } else {
      fmt::print(stderr,
                 R"({{"level":"error","msg":"task updates not written yet; retrying","error":{}}})"
                 "\n",
                 json_quote(r.error().message));
    }
  }
  if (!journal_.empty()) {
    auto r = store_.append_journal(journal_);
    if (r) {
      journal_.clear();
    } else {
      fmt::print(stderr,
                 R"({{"level":"error","msg":"journal not written yet; retrying","error":{}}})"
                 "\n",
                 json_quote(r.error().message));
    }
  }
}

void Controller::publish(TimePoint now) {
  if (last_publish_ != TimePoint{} && now - last_publish_ < seconds(1)) return;
  Snapshot s;
  s.at = now;
  s.leading = true;
  s.ready = true;
  std::vector<std::map<std::string, int64_t>> states(model_.pools.size());
  for (const auto& [id, n] : scheduler_->nodes()) states[n.pool][node_state_name(n.state)]++;
  for (const auto& p : model_.pools) {
    PoolStatus ps{p.name,
                  p.environment,
                  p.region,
                  p.sku,
                  p.quota_family,
                  p.min_nodes,
                  p.max_nodes,
                  p.spot,
                  p.can_hibernate,
                  states[p.index],
                  p.price.usd_per_hour,
                  p.price.source};
    s.pools.push_back(std::move(ps));
  }
  for (const auto& l : scheduler_->ledger().lines()) {
    s.quotas.push_back({l.kind, l.region, l.name, l.used, l.limit});
  }
  s.cost_month_to_date = month_cost_;
  // Forecast: what is spent, plus the fleet's run rate now (compute of every node that is
  // billed for it, at its pool's price) for the rest of the month. Disks are left out.
  int64_t left_ms = std::max<int64_t>(0, unix_ms(next_month_start(now)) - unix_ms(now));
  std::vector<Money> run_rate(model_.pools.size());
  for (const auto& [id, n] : scheduler_->nodes()) {
    if (n.active()) run_rate[n.pool] = run_rate[n.pool] + model_.pools[n.pool].price.usd_per_hour;
  }
  for (const auto& b : model_.spec->budgets) {
    BudgetStatus bs{b.name, b.scope, b.amount_usd, Money{}, Money{}, b.thresholds_pct};
    Money rate;
    for (const auto& p : model_.pools) {
      if (b.scope != "subscription" && b.scope != p.environment) continue;
      auto it = month_cost_.find(p.name);
      if (it != month_cost_.end()) bs.spent_month_to_date = bs.spent_month_to_date + it->second;
      rate = rate + run_rate[p.index];
    }
    if (b.scope == "subscription") {  // LLM calls ("llm:<target>") count against it too
      for (const auto& [name, cost] : month_cost_) {
        if (name.rfind("llm:", 0) == 0) bs.spent_month_to_date = bs.spent_month_to_date + cost;
      }
    }
    bs.forecast_month = bs.spent_month_to_date + rate.mul_div(left_ms, 3'600'000);
    s.budgets.push_back(std::move(bs));
  }
  s.pending = static_cast<int64_t>(scheduler_->pending_count());
  s.admitted = static_cast<int64_t>(live_.size()) - s.pending;
  // Only the last hour counts, whether or not cycles ran since (an idle fleet too).
  while (!recent_waits_.empty() && recent_waits_.front().first < now - hours(1)) {
    recent_waits_.pop_front();
  }
  std::vector<int64_t> waits;
  for (const auto& [at, w] : recent_waits_) waits.push_back(w);
  s.wait_p95_ms = percentile(waits, 95);
  s.cloud_failures = region_->allocation_failures() +
                     (options_.mirror ? options_.mirror->failures() : 0) +
                     (options_.executor ? options_.executor->failures() : 0);
  for (auto* l : listeners_) l->on_snapshot(s);
  std::lock_guard lock(mu_);
  snapshot_ = std::move(s);
  last_publish_ = now;
}

}  // namespace codefleet
