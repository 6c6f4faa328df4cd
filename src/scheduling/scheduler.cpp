#include "scheduling/scheduler.h"

#include <algorithm>
#include <cassert>
#include <climits>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "core/text.h"
#include "scheduling/packing.h"

namespace codefleet {

using namespace std::chrono;

const char* node_state_name(NodeState s) {
  switch (s) {
    case NodeState::kCreating:
      return "creating";
    case NodeState::kStarting:
      return "starting";
    case NodeState::kRunning:
      return "running";
    case NodeState::kDeallocated:
      return "deallocated";
    case NodeState::kHibernated:
      return "hibernated";
  }
  return "unknown";
}

const char* task_state_name(TaskState s) {
  switch (s) {
    case TaskState::kPending:
      return "pending";
    case TaskState::kAdmitted:
      return "admitted";
    case TaskState::kCompleted:
      return "completed";
    case TaskState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

bool PriorityFairShareOrdering::before(const TaskRecord& a, const TaskRecord& b,
                                       const std::map<std::string, int64_t>& shares) const {
  if (a.task.priority != b.task.priority) return a.task.priority > b.task.priority;
  auto share = [&](const std::string& tenant) {
    auto it = shares.find(tenant);
    return it == shares.end() ? int64_t{0} : it->second;
  };
  int64_t sa = share(a.task.tenant), sb = share(b.task.tenant);
  if (sa != sb) return sa < sb;
  if (a.task.submitted_at != b.task.submitted_at) return a.task.submitted_at < b.task.submitted_at;
  return a.id < b.id;
}

namespace {

// `a` is at least as large as `b` in every dimension.
bool covers(const Resources& a, const Resources& b) {
  return a.vcpus >= b.vcpus && a.memory_mib >= b.memory_mib && a.gpu_milli >= b.gpu_milli &&
         a.gpu_memory_mib >= b.gpu_memory_mib;
}

}  // namespace

Scheduler::Scheduler(const FleetModel& model, QuotaLedger ledger, const Clock& clock,
                     SchedulerOptions options, std::unique_ptr<OrderingPolicy> ordering)
    : model_(model),
      ledger_(std::move(ledger)),
      clock_(clock),
      options_(std::move(options)),
      ordering_(ordering ? std::move(ordering) : std::make_unique<PriorityFairShareOrdering>()),
      pool_nodes_(model.pools.size()),
      no_room_(model.pools.size()),
      no_victims_(model.pools.size()) {
  load_.resize(model_.pools.size());
  defer_queue_.resize(model_.pools.size());
  for (const auto& p : model_.pools) {
    total_capacity_ =
        total_capacity_ + Resources{p.node.vcpus * p.max_nodes, p.node.memory_mib * p.max_nodes,
                                    p.node.gpu_milli * p.max_nodes,
                                    p.node.gpu_memory_mib * p.max_nodes};
  }
}

namespace {
// A task's work on a pool's node: its packed share (ppm) × its duration (ms).
Int128 packed_work(const Task& t, const PoolModel& p) {
  return static_cast<Int128>(packed_share_ppm(t.resources, p.node)) * t.duration.count();
}
}  // namespace

const TaskRecord* Scheduler::find(TaskId id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}

int Scheduler::queue_for(const Task& task) {
  std::string name = task.class_name + "/" + (task.environment.empty() ? "*" : task.environment);
  auto it = queue_index_.find(name);
  if (it != queue_index_.end()) return it->second;
  int idx = static_cast<int>(queue_names_.size());
  queue_names_.push_back(name);
  queue_index_[name] = idx;
  return idx;
}

Result<TaskId> Scheduler::submit(Task task) {
  const WorkloadClass* wc = model_.spec ? model_.spec->find_class(task.class_name) : nullptr;
  if (wc && wc->kind == ClassKind::kLlm) {
    return make_error(
        ErrorCode::kInvalidInput,
        fmt::format(
            "class '{}' is an LLM class: its calls go through the LLM gateway, not a pool queue",
            task.class_name));
  }
  if (!task.id.empty() && by_external_id_.count(task.id)) {
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("a task with id '{}' is already queued or running", task.id));
  }
  std::vector<Alternative> rejected;
  auto key = std::make_tuple(task.class_name, task.environment, task.resources.vcpus,
                             task.resources.memory_mib, task.resources.gpu_milli,
                             task.resources.gpu_memory_mib);
  auto cached = rank_cache_.find(key);
  std::vector<PoolCandidate> candidates;
  if (cached != rank_cache_.end() && !cached->second.empty()) {
    candidates = cached->second;
  } else {
    candidates = rank_pools(model_, task, &rejected);
    if (!candidates.empty() && rank_cache_.size() < 100'000) rank_cache_[key] = candidates;
  }
  if (candidates.empty()) {
    std::vector<std::string> whys;
    for (const auto& r : rejected) whys.push_back(r.target.name + " " + r.rejected_because);
    return make_error(ErrorCode::kInfeasible,
                      whys.empty()
                          ? fmt::format("no pool serves class '{}'", task.class_name)
                          : fmt::format("no pool can ever run it: {}", fmt::join(whys, "; ")));
  }
  TimePoint now = clock_.now();
  TaskRecord r;
  r.id = next_task_++;
  task.submitted_at = now;
  r.not_before = now;
  // The last window was at least half busy on the task's first-choice pool: tonight has no
  // idle capacity to take the work either, and deferring would only queue it there.
  auto window_busy = [&] {
    if (candidates.empty() || window_load_.empty()) return false;
    const auto& w = window_load_[static_cast<size_t>(candidates.front().pool)];
    return w.last_pct && *w.last_pct >= 50;
  };
  if (options_.defer_off_peak && task.deferrable && model_.off_peak && !candidates.empty() &&
      !model_.off_peak->contains(now) && !window_busy()) {
    // Deferred work is released as the first-choice pool can take it, not all at the
    // window's opening where it would only queue: each task after the work deferred ahead
    // of it, at `defer_pace_pct` of the pool's max_nodes. Work whose turn would come after
    // the window has closed runs now instead — tonight is full.
    const PoolModel& p = model_.pools[static_cast<size_t>(candidates.front().pool)];
    TimePoint start = model_.off_peak->next_start(now);
    DeferQueue& q = defer_queue_[static_cast<size_t>(p.index)];
    if (q.window != start) q = DeferQueue{start, 0};
    int64_t nodes = p.max_nodes;  // as many as the pool may have, within its quota
    if (auto limit = quota_limit_for_node(model_, p, nullptr); limit && p.node.vcpus > 0)
      nodes = std::min(nodes, *limit / p.node.vcpus);
    Int128 pace = static_cast<Int128>(std::max<int64_t>(1, nodes)) *
                  std::max<int64_t>(1, options_.defer_pace_pct) * 10'000;  // ppm of a node
    TimePoint release = start + std::chrono::milliseconds(static_cast<int64_t>(q.queued / pace));
    Int128 work = packed_work(task, p);
    bool forced = (task.deadline && release + task.duration > *task.deadline) ||
                  !model_.off_peak->contains(release);
    if (!forced) {
      r.not_before = release;
      q.queued += work;
    }
  }
  r.queue = queue_for(task);
  r.candidates = std::move(candidates);
  r.task = std::move(task);
  if (!r.task.id.empty()) by_external_id_[r.task.id] = r.id;
  TaskId id = r.id;
  TimePoint not_before = r.not_before;
  tasks_.emplace(id, std::move(r));
  if (not_before > now) {
    deferred_.emplace(not_before, id);
  } else {
    add_pending(id);
  }
  return id;
}

void Scheduler::unbind(TaskRecord& t) {
  if (t.state != TaskState::kAdmitted) return;
  auto it = nodes_.find(t.node);
  assert(it != nodes_.end());
  Node& n = it->second;
  n.used = n.used - t.task.resources;
  tenant_used_[t.task.tenant] = tenant_used_[t.task.tenant] - t.task.resources;
  if (t.task.preemptible) {
    auto pf = preemptible_from_.find(t.admitted_at + options_.min_runtime_before_preemption);
    if (pf != preemptible_from_.end()) preemptible_from_.erase(pf);
  }
  n.tasks.erase(std::remove(n.tasks.begin(), n.tasks.end(), t.id), n.tasks.end());
  if (n.tasks.empty()) n.idle_since = clock_.now();
  if (options_.wait_for_room) {  // the pool's load is kept only for wait_for_room
    PoolLoad& load = load_[static_cast<size_t>(n.pool)];
    load.share -= t.share_ppm;
    load.share_end -= static_cast<Int128>(t.share_ppm) * unix_ms(t.expected_end);
    if (auto e = load.ends.find(t.expected_end); e != load.ends.end()) load.ends.erase(e);
  }
  capacity_grew_ = true;
  no_room_[n.pool].clear();  // capacity grew
  no_victims_[n.pool].clear();
  t.pool = -1;
  t.node = 0;
}

Result<void> Scheduler::complete(TaskId id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return make_error(ErrorCode::kNotFound, fmt::format("no task {}", id));
  if (it->second.state != TaskState::kAdmitted) {
    return make_error(ErrorCode::kInvalidInput, fmt::format("task {} is {}, not admitted", id,
                                                            task_state_name(it->second.state)));
  }
  unbind(it->second);
  if (!it->second.task.id.empty()) by_external_id_.erase(it->second.task.id);
  tasks_.erase(it);
  return {};
}

Result<void> Scheduler::cancel(TaskId id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return make_error(ErrorCode::kNotFound, fmt::format("no task {}", id));
  unbind(it->second);
  if (!it->second.task.id.empty()) by_external_id_.erase(it->second.task.id);
  remove_pending(id);
  auto range = deferred_.equal_range(it->second.not_before);
  for (auto d = range.first; d != range.second; ++d) {
    if (d->second == id) {
      deferred_.erase(d);
      break;
    }
  }
  tasks_.erase(it);
  return {};
}

void Scheduler::add_pending(TaskId id) {
  const TaskRecord& t = tasks_.at(id);
  if (!pending_.insert(id).second) return;
  if (queue_bounds_.size() <= static_cast<size_t>(t.queue))
    queue_bounds_.resize(static_cast<size_t>(t.queue) + 1);
  QueueBounds& b = queue_bounds_[static_cast<size_t>(t.queue)];
  const Resources& r = t.task.resources;
  if (b.pending++ == 0) {
    b.min_shape = r;
    b.max_priority = t.task.priority;
    b.pools.clear();
  } else {
    b.min_shape = {std::min(b.min_shape.vcpus, r.vcpus),
                   std::min(b.min_shape.memory_mib, r.memory_mib),
                   std::min(b.min_shape.gpu_milli, r.gpu_milli),
                   std::min(b.min_shape.gpu_memory_mib, r.gpu_memory_mib)};
    b.max_priority = std::max(b.max_priority, t.task.priority);
  }
  for (const auto& c : t.candidates) {
    if (std::find(b.pools.begin(), b.pools.end(), c.pool) == b.pools.end())
      b.pools.push_back(c.pool);
  }
  fresh_.insert(id);
  pending_by_tenant_[{t.task.tenant, t.queue}].insert({-t.task.priority, t.task.submitted_at, id});
}

void Scheduler::stop_waiting(TaskRecord& t) {
  if (t.waiting_in < 0) return;
  load_[static_cast<size_t>(t.waiting_in)].waiting -=
      packed_work(t.task, model_.pools[static_cast<size_t>(t.waiting_in)]);
  t.waiting_in = -1;
}

Duration Scheduler::drain_estimate(const PoolModel& p) const {
  // A task running past its expected end makes the estimate unsound (its negative "work
  // left" would hide others'): no estimate then, so nothing waits on it.
  const PoolLoad& load = load_[static_cast<size_t>(p.index)];
  if (!load.ends.empty() && *load.ends.begin() < clock_.now()) return Duration::max();
  int64_t active = 0;
  for (const Node* n : pool_nodes_[p.index]) active += n->active() ? 1 : 0;
  if (active == 0) return Duration::max();
  Int128 left = load.share_end - load.share * unix_ms(clock_.now());
  Int128 work = std::max<Int128>(0, left) + std::max<Int128>(0, load.waiting);
  return std::chrono::milliseconds(
      static_cast<int64_t>(work / (static_cast<Int128>(active) * 1'000'000)));
}

void Scheduler::remove_pending(TaskId id) {
  if (!pending_.erase(id)) return;
  fresh_.erase(id);
  stop_waiting(tasks_.at(id));
  const TaskRecord& t = tasks_.at(id);
  queue_bounds_[static_cast<size_t>(t.queue)].pending--;
  auto it = pending_by_tenant_.find({t.task.tenant, t.queue});
  if (it == pending_by_tenant_.end()) return;
  // The tenant's (possibly now empty) queue stays: a cycle may be walking it.
  it->second.erase({-t.task.priority, t.task.submitted_at, id});
}

void Scheduler::make_pending(TaskRecord& t) {
  t.state = TaskState::kPending;
  add_pending(t.id);
}

// 1. snapshot
void Scheduler::track_window_load(TimePoint now) {
  if (!model_.off_peak) return;
  if (window_load_.empty()) window_load_.resize(model_.pools.size());
  bool in = model_.off_peak->contains(now);
  for (size_t pi = 0; pi < model_.pools.size(); ++pi) {
    WindowLoad& w = window_load_[pi];
    if (w.last != TimePoint{} && w.in_window) {
      int64_t dt = std::chrono::duration_cast<std::chrono::milliseconds>(now - w.last).count();
      int64_t busy = 0;
      for (const Node* n : pool_nodes_[pi]) busy += n->tasks.empty() ? 0 : 1;
      w.busy_node_ms += busy * dt;
      w.window_ms += dt;
    }
    if (w.in_window && !in && w.window_ms > 0 && model_.pools[pi].max_nodes > 0) {
      w.last_pct = w.busy_node_ms * 100 / (model_.pools[pi].max_nodes * w.window_ms);
      w.busy_node_ms = w.window_ms = 0;
    }
    w.last = now;
    w.in_window = in;
  }
}

std::map<std::string, int64_t> Scheduler::snapshot() {
  TimePoint now = clock_.now();
  track_window_load(now);
  for (auto& [id, n] : nodes_) {
    if ((n.state == NodeState::kCreating || n.state == NodeState::kStarting) && n.ready_at <= now) {
      n.state = NodeState::kRunning;
    }
  }
  while (!deferred_.empty() && deferred_.begin()->first <= now) {
    TaskId id = deferred_.begin()->second;
    deferred_.erase(deferred_.begin());
    add_pending(id);
  }
  for (auto& v : no_room_) v.clear();
  for (auto& v : no_victims_) v.clear();
  std::map<std::string, int64_t> shares;
  for (const auto& [tenant, r] : tenant_used_)
    shares[tenant] = dominant_share_ppm(r, total_capacity_);
  return shares;
}

// 2. heads
std::vector<TaskRecord*> Scheduler::heads(const std::map<std::string, int64_t>& shares, bool full) {
  std::vector<TaskRecord*> out;
  for (TaskId id : full ? pending_ : fresh_) out.push_back(&tasks_.at(id));
  if (dynamic_cast<PriorityFairShareOrdering*>(ordering_.get())) {
    // The default ordering with its keys computed once per task, not per comparison.
    struct Key {
      int64_t neg_priority, share;
      TimePoint submitted;
      TaskId id;
      TaskRecord* t;
    };
    std::vector<Key> keys;
    keys.reserve(out.size());
    for (TaskRecord* t : out) {
      auto it = shares.find(t->task.tenant);
      keys.push_back(
          {-t->task.priority, it == shares.end() ? 0 : it->second, t->task.submitted_at, t->id, t});
    }
    std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
      return std::tie(a.neg_priority, a.share, a.submitted, a.id) <
             std::tie(b.neg_priority, b.share, b.submitted, b.id);
    });
    for (size_t i = 0; i < keys.size(); ++i) out[i] = keys[i].t;
    return out;
  }
  std::sort(out.begin(), out.end(), [&](const TaskRecord* a, const TaskRecord* b) {
    return ordering_->before(*a, *b, shares);
  });
  return out;
}

Node* Scheduler::best_node(const PoolModel& p, const Resources& need) {
  Node* best = nullptr;
  FitScore best_score{};
  bool best_running = false;
  for (Node* np : pool_nodes_[p.index]) {
    Node& n = *np;
    if (!n.active()) continue;
    Resources free = p.node - n.used;
    if (!need.fits_in(free)) continue;
    bool running = n.state == NodeState::kRunning;
    FitScore s = fit_score(free, need);
    // Running nodes first (no wait), then the tightest fit, GPU-first.
    if (!best || (running && !best_running) || (running == best_running && s < best_score)) {
      best = &n;
      best_score = s;
      best_running = running;
    }
  }
  return best;
}

bool Scheduler::meets_deadline(const TaskRecord& t, const PoolModel&, Duration wait) const {
  return !t.task.deadline || clock_.now() + wait + t.task.duration <= *t.task.deadline;
}

void Scheduler::commit(TaskRecord& t, int pool, Node& node, CycleResult& out) {
  node.used = node.used + t.task.resources;
  tenant_used_[t.task.tenant] = tenant_used_[t.task.tenant] + t.task.resources;
  node.tasks.push_back(t.id);
  remove_pending(t.id);
  t.share_ppm = packed_share_ppm(t.task.resources, model_.pools[static_cast<size_t>(pool)].node);
  t.expected_end = std::max(clock_.now(), node.ready_at) + t.task.duration;
  if (options_.wait_for_room) {
    PoolLoad& load = load_[static_cast<size_t>(pool)];
    load.share += t.share_ppm;
    load.share_end += static_cast<Int128>(t.share_ppm) * unix_ms(t.expected_end);
    load.ends.insert(t.expected_end);
  }
  t.state = TaskState::kAdmitted;
  t.pool = pool;
  t.node = node.id;
  t.admitted_at = clock_.now();
  if (t.task.preemptible)
    preemptible_from_.insert(t.admitted_at + options_.min_runtime_before_preemption);
  out.admitted.push_back({t.id, pool, node.id});
}

// 3. assign: the first ranked pool that can take the task now, preferring one that meets
// its deadline; within a pool: an active node (best fit), else a stopped node started,
// else a new node if max_nodes and the quota allow.
bool Scheduler::assign(TaskRecord& t, CycleResult& out, bool may_wait) {
  struct Plan {
    int pool = -1;
    Node* node = nullptr;     // existing active node
    Node* stopped = nullptr;  // deallocated or hibernated node to start
    bool create = false;
    Duration wait{0};
  };
  TimePoint now = clock_.now();
  std::optional<Plan> fallback;
  stop_waiting(t);   // decided afresh below
  int wait_in = -1;  // the pool the task waits for room in, rather than bring up a node
  TimePoint give_up{};
  for (const auto& c : t.candidates) {
    const PoolModel& p = model_.pools[c.pool];
    bool known_full = std::any_of(no_room_[p.index].begin(), no_room_[p.index].end(),
                                  [&](const Resources& r) { return covers(t.task.resources, r); });
    if (known_full) continue;
    Plan plan;
    plan.pool = p.index;
    if (Node* n = best_node(p, t.task.resources)) {
      plan.node = n;
      plan.wait = n->ready_at > now ? n->ready_at - now : Duration{0};
      // Waiting for room elsewhere: only a node with room now, in time, beats that.
      if (wait_in >= 0 && (plan.wait > Duration{0} || !meets_deadline(t, p, plan.wait))) continue;
    } else if (wait_in >= 0) {
      continue;
    } else {
      bool scale_up = may_scale_up(p);
      for (Node* n : pool_nodes_[p.index]) {
        if (scale_up &&
            (n->state == NodeState::kDeallocated || n->state == NodeState::kHibernated)) {
          plan.stopped = n;
          break;
        }
      }
      if (plan.stopped) {
        plan.wait = latency(p.start_latency);
      } else if (scale_up && static_cast<int64_t>(pool_nodes_[p.index].size()) < p.max_nodes &&
                 ledger_.can_reserve(p.region, p.quota_family, p.spot, p.node.vcpus)) {
        plan.create = true;
        plan.wait = latency(p.create_latency);
      } else {
        no_room_[p.index].push_back(t.task.resources);
        continue;
      }
      // Waiting for running work to free room beats a node that would be ready later —
      // unless the task would then miss its deadline should the room not come (it waits
      // until `give_up`, then still needs the node), or the pool has only this node left
      // to bring up (a later task could take it while this one waits).
      TimePoint eligible = std::max(t.task.submitted_at, t.not_before);
      if (may_wait && options_.wait_for_room && now - eligible < plan.wait &&
          meets_deadline(t, p, (eligible + plan.wait - now) + plan.wait) &&
          (plan.stopped ||
           (static_cast<int64_t>(pool_nodes_[p.index].size()) + 1 < p.max_nodes &&
            ledger_.can_reserve(p.region, p.quota_family, p.spot, 2 * p.node.vcpus))) &&
          drain_estimate(p) < plan.wait) {
        wait_in = p.index;
        give_up = eligible + plan.wait;
        continue;
      }
    }
    if (meets_deadline(t, p, plan.wait)) {
      fallback = plan;
      break;
    }
    if (!fallback) fallback = plan;
  }
  if (!fallback && wait_in >= 0) {
    t.waiting_in = wait_in;
    load_[static_cast<size_t>(wait_in)].waiting +=
        packed_work(t.task, model_.pools[static_cast<size_t>(wait_in)]);
    if (!recheck_at_ || give_up < *recheck_at_) recheck_at_ = give_up;
    return false;
  }
  if (!fallback) return false;
  Plan& plan = *fallback;
  const PoolModel& p = model_.pools[plan.pool];
  (void)now;
  Node* node = plan.node;
  if (plan.stopped) {
    if (!start_stopped(*plan.stopped, &out)) {
      no_room_[p.index].push_back(t.task.resources);
      return false;  // no capacity on resume; the next cycle tries again
    }
    node = plan.stopped;
  } else if (plan.create) {
    node = create_node(p, &out);
    if (!node) {
      no_room_[p.index].push_back(t.task.resources);
      return false;  // allocation failed; the next cycle tries again
    }
  }
  commit(t, p.index, *node, out);
  return true;
}

Node* Scheduler::create_node(const PoolModel& p, CycleResult* out) {
  TimePoint now = clock_.now();
  auto ok = ledger_.reserve(p.region, p.quota_family, p.spot, p.node.vcpus);
  if (!ok) return nullptr;
  NodeId id = next_node_++;
  Duration ready_in = latency(p.create_latency);
  if (cloud_) {
    auto r = cloud_->create_vm(p, id, now);
    if (!r) {
      ledger_.release(p.region, p.quota_family, p.spot, p.node.vcpus);
      return nullptr;
    }
    ready_in = options_.fixed_latency.value_or(*r);
  }
  Node* node = add_node(p, id, now + ready_in);
  if (out) out->nodes_created.push_back(id);
  return node;
}

Node* Scheduler::add_node(const PoolModel& p, NodeId id, TimePoint ready_at) {
  TimePoint now = clock_.now();
  Node n;
  n.id = id;
  n.pool = p.index;
  n.state = ready_at <= now ? NodeState::kRunning : NodeState::kCreating;
  n.ready_at = ready_at;
  n.idle_since = now;
  Node* node = &nodes_.emplace(n.id, n).first->second;
  pool_nodes_[p.index].push_back(node);
  ++node_epoch_;
  return node;
}

bool Scheduler::start_stopped(Node& n, CycleResult* out) {
  const PoolModel& p = model_.pools[n.pool];
  TimePoint now = clock_.now();
  Duration ready_in = latency(p.start_latency);
  if (cloud_) {
    auto r = cloud_->start_vm(p, n.id, n.state == NodeState::kHibernated, now);
    if (!r) return false;
    ready_in = options_.fixed_latency.value_or(*r);
  }
  n.state = ready_in.count() == 0 ? NodeState::kRunning : NodeState::kStarting;
  n.ready_at = now + ready_in;
  n.idle_since = now;
  ++node_epoch_;
  if (out) out->nodes_started.push_back(n.id);
  return true;
}

Result<NodeId> Scheduler::adopt_node(int pool) {
  const PoolModel& p = model_.pools.at(static_cast<size_t>(pool));
  if (static_cast<int64_t>(pool_nodes_[p.index].size()) >= p.max_nodes) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("pool '{}' is at max_nodes ({})", p.name, p.max_nodes));
  }
  if (!ledger_.reserve(p.region, p.quota_family, p.spot, p.node.vcpus)) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("pool '{}': no quota for another node", p.name));
  }
  TimePoint now = clock_.now();
  NodeId id = next_node_++;
  add_node(p, id, now);
  if (cloud_) cloud_->adopt_vm(p, id, now);
  capacity_grew_ = true;  // room for pending work
  return id;
}

