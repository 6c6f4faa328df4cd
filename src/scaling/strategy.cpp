#include "scaling/strategy.h"

#include <algorithm>
#include <deque>

#include <fmt/format.h>

#include "core/text.h"

namespace codefleet {

using namespace std::chrono;

namespace {

int64_t active_nodes(const Scheduler& s, int pool) {
  int64_t n = 0;
  for (const auto& [id, node] : s.nodes()) n += node.pool == pool && node.active() ? 1 : 0;
  return n;
}

int64_t all_nodes(const Scheduler& s, int pool) {
  int64_t n = 0;
  for (const auto& [id, node] : s.nodes()) n += node.pool == pool ? 1 : 0;
  return n;
}

void fill_to(Scheduler& s, const PoolModel& p, int64_t target) {
  for (int64_t have = active_nodes(s, p.index); have < target; ++have) {
    if (!s.provision_node(p.index)) break;
  }
}

class AlwaysOn final : public ScalingStrategy {
 public:
  explicit AlwaysOn(const FleetModel& m) : model_(m) {}
  std::string name() const override { return "always-on"; }
  void configure(SchedulerOptions& o) const override { o.defer_off_peak = false; }
  void start(Scheduler& s, TimePoint) override {
    for (const auto& p : model_.pools) fill_to(s, p, p.max_nodes);
  }
  // Replace what was lost (spot evictions, failed creates): the fleet stays at peak size.
  void tick(Scheduler& s, TimePoint now) override {
    if (now - last_refill_ < minutes(5)) return;
    last_refill_ = now;
    for (const auto& p : model_.pools) fill_to(s, p, p.max_nodes);
  }

 private:
  const FleetModel& model_;
  TimePoint last_refill_{};
};

class ClusterAutoscaler final : public ScalingStrategy {
 public:
  explicit ClusterAutoscaler(const FleetModel& m) : model_(m), last_scale_up_(m.pools.size()) {}
  std::string name() const override { return "cluster-autoscaler"; }
  void configure(SchedulerOptions& o) const override { o.defer_off_peak = false; }
  void start(Scheduler& s, TimePoint) override {
    for (const auto& p : model_.pools) fill_to(s, p, p.min_nodes);
  }
  void tick(Scheduler& s, TimePoint now) override {
    // Scale-ups happen on demand in the scheduler; note them for the scale-down delay.
    std::vector<NodeId> to_delete;
    for (const auto& [id, n] : s.nodes()) {
      if (!known_.count(id)) {
        known_.insert(id);
        last_scale_up_[n.pool] = now;
      }
    }
    for (const auto& [id, n] : s.nodes()) {
      if (!n.tasks.empty() || !n.active()) {
        unneeded_since_.erase(id);
        continue;
      }
      auto [it, inserted] = unneeded_since_.emplace(id, now);
      if (now - it->second >= kUnneededTime && now - last_scale_up_[n.pool] >= kDelayAfterAdd) {
        to_delete.push_back(id);
      }
    }
    for (NodeId id : to_delete) {
      const Node& n = s.nodes().at(id);
      if (all_nodes(s, n.pool) <= model_.pools[n.pool].min_nodes) continue;
      if (s.delete_node(id)) {
        unneeded_since_.erase(id);
        known_.erase(id);
      }
    }
  }

 private:
  static constexpr Duration kUnneededTime = minutes(10);
  static constexpr Duration kDelayAfterAdd = minutes(10);
  const FleetModel& model_;
  std::vector<TimePoint> last_scale_up_;
  std::map<NodeId, TimePoint> unneeded_since_;
  std::set<NodeId> known_;
};

class OfficeHours final : public ScalingStrategy {
 public:
  explicit OfficeHours(const FleetModel& m) : model_(m) {
    for (const auto& p : m.pools) {
      OffPeak w;  // reused as "a schedule in a time zone"
      if (p.schedule) {
        w = *p.schedule;
      } else {
        w.schedule.windows.push_back({{0, 1, 2, 3, 4}, 8 * 60, 18 * 60});
        if (m.off_peak) w.zone = m.off_peak->zone;
      }
      windows_.push_back(w);
    }
    open_.assign(m.pools.size(), false);
  }
  std::string name() const override { return "office-hours"; }
  void configure(SchedulerOptions& o) const override {
    o.defer_off_peak = false;
    o.may_scale_up = [this](const PoolModel& p, TimePoint now) {
      return windows_[p.index].contains(now);
    };
  }
  void start(Scheduler& s, TimePoint now) override { tick(s, now); }
  void tick(Scheduler& s, TimePoint now) override {
    for (const auto& p : model_.pools) {
      bool open = windows_[p.index].contains(now);
      if (open && !open_[p.index]) fill_to(s, p, p.max_nodes);  // the morning start
      open_[p.index] = open;
      if (open) continue;
      // Closed: deallocate every node as soon as it is idle.
      std::vector<NodeId> idle;
      for (const auto& [id, n] : s.nodes()) {
        if (n.pool == p.index && n.active() && n.tasks.empty()) idle.push_back(id);
      }
      for (NodeId id : idle) (void)s.stop_node(id, /*hibernate=*/false);
    }
  }

