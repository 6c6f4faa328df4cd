#include "sim/llm.h"

#include <algorithm>
#include <deque>
#include <optional>

#include "core/stats.h"
#include "core/text.h"
#include "llm/limiter.h"
#include "routing/router.h"
#include "spec/spec.h"

namespace codefleet {

using namespace std::chrono;

namespace {

int64_t ms_of(Duration d) { return duration_cast<milliseconds>(d).count(); }

bool lists(const std::vector<std::string>& classes, const std::string& name) {
  return std::find(classes.begin(), classes.end(), name) != classes.end();
}

// An endpoint the replay can model: it serves the class, has a throughput, and its pool can
// have nodes.
bool usable(const FleetModel& model, const SelfHostedModel& s, const std::string& class_name) {
  return lists(s.classes, class_name) && s.tokens_per_second > 0 && s.pool >= 0 &&
         s.pool < static_cast<int>(model.pools.size()) && model.pools[s.pool].max_nodes > 0;
}

// Scaled-down nodes of this pool stop (deallocate or hibernate) rather than go away, so
// they come back in the pool's start latency instead of its create latency.
bool restarts_stopped(const FleetModel& model, const PoolModel& pool) {
  if (pool.idle_action == IdleAction::kDeallocate || pool.idle_action == IdleAction::kHibernate)
    return true;
  const Pool* p = model.spec ? model.spec->find_pool(pool.name) : nullptr;
  return p && iequals(p->scale_down_mode, "Deallocate");
}

// A Foundry deployment's TPM/RPM buckets, served first come first served: a call starts no
// earlier than the one before it, and then when the buckets hold its tokens and a request.
class FoundryQueue {
 public:
  FoundryQueue(const DeploymentModel& d, TimePoint t0) : limit_(d.tpm, d.rpm, t0), last_(t0) {}

  Duration wait(int64_t tokens, TimePoint now) {
    TimePoint from = std::max(now, last_);
    Duration w = limit_.wait(tokens, from);
    if (w == Duration::max()) return w;
    return (from - now) + w;
  }
  void start(int64_t tokens, TimePoint at) {
    limit_.take(tokens, at);
    last_ = std::max(last_, at);
  }

 private:
  RateLimiter limit_;
  TimePoint last_;
};

// The nodes of one self-hosted endpoint. Each node serves `tps` tokens a second, one call
// after another; a call goes to the node that can start it first (the oldest idle node when
// several can start it now), which is a central first-come-first-served queue over the
// nodes running or coming up. Autoscaled as the cluster autoscaler does it: a node is added
// when the work queued would take longer than the class's call duration on every node there
// is or is coming; every `scan_every` a ready node busy less than `unneeded_below_pct` of
// the last scan interval is unneeded, and a node unneeded for `idle_after` with no call on
// it is removed, newest first; always within [min_nodes, max_nodes].
class NodeGroup {
 public:
  struct Config {
    const PoolModel* pool = nullptr;
    int64_t tps = 1;
    int64_t min_nodes = 0, max_nodes = 0;
    bool autoscale = false;
    Duration call_duration{0};
    Duration idle_after{0};
    Duration scan_every{seconds(10)};
    int64_t unneeded_below_pct = 50;
    bool restart_stopped = false;
  };

  NodeGroup(const Config& c, int64_t initial, TimePoint t0) : c_(c), next_scan_(t0) {
    for (int64_t i = 0; i < initial; ++i) nodes_.push_back(Node{t0, t0, t0});
    peak_ = static_cast<int64_t>(nodes_.size());
    last_done_ = t0;
  }

  // Runs the autoscaler's scans up to `now`.
  void advance(TimePoint now) {
    if (!c_.autoscale) return;
    for (; next_scan_ <= now; next_scan_ += c_.scan_every) scan(next_scan_);
  }

  FleetView::EndpointLoad load(TimePoint now) const {
    int64_t ready = 0;
    for (const auto& n : nodes_) ready += n.ready <= now ? 1 : 0;
    return {work_ms(now) * c_.tps / 1000, std::max<int64_t>(1, ready)};
  }

  FleetView::PoolWait pool_wait(TimePoint now) const {
    if (nodes_.empty()) return {true, next_latency(), ""};
    TimePoint first = nodes_.front().ready;
    for (const auto& n : nodes_) first = std::min(first, n.ready);
    return {true, first > now ? first - now : Duration{0}, ""};
  }