Result<NodeId> Scheduler::provision_node(int pool) {
  const PoolModel& p = model_.pools.at(pool);
  for (Node* n : pool_nodes_[p.index]) {
    if (n->state == NodeState::kDeallocated || n->state == NodeState::kHibernated) {
      if (!start_stopped(*n, nullptr)) {
        return make_error(ErrorCode::kUnavailable,
                          fmt::format("node {} could not be started", n->id));
      }
      capacity_grew_ = true;
      return n->id;
    }
  }
  if (static_cast<int64_t>(pool_nodes_[p.index].size()) >= p.max_nodes) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("pool '{}' is at max_nodes ({})", p.name, p.max_nodes));
  }
  capacity_grew_ = true;  // an empty node: room for pending work
  Node* n = create_node(p, nullptr);
  if (!n) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("pool '{}': no quota or capacity for another node", p.name));
  }
  return n->id;
}

int64_t Scheduler::env_usage_vcpus(const std::string& env, const std::string& family) const {
  int64_t used = 0;
  for (const auto& p : model_.pools) {
    if (p.environment != env || p.spot || !iequals(p.quota_family, family)) continue;
    used += static_cast<int64_t>(pool_nodes_[p.index].size()) * p.node.vcpus;
  }
  return used;
}

std::optional<int64_t> Scheduler::env_nominal_vcpus(const std::string& env,
                                                    const PoolModel& p) const {
  auto e = options_.environment_share_pct.find(env);
  if (e == options_.environment_share_pct.end()) return std::nullopt;
  for (const auto& [family, pct] : e->second) {
    if (!iequals(family, p.quota_family)) continue;
    std::string which;
    auto limit = quota_limit_for_node(model_, p, &which);
    if (!limit) return std::nullopt;
    return *limit * pct / 100;
  }
  return std::nullopt;
}