 private:
  const FleetModel& model_;
  std::vector<OffPeak> windows_;
  std::vector<bool> open_;
};

class CodeFleet final : public ScalingStrategy {
 public:
  explicit CodeFleet(const FleetModel& m) : model_(m), history_(m.pools.size()) {
    for (const auto& p : m.pools) {
      const Pool* sp = m.spec ? m.spec->find_pool(p.name) : nullptr;
      Duration after = sp ? sp->idle_after : minutes(30);
      // Stopping pays once a node would idle longer than it takes to bring it back: its
      // start latency, or for a pool whose idle nodes are deleted, a new node's create
      // latency (billed while it is created).
      bool deletes = p.idle_action == IdleAction::kDelete || p.spot;
      Duration back = deletes ? p.create_latency : p.start_latency;
      idle_before_stop_.push_back(std::clamp<Duration>(back, minutes(1), after));
    }
  }
  std::string name() const override { return "codefleet"; }
  void configure(SchedulerOptions& o) const override {
    o.defer_off_peak = true;
    o.wait_for_room = true;
  }
  void start(Scheduler& s, TimePoint) override {
    for (const auto& p : model_.pools) fill_to(s, p, p.min_nodes);
  }
  void tick(Scheduler& s, TimePoint now) override {
    // One pass over the nodes: busy, active, idle-long-enough and stopped nodes per pool.
    size_t n_pools = model_.pools.size();
    std::vector<int64_t> busy(n_pools, 0), active_count(n_pools, 0);
    std::vector<std::vector<NodeId>> idle_by_pool(n_pools), stopped_by_pool(n_pools);
    for (const auto& [id, n] : s.nodes()) {
      size_t pi = static_cast<size_t>(n.pool);
      if (!n.tasks.empty()) busy[pi]++;
      if (n.active()) active_count[pi]++;
      if (n.active() && n.tasks.empty() && n.state == NodeState::kRunning &&
          now - n.idle_since >= idle_before_stop_[pi]) {
        idle_by_pool[pi].push_back(id);
      }
      if (n.state == NodeState::kDeallocated || n.state == NodeState::kHibernated)
        stopped_by_pool[pi].push_back(id);
    }
    for (const auto& p : model_.pools) {
      // Demand history: the last hour's peak of busy nodes, as a sliding-window maximum.
      auto& h = history_[p.index];
      while (!h.empty() && h.back().second <= busy[p.index]) h.pop_back();
      h.push_back({now, busy[p.index]});
      while (!h.empty() && now - h.front().first > hours(1)) h.pop_front();
      int64_t peak = h.empty() ? 0 : h.front().second;
      int64_t active = active_count[p.index];
      std::vector<NodeId>& idle = idle_by_pool[p.index];
      std::vector<NodeId>& stopped = stopped_by_pool[p.index];
      for (NodeId id : idle) {
        if (active <= p.min_nodes || p.idle_action == IdleAction::kNone) break;
        bool ok = false;
        if (p.idle_action == IdleAction::kDelete || p.spot) {
          ok = static_cast<bool>(s.delete_node(id));
        } else {
          bool hibernate = p.idle_action == IdleAction::kHibernate && p.can_hibernate;
          ok = static_cast<bool>(s.stop_node(id, hibernate));
          if (ok) stopped.push_back(id);
        }
        if (ok) --active;
      }
      // Warm pool: keep as many stopped nodes as the last hour's peak demand exceeds what
      // is active; delete the rest (oldest ids first), which frees their quota and disks.
      int64_t warm = std::max<int64_t>(0, peak - active);
      std::sort(stopped.begin(), stopped.end());
      for (size_t i = static_cast<size_t>(warm); i < stopped.size(); ++i) {
        const Node& n = s.nodes().at(stopped[i]);
        if (now - n.idle_since >= hours(1)) (void)s.delete_node(stopped[i]);
      }
    }
  }

 private:
  const FleetModel& model_;
  std::vector<Duration> idle_before_stop_;
  std::vector<std::deque<std::pair<TimePoint, int64_t>>> history_;
};

class Oracle final : public ScalingStrategy {
 public:
  std::string name() const override { return "oracle"; }
  void configure(SchedulerOptions& o) const override {
    o.defer_off_peak = false;
    o.fixed_latency = Duration{0};
  }
  void tick(Scheduler& s, TimePoint) override {
    std::vector<NodeId> empty;
    for (const auto& [id, n] : s.nodes()) {
      if (n.tasks.empty()) empty.push_back(id);
    }
    for (NodeId id : empty) (void)s.delete_node(id);
  }
  bool bills_busy_capacity_only() const override { return true; }
};

}  // namespace

std::vector<std::string> strategy_names() {
  return {"always-on", "cluster-autoscaler", "office-hours", "codefleet", "oracle"};
}

Result<std::unique_ptr<ScalingStrategy>> make_strategy(const std::string& name,
                                                       const FleetModel& model) {
  if (name == "always-on")
    return std::unique_ptr<ScalingStrategy>(std::make_unique<AlwaysOn>(model));
  if (name == "cluster-autoscaler")
    return std::unique_ptr<ScalingStrategy>(std::make_unique<ClusterAutoscaler>(model));
  if (name == "office-hours")
    return std::unique_ptr<ScalingStrategy>(std::make_unique<OfficeHours>(model));
  if (name == "codefleet")
    return std::unique_ptr<ScalingStrategy>(std::make_unique<CodeFleet>(model));
  if (name == "oracle") return std::unique_ptr<ScalingStrategy>(std::make_unique<Oracle>());
  auto names = strategy_names();
  std::string near = closest_match(name, names);
  return make_error(ErrorCode::kInvalidInput,
                    fmt::format("unknown strategy '{}'{}; valid: {}", name,
                                near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near),
                                fmt::join(names, ", ")));
}

}  // namespace codefleet