  // Serves a call of `tokens` arriving at `now`; returns when it starts.
  TimePoint serve(int64_t tokens, TimePoint now) {
    if (nodes_.empty()) add_nodes(1, now);
    size_t best = 0;
    for (size_t i = 1; i < nodes_.size(); ++i) {
      if (std::max(now, nodes_[i].free) < std::max(now, nodes_[best].free)) best = i;
    }
    Node& n = nodes_[best];
    TimePoint start = std::max(now, n.free);
    n.free = start + milliseconds((tokens * 1000 + c_.tps - 1) / c_.tps);
    if (c_.autoscale) n.busy.push_back({start, n.free});
    last_done_ = std::max(last_done_, n.free);
    if (c_.autoscale) {
      int64_t have = static_cast<int64_t>(nodes_.size());
      int64_t per = std::max<int64_t>(1, ms_of(c_.call_duration));
      int64_t work = work_ms(now);
      if (work > have * per && have < c_.max_nodes) {
        int64_t want = std::min(c_.max_nodes, (work + per - 1) / per);
        add_nodes(want - have, now);
      }
    }
    return start;
  }

  // Bills every node still there until `end`.
  void close(TimePoint end) {
    advance(end);
    for (const auto& n : nodes_) node_ms_ += std::max<int64_t>(0, ms_of(end - n.requested));
    nodes_.clear();
  }

  int64_t node_ms() const { return node_ms_; }
  int64_t peak() const { return peak_; }
  TimePoint last_done() const { return last_done_; }

 private:
  struct Node {
    TimePoint requested, ready, free;  // free: when its last call is done (>= ready)
    std::deque<std::pair<TimePoint, TimePoint>> busy{};  // its calls, from the last scan on
    std::optional<TimePoint> unneeded_since{};
  };

  void scan(TimePoint t) {
    TimePoint from = t - c_.scan_every;
    for (auto& n : nodes_) {
      while (!n.busy.empty() && n.busy.front().second <= from) n.busy.pop_front();
      int64_t busy = 0;
      for (const auto& [b, e] : n.busy) {
        if (b >= t) break;
        busy += ms_of(std::min(e, t) - std::max(b, from));
      }
      bool unneeded = n.ready <= t && busy * 100 < ms_of(c_.scan_every) * c_.unneeded_below_pct;
      if (!unneeded) {
        n.unneeded_since.reset();
      } else if (!n.unneeded_since) {
        n.unneeded_since = t;
      }
    }
    for (size_t i = nodes_.size(); i-- > 0;) {
      if (static_cast<int64_t>(nodes_.size()) <= c_.min_nodes) break;
      const Node& n = nodes_[i];
      if (!n.unneeded_since || t - *n.unneeded_since < c_.idle_after || n.free > t) continue;
      node_ms_ += ms_of(t - n.requested);
      nodes_.erase(nodes_.begin() + static_cast<std::ptrdiff_t>(i));
      if (c_.restart_stopped) ++stopped_;
    }
  }

  Duration next_latency() const {
    return c_.restart_stopped && stopped_ > 0 ? c_.pool->start_latency : c_.pool->create_latency;
  }

  void add_nodes(int64_t count, TimePoint now) {
    for (int64_t i = 0; i < count; ++i) {
      Duration latency = next_latency();
      if (c_.restart_stopped && stopped_ > 0) --stopped_;
      nodes_.push_back(Node{now, now + latency, now + latency});
    }
    peak_ = std::max(peak_, static_cast<int64_t>(nodes_.size()));
  }

  // The work queued or in service at `now`, in node-milliseconds.
  int64_t work_ms(TimePoint now) const {
    int64_t w = 0;
    for (const auto& n : nodes_) {
      TimePoint from = std::max(now, n.ready);
      if (n.free > from) w += ms_of(n.free - from);
    }
    return w;
  }

  Config c_;
  std::vector<Node> nodes_;
  TimePoint next_scan_;
  int64_t node_ms_ = 0;
  int64_t peak_ = 0;
  int64_t stopped_ = 0;
  TimePoint last_done_;
};

// The live state the router reads: the deployments' buckets and the endpoints' nodes.
class ReplayView final : public FleetView {
 public:
  ReplayView(std::vector<std::optional<FoundryQueue>>& foundry,
             std::vector<std::optional<NodeGroup>>& groups, const FleetModel& model)
      : foundry_(foundry), groups_(groups), by_pool_(model.pools.size(), nullptr) {
    for (const auto& s : model.self_hosted) {
      if (groups_[s.index] && !by_pool_[s.pool]) by_pool_[s.pool] = &*groups_[s.index];
    }
  }
  PoolWait pool_wait(const PoolModel& pool, const Task&, TimePoint now) const override {
    const NodeGroup* g = by_pool_[pool.index];
    if (!g) return {false, Duration{0}, "no nodes"};
    return g->pool_wait(now);
  }
  Duration rate_wait(const DeploymentModel& d, int64_t tokens, TimePoint now) const override {
    return foundry_[d.index] ? foundry_[d.index]->wait(tokens, now) : Duration{0};
  }
  EndpointLoad endpoint_load(const SelfHostedModel& s, TimePoint now) const override {
    return groups_[s.index] ? groups_[s.index]->load(now) : EndpointLoad{};
  }