void Scheduler::evict(TaskRecord& victim, CycleResult& out) {
  unbind(victim);
  make_pending(victim);
  victim.preemptions++;
  victim.not_before = clock_.now();
  out.preempted.push_back(victim.id);
}

// 4. preempt: (a) within a candidate pool, evict lower-priority preemptible work that has
// run long enough from the node that needs the fewest evictions; (b) reclaim: if the task's
// environment is below its quota share and the quota is full, empty and delete a node of
// an environment that is borrowing above its share.
bool Scheduler::preempt(TaskRecord& t, CycleResult& out) {
  TimePoint now = clock_.now();
  auto old_enough = [&](const TaskRecord& v) {
    return now - v.admitted_at >= options_.min_runtime_before_preemption;
  };
  for (const auto& c : t.candidates) {
    const PoolModel& p = model_.pools[c.pool];
    bool known_none =
        std::any_of(no_victims_[p.index].begin(), no_victims_[p.index].end(), [&](const auto& e) {
          return covers(t.task.resources, e.first) && t.task.priority <= e.second;
        });
    if (known_none) continue;
    Node* best = nullptr;
    scratch_best_.clear();
    for (Node* np : pool_nodes_[p.index]) {
      Node& n = *np;
      if (!n.active()) continue;
      auto& eligible = scratch_eligible_;
      eligible.clear();
      Resources could_free = p.node - n.used;
      for (TaskId tid : n.tasks) {
        TaskRecord& v = tasks_.at(tid);
        if (v.task.priority < t.task.priority && v.task.preemptible && old_enough(v)) {
          eligible.push_back(&v);
          could_free = could_free + v.task.resources;
        }
      }
      if (eligible.empty() || !t.task.resources.fits_in(could_free)) continue;
      std::sort(eligible.begin(), eligible.end(), [](const TaskRecord* a, const TaskRecord* b) {
        return std::tie(a->task.priority, b->admitted_at, a->id) <
               std::tie(b->task.priority, a->admitted_at, b->id);
      });
      Resources free = p.node - n.used;
      auto& victims = scratch_victims_;
      victims.clear();
      for (TaskRecord* v : eligible) {
        if (t.task.resources.fits_in(free)) break;
        free = free + v->task.resources;
        victims.push_back(v);
      }
      if (!best || victims.size() < scratch_best_.size()) {
        best = &n;
        scratch_best_ = victims;
      }
    }
    if (best) {
      std::vector<TaskRecord*> victims = scratch_best_;
      for (TaskRecord* v : victims) evict(*v, out);
      commit(t, p.index, *best, out);
      return true;
    }
    no_victims_[p.index].push_back({t.task.resources, t.task.priority});
  }
  // (b) reclaim borrowed quota.
  for (const auto& c : t.candidates) {
    const PoolModel& p = model_.pools[c.pool];
    if (p.spot || static_cast<int64_t>(pool_nodes_[p.index].size()) >= p.max_nodes) continue;
    auto nominal = env_nominal_vcpus(p.environment, p);
    if (!nominal || env_usage_vcpus(p.environment, p.quota_family) + p.node.vcpus > *nominal)
      continue;
    for (const auto& other : model_.pools) {
      if (other.environment == p.environment || other.spot || other.region != p.region ||
          !iequals(other.quota_family, p.quota_family)) {
        continue;
      }
      auto other_nominal = env_nominal_vcpus(other.environment, other);
      int64_t other_used = env_usage_vcpus(other.environment, other.quota_family);
      if (other_used <= other_nominal.value_or(0)) continue;  // not borrowing
      for (Node* np :
           std::vector<Node*>(pool_nodes_[other.index].rbegin(), pool_nodes_[other.index].rend())) {
        Node& n = *np;
        NodeId id = n.id;
        bool movable = std::all_of(n.tasks.begin(), n.tasks.end(),
                                   [&](TaskId tid) { return old_enough(tasks_.at(tid)); });
        if (!movable) continue;
        // Would deleting this node let the task's pool create one?
        if (!ledger_.can_reserve_after_release(p.region, p.quota_family, p.node.vcpus,
                                               other.quota_family, other.node.vcpus)) {
          continue;
        }
        for (TaskId tid : std::vector<TaskId>(n.tasks)) evict(tasks_.at(tid), out);
        auto del = delete_node(id);
        assert(del);
        (void)del;
        no_room_[p.index].clear();
        return assign(t, out, /*may_wait=*/false);  // the room was made for it
      }
    }
  }
  return false;
}

// 6. requeue: whatever was not admitted stays pending for the next cycle.
void Scheduler::requeue(CycleResult& out) {
  fresh_.clear();
  out.pending_after = pending_count();
}

CycleResult Scheduler::cycle() {
  CycleResult out;
  TimePoint now = clock_.now();
  if (capacity_grew_ && last_full_cycle_ && now - *last_full_cycle_ < options_.full_cycle_min_gap) {
    // Capacity grew, but a full cycle ran moments ago: wait for the next one rather than
    // let newer work take the room ahead of older, higher-priority work.
    out.retry_at = *last_full_cycle_ + options_.full_cycle_min_gap;
    out.pending_after = pending_count();
    return out;
  }
  // A full cycle (every pending task) when capacity grew or running work became
  // preemptible; otherwise only new arrivals are considered, since an unchanged fleet admits
  // nothing it did not admit before. A full cycle every `full_cycle_every` regardless
  // catches what time alone changes (a schedule that now allows scale-up).
  bool became_preemptible = last_full_cycle_ && preemptible_from_.upper_bound(*last_full_cycle_) !=
                                                    preemptible_from_.upper_bound(now);
  bool recheck = recheck_at_ && now >= *recheck_at_;  // a waiting task would rather have a node
  bool full = capacity_grew_ || !last_full_cycle_ || became_preemptible || recheck ||
              now - *last_full_cycle_ >= options_.full_cycle_every;
  if (full) {
    capacity_grew_ = false;
    last_full_cycle_ = now;
    if (recheck) recheck_at_.reset();  // set again by the tasks that still wait
  }
  auto shares = snapshot();  // 1
  if (!full || !dynamic_cast<PriorityFairShareOrdering*>(ordering_.get())) {
    std::vector<TaskRecord*> order = heads(shares, full);  // 2
    for (TaskRecord* t : order) {
      if (t->state != TaskState::kPending) continue;
      ++out.considered;
      if (assign(*t, out)) continue;     // 3 (+5 commit)
      if (t->waiting_in >= 0) continue;  // room is coming sooner than preemption pays
      preempt(*t, out);                  // 4 (+5 commit)
    }
    requeue(out);  // 6
    return out;
  }
  // 2, in a full cycle with the default ordering: the tenants' queues (each kept sorted by
  // priority, submission, id) merged by (priority, tenant share, submission, id) — the
  // order a sort of every pending task gives — and walked lazily, so the cycle can stop as
  // soon as nothing later in the order could be admitted.
  // Per pool, the lowest priority of running preemptible work past the thrash guard.
  std::vector<int64_t> lowest_victim(model_.pools.size(), INT64_MAX);
  for (const auto& [nid, n] : nodes_) {
    for (TaskId tid : n.tasks) {
      const TaskRecord& t = tasks_.at(tid);
      if (t.task.preemptible && now - t.admitted_at >= options_.min_runtime_before_preemption) {
        lowest_victim[n.pool] = std::min(lowest_victim[n.pool], t.task.priority);
      }
    }
  }
  struct Cursor {
    int64_t share;
    size_t queue;
    std::set<std::tuple<int64_t, TimePoint, TaskId>>* tasks;
    std::tuple<int64_t, TimePoint, TaskId> last;  // the last key taken: resume after it
    bool started = false;
  };
  std::vector<Cursor> cursors;
  for (auto& [key, tasks] : pending_by_tenant_) {
    auto it = shares.find(key.first);
    cursors.push_back(
        {it == shares.end() ? 0 : it->second, static_cast<size_t>(key.second), &tasks, {}, false});
  }
  // A queue whose smallest task fits nowhere (and can preempt nothing) is skipped for the
  // rest of the cycle: room only shrinks within a cycle, until a preemption frees some.
  std::vector<char> blocked(queue_names_.size(), 0);
  std::vector<int64_t> failures(queue_names_.size(), 0);
  int64_t since_check = 0;
  while (true) {
    Cursor* best = nullptr;
    std::tuple<int64_t, TimePoint, TaskId> best_key;
    for (auto& c : cursors) {
      if (blocked[c.queue]) continue;
      auto it = c.started ? c.tasks->upper_bound(c.last) : c.tasks->begin();
      if (it == c.tasks->end()) continue;
      const auto& k = *it;
      if (!best || std::make_tuple(std::get<0>(k), c.share, std::get<1>(k), std::get<2>(k)) <
                       std::make_tuple(std::get<0>(best_key), best->share, std::get<1>(best_key),
                                       std::get<2>(best_key))) {
        best = &c;
        best_key = k;
      }
    }
    if (!best) break;
    best->last = best_key;
    best->started = true;
    TaskRecord& t = tasks_.at(std::get<2>(best_key));
    if (t.state != TaskState::kPending) continue;
    ++out.considered;
    size_t evicted_before = out.preempted.size();
    if (assign(t, out) || (t.waiting_in < 0 && preempt(t, out))) {
      if (out.preempted.size() != evicted_before) std::fill(blocked.begin(), blocked.end(), 0);
      continue;
    }
    size_t q = static_cast<size_t>(t.queue);
    if (++failures[q] % 4 == 1 && !queue_has_room(q, lowest_victim, t.task.priority))
      blocked[q] = 1;
    if (++since_check >= 32) {
      since_check = 0;
      if (!room_for(lowest_victim, t.task.priority)) break;  // nothing later can be admitted
    }
  }
  requeue(out);  // 6
  return out;
}