 private:
  std::vector<std::optional<FoundryQueue>>& foundry_;
  std::vector<std::optional<NodeGroup>>& groups_;
  std::vector<const NodeGroup*> by_pool_;
};

enum class Mode { kFoundry, kSelfHosted, kHybrid };

Duration period_of(const std::vector<LlmCall>& calls, Duration period) {
  if (period.count() > 0) return period;
  return calls.empty() ? Duration{0} : calls.back().at;
}

LlmScenario run_scenario(const FleetModel& full, const WorkloadClass& cls,
                         const std::vector<LlmCall>& calls, const LlmSimOptions& o, Mode mode,
                         int64_t hybrid_nodes) {
  LlmScenario out;
  out.name = mode == Mode::kFoundry      ? "foundry"
             : mode == Mode::kSelfHosted ? "self-hosted"
                                         : "hybrid";
  // The router sees only the targets of this scenario that serve the class.
  FleetModel m = full;
  m.deployments.clear();
  m.self_hosted.clear();
  if (mode != Mode::kSelfHosted) {
    for (const auto& d : full.deployments) {
      if (lists(d.classes, cls.name)) m.deployments.push_back(d);
    }
  }
  if (mode != Mode::kFoundry) {
    for (const auto& s : full.self_hosted) {
      if (usable(full, s, cls.name)) m.self_hosted.push_back(s);
    }
  }
  TimePoint t0 = o.start;
  std::vector<std::optional<FoundryQueue>> foundry(full.deployments.size());
  for (const auto& d : m.deployments) foundry[d.index].emplace(d, t0);
  std::vector<std::optional<NodeGroup>> groups(full.self_hosted.size());
  for (const auto& s : m.self_hosted) {
    const PoolModel& p = full.pools[s.pool];
    NodeGroup::Config c;
    c.pool = &p;
    c.tps = s.tokens_per_second;
    c.call_duration = cls.duration;
    c.idle_after = o.scale_down_after;
    c.scan_every = o.scan_every;
    c.unneeded_below_pct = o.unneeded_below_pct;
    c.restart_stopped = restarts_stopped(full, p);
    int64_t initial = 0;
    if (mode == Mode::kSelfHosted) {
      c.autoscale = true;
      c.min_nodes = p.min_nodes;
      c.max_nodes = p.max_nodes;
      initial = p.min_nodes;
    } else {
      initial = std::clamp<int64_t>(hybrid_nodes, std::max<int64_t>(1, p.min_nodes), p.max_nodes);
      c.min_nodes = c.max_nodes = initial;
    }
    groups[s.index].emplace(c, initial, t0);
  }
  ReplayView view(foundry, groups, m);

  std::vector<int64_t> prompt(full.deployments.size()), completion(full.deployments.size());
  std::vector<int64_t> dep_calls(full.deployments.size()), ep_calls(full.self_hosted.size());
  std::vector<int64_t> waits;
  waits.reserve(calls.size());
  Task task = task_from_class(cls);
  for (const auto& call : calls) {
    TimePoint now = t0 + call.at;
    for (auto& g : groups) {
      if (g) g->advance(now);
    }
    task.tokens = TokenCounts{call.prompt, call.completion};
    task.submitted_at = now;
    int64_t tokens = call.prompt + call.completion;
    Decision d = route(m, task, view, now);
    if (d.outcome == Outcome::kInfeasible) {
      ++out.unserved;
      continue;
    }
    if (d.target.kind == Target::Kind::kFoundry && foundry[d.target.index] &&
        d.wait != Duration::max()) {
      foundry[d.target.index]->start(tokens, now + d.wait);
      waits.push_back(ms_of(d.wait));
      prompt[d.target.index] += call.prompt;
      completion[d.target.index] += call.completion;
      ++dep_calls[d.target.index];
    } else if (d.target.kind == Target::Kind::kSelfHosted && groups[d.target.index]) {
      TimePoint start = groups[d.target.index]->serve(tokens, now);
      waits.push_back(ms_of(start - now));
      ++ep_calls[d.target.index];
    } else {
      ++out.unserved;
      continue;
    }
    ++out.served;
  }

  TimePoint end = t0 + period_of(calls, o.period);
  for (const auto& g : groups) {
    if (g) end = std::max(end, g->last_done());
  }
  for (const auto& d : m.deployments) {
    Money c = d.usd_per_1m_input.mul_div(prompt[d.index], 1'000'000) +
              d.usd_per_1m_output.mul_div(completion[d.index], 1'000'000);
    out.cost += c;
    out.cost_by_target[d.name] += c;
    out.calls_by_target[d.name] += dep_calls[d.index];
  }
  for (const auto& s : m.self_hosted) {
    NodeGroup& g = *groups[s.index];
    g.close(end);
    Money c = full.pools[s.pool].price.usd_per_hour.mul_div(g.node_ms(), 3'600'000);
    out.cost += c;
    out.cost_by_target[s.name] += c;
    out.calls_by_target[s.name] += ep_calls[s.index];
    out.node_ms += g.node_ms();
    out.peak_nodes += g.peak();
  }
  out.wait_p50_ms = percentile(waits, 50);
  out.wait_p95_ms = percentile(waits, 95);
  out.wait_p99_ms = percentile(waits, 99);
  return out;
}

}  // namespace

std::vector<LlmCall> llm_calls_of(const Workload& workload) {
  std::vector<LlmCall> out;
  out.reserve(workload.arrivals.size());
  for (const auto& a : workload.arrivals) {
    if (a.task.tokens) out.push_back({a.at, a.task.tokens->prompt, a.task.tokens->completion});
  }
  return out;
}

std::optional<std::string> default_llm_route_class(const FleetModel& model) {
  if (!model.spec) return std::nullopt;
  for (const auto& c : model.spec->classes) {
    if (c.kind != ClassKind::kLlm) continue;
    bool foundry = std::any_of(model.deployments.begin(), model.deployments.end(),
                               [&](const DeploymentModel& d) { return lists(d.classes, c.name); });
    bool self_hosted =
        std::any_of(model.self_hosted.begin(), model.self_hosted.end(),
                    [&](const SelfHostedModel& s) { return usable(model, s, c.name); });
    if (foundry && self_hosted) return c.name;
  }
  return std::nullopt;
}

int64_t hybrid_base_nodes(const FleetModel& model, const std::string& class_name,
                          const std::vector<LlmCall>& calls, Duration period) {
  int64_t tps = 0;
  for (const auto& s : model.self_hosted) {
    if (usable(model, s, class_name)) tps += s.tokens_per_second;
  }
  if (tps == 0) return 0;
  int64_t span = ms_of(period_of(calls, period));
  int64_t minutes = std::max<int64_t>(1, (span + 59'999) / 60'000);
  std::vector<int64_t> per_minute(static_cast<size_t>(minutes), 0);
  for (const auto& c : calls) {
    int64_t i = std::clamp<int64_t>(ms_of(c.at) / 60'000, 0, minutes - 1);
    per_minute[static_cast<size_t>(i)] += c.prompt + c.completion;
  }
  int64_t median = percentile(per_minute, 50);
  int64_t per_node_minute = tps * 60;
  return std::max<int64_t>(1, (median + per_node_minute - 1) / per_node_minute);
}

LlmReplay replay_llm(const FleetModel& model, const std::string& class_name,
                     const std::vector<LlmCall>& calls, const LlmSimOptions& options) {
  LlmReplay r;
  r.class_name = class_name;
  r.calls = static_cast<int64_t>(calls.size());
  for (const auto& c : calls) {
    r.prompt_tokens += c.prompt;
    r.completion_tokens += c.completion;
  }
  const WorkloadClass* cls = model.spec ? model.spec->find_class(class_name) : nullptr;
  if (!cls || cls->kind != ClassKind::kLlm) return r;
  const std::vector<LlmCall>* in = &calls;
  std::vector<LlmCall> sorted;
  if (!std::is_sorted(calls.begin(), calls.end(),
                      [](const LlmCall& a, const LlmCall& b) { return a.at < b.at; })) {
    sorted = calls;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const LlmCall& a, const LlmCall& b) { return a.at < b.at; });
    in = &sorted;
  }
  int64_t base = options.hybrid_nodes > 0
                     ? options.hybrid_nodes
                     : hybrid_base_nodes(model, class_name, *in, options.period);
  for (Mode m : {Mode::kFoundry, Mode::kSelfHosted, Mode::kHybrid})
    r.scenarios.push_back(run_scenario(model, *cls, *in, options, m, base));
  const LlmScenario* best = nullptr;
  for (const auto& s : r.scenarios) {
    if (s.unserved == 0 && (!best || s.cost < best->cost)) best = &s;
  }
  if (best) r.cheapest = best->name;
  return r;
}

}  // namespace codefleet