// Whether any queue's pending work could still be admitted somewhere: a candidate pool
// with a node that has room for the queue's smallest shape, a stopped node to start or a
// node to create, or running work that it (at most `priority`, the walk being in priority
// order) could preempt. The per-queue bounds are conservative (smallest shape seen, highest
// priority seen, every pool seen), so a "no" is certain.
bool Scheduler::room_for(const std::vector<int64_t>& lowest_victim, int64_t priority) const {
  for (size_t q = 0; q < queue_bounds_.size(); ++q) {
    if (queue_has_room(q, lowest_victim, priority)) return true;
  }
  return false;
}

bool Scheduler::queue_has_room(size_t queue, const std::vector<int64_t>& lowest_victim,
                               int64_t priority) const {
  if (!options_.environment_share_pct.empty()) return true;  // reclaim may still free quota
  if (queue >= queue_bounds_.size()) return false;
  const QueueBounds& b = queue_bounds_[queue];
  if (b.pending == 0) return false;
  int64_t prio = std::min(priority, b.max_priority);
  for (int pi : b.pools) {
    const PoolModel& p = model_.pools[pi];
    if (lowest_victim[pi] < prio) return true;
    bool scale_up = may_scale_up(p);
    for (const Node* n : pool_nodes_[pi]) {
      if (n->active() && b.min_shape.fits_in(p.node - n->used)) return true;
      if (scale_up && !n->active()) return true;
    }
    if (scale_up && static_cast<int64_t>(pool_nodes_[pi].size()) < p.max_nodes &&
        ledger_.can_reserve(p.region, p.quota_family, p.spot, p.node.vcpus)) {
      return true;
    }
  }
  return false;
}

Result<void> Scheduler::stop_node(NodeId id, bool hibernate) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return make_error(ErrorCode::kNotFound, fmt::format("no node {}", id));
  Node& n = it->second;
  if (!n.tasks.empty())
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("node {} still runs {} tasks", id, n.tasks.size()));
  const PoolModel& p = model_.pools[n.pool];
  if (hibernate && !p.can_hibernate) {
    return make_error(ErrorCode::kInfeasible,
                      fmt::format("{} cannot hibernate; deallocate it instead", p.sku));
  }
  n.state = hibernate ? NodeState::kHibernated : NodeState::kDeallocated;  // still holds its quota
  if (cloud_) cloud_->stop_vm(p, id, hibernate, clock_.now());
  capacity_grew_ = true;  // a stopped node is one that pending work may start
  ++node_epoch_;
  return {};
}

Result<void> Scheduler::delete_node(NodeId id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return make_error(ErrorCode::kNotFound, fmt::format("no node {}", id));
  if (!it->second.tasks.empty()) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("node {} still runs {} tasks", id, it->second.tasks.size()));
  }
  const PoolModel& p = model_.pools[it->second.pool];
  ledger_.release(p.region, p.quota_family, p.spot, p.node.vcpus);
  if (cloud_ && !losing_) cloud_->delete_vm(p, id, clock_.now());
  capacity_grew_ = true;
  ++node_epoch_;
  auto& ptrs = pool_nodes_[p.index];
  ptrs.erase(std::remove(ptrs.begin(), ptrs.end(), &it->second), ptrs.end());
  nodes_.erase(it);
  no_room_[p.index].clear();
  no_victims_[p.index].clear();
  return {};
}

Result<std::vector<TaskId>> Scheduler::lose_node(NodeId id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return make_error(ErrorCode::kNotFound, fmt::format("no node {}", id));
  std::vector<TaskId> requeued = it->second.tasks;
  CycleResult ignored;
  for (TaskId tid : requeued) evict(tasks_.at(tid), ignored);
  losing_ = true;  // the VM is already gone: no delete call to the cloud
  auto ok = delete_node(id);
  losing_ = false;
  if (!ok) return tl::unexpected(ok.error());
  return requeued;
}

std::vector<int64_t> Scheduler::nodes_needed() const {
  TimePoint now = clock_.now();
  std::vector<int64_t> out(model_.pools.size(), 0);
  std::vector<std::vector<Resources>> pending(model_.pools.size());
  (void)now;
  for (TaskId id : pending_) {
    const TaskRecord& t = tasks_.at(id);
    if (!t.candidates.empty()) pending[t.candidates.front().pool].push_back(t.task.resources);
  }
  for (const auto& p : model_.pools) {
    int64_t busy = 0;
    for (const Node* n : pool_nodes_[p.index]) busy += n->tasks.empty() ? 0 : 1;
    int64_t want = busy + static_cast<int64_t>(pack_best_fit_decreasing(p.node, pending[p.index]));
    out[p.index] = std::clamp(want, p.min_nodes, p.max_nodes);
  }
  return out;
}

FleetView::PoolWait Scheduler::pool_wait(const PoolModel& pool, const Task& task,
                                         TimePoint now) const {
  Duration best_ready = Duration::max();
  bool stopped = false;
  for (const Node* np : pool_nodes_[pool.index]) {
    const Node& n = *np;
    if (n.active() && task.resources.fits_in(pool.node - n.used)) {
      best_ready = std::min(best_ready, n.ready_at > now ? n.ready_at - now : Duration{0});
    }
    stopped = stopped || n.state == NodeState::kDeallocated || n.state == NodeState::kHibernated;
  }
  if (best_ready != Duration::max()) return {true, best_ready, ""};
  if (stopped) return {true, pool.start_latency, ""};
  int64_t count = static_cast<int64_t>(pool_nodes_[pool.index].size());
  bool quota_ok = ledger_.can_reserve(pool.region, pool.quota_family, pool.spot, pool.node.vcpus);
  if (count < pool.max_nodes && quota_ok) return {true, pool.create_latency, ""};
  // Queued: estimate when running work frees room on some node, plus the queue ahead.
  Duration earliest = Duration::max();
  for (const Node* np : pool_nodes_[pool.index]) {
    const Node& n = *np;
    std::vector<std::pair<TimePoint, Resources>> finishes;
    for (TaskId tid : n.tasks) {
      const TaskRecord& r = tasks_.at(tid);
      finishes.push_back({std::max(r.admitted_at, n.ready_at) + r.task.duration, r.task.resources});
    }
    std::sort(finishes.begin(), finishes.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    Resources free = pool.node - n.used;
    for (const auto& [at, res] : finishes) {
      free = free + res;
      if (task.resources.fits_in(free)) {
        earliest = std::min(earliest, at > now ? at - now : Duration{0});
        break;
      }
    }
  }
  int64_t ahead_ppm_ms = 0;
  for (TaskId id : pending_) {
    const TaskRecord& r = tasks_.at(id);
    if (!r.candidates.empty() && r.candidates.front().pool == pool.index &&
        r.task.priority >= task.priority) {
      ahead_ppm_ms += duration_cast<milliseconds>(r.task.duration).count() / 1000 *
                      dominant_share_ppm(r.task.resources, pool.node) / 1000;
    }
  }
  Duration ahead = milliseconds(ahead_ppm_ms * 1000 / 1000 / std::max<int64_t>(1, pool.max_nodes));
  Duration wait = (earliest == Duration::max() ? pool.create_latency : earliest) + ahead;
  std::string why =
      count >= pool.max_nodes
          ? fmt::format("pool '{}' is at max_nodes ({}) and full", pool.name, pool.max_nodes)
          : fmt::format("quota for {} in {} is in use", pool.quota_family, pool.region);
  return {false, wait, why};
}

}  // namespace codefleet
