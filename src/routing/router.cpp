#include "routing/router.h"

#include <algorithm>
#include <climits>
#include <tuple>

#include <fmt/format.h>

#include "core/text.h"

namespace codefleet {

using namespace std::chrono;

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kPlaced:
      return "placed";
    case Outcome::kQueued:
      return "queued";
    case Outcome::kInfeasible:
      return "infeasible";
  }
  return "infeasible";
}

const char* target_kind_name(Target::Kind k) {
  switch (k) {
    case Target::Kind::kPool:
      return "pool";
    case Target::Kind::kFoundry:
      return "foundry";
    case Target::Kind::kSelfHosted:
      return "self-hosted";
    case Target::Kind::kNone:
      return "none";
  }
  return "none";
}

namespace {

std::string usd(Money m) { return "$" + m.to_string(m.micros() < 10'000 ? 6 : 4); }

std::string wait_text(Duration d) { return format_duration(duration_cast<seconds>(d)); }

int prefer_rank(const FleetModel& model, const Task& task, const std::string& name) {
  const WorkloadClass* wc = model.spec ? model.spec->find_class(task.class_name) : nullptr;
  if (!wc) return INT_MAX;
  for (size_t i = 0; i < wc->prefer.size(); ++i) {
    if (wc->prefer[i] == name) return static_cast<int>(i);
  }
  return INT_MAX;
}

bool is_llm(const FleetModel& model, const Task& task) {
  const WorkloadClass* wc = model.spec ? model.spec->find_class(task.class_name) : nullptr;
  return wc && wc->kind == ClassKind::kLlm;
}

std::string policy_of(const FleetModel& model, const Task& task) {
  const WorkloadClass* wc = model.spec ? model.spec->find_class(task.class_name) : nullptr;
  return wc ? wc->policy : "cheapest";
}

std::string too_small(const Resources& need, const PoolModel& p) {
  std::vector<std::string> parts;
  if (need.vcpus > p.node.vcpus)
    parts.push_back(fmt::format("{} vCPUs (has {})", need.vcpus, p.node.vcpus));
  if (need.memory_mib > p.node.memory_mib) {
    parts.push_back(fmt::format("{} GiB memory (has {})", need.memory_mib / kMibPerGib,
                                p.node.memory_mib / kMibPerGib));
  }
  if (need.gpu_milli > p.node.gpu_milli) {
    parts.push_back(
        fmt::format("{} GPUs (has {})", need.gpu_milli / 1000.0, p.node.gpu_milli / 1000.0));
  }
  if (need.gpu_memory_mib > p.node.gpu_memory_mib) {
    parts.push_back(fmt::format("{} GiB GPU memory (has {})", need.gpu_memory_mib / kMibPerGib,
                                p.node.gpu_memory_mib / kMibPerGib));
  }
  return fmt::format("{} is too small: needs {}", p.sku, fmt::join(parts, ", "));
}

}  // namespace

int64_t dominant_share_ppm(const Resources& need, const Resources& node) {
  int64_t share = 0;
  auto dim = [&](int64_t n, int64_t cap) {
    if (n <= 0 || cap <= 0) return;
    share =
        std::max(share, static_cast<int64_t>((static_cast<Int128>(n) * 1'000'000 + cap - 1) / cap));
  };
  dim(need.vcpus, node.vcpus);
  dim(need.memory_mib, node.memory_mib);
  dim(need.gpu_milli, node.gpu_milli);
  dim(need.gpu_memory_mib, node.gpu_memory_mib);
  return std::min<int64_t>(share, 1'000'000);
}

int64_t packed_share_ppm(const Resources& need, const Resources& node) {
  int64_t fit = INT64_MAX;
  auto dim = [&](int64_t n, int64_t cap) {
    if (n > 0) fit = std::min(fit, cap / n);
  };
  dim(need.vcpus, node.vcpus);
  dim(need.memory_mib, node.memory_mib);
  dim(need.gpu_milli, node.gpu_milli);
  dim(need.gpu_memory_mib, node.gpu_memory_mib);
  if (fit == INT64_MAX) return 0;  // asks for nothing
  if (fit <= 0) return 1'000'000;
  return (1'000'000 + fit - 1) / fit;
}

std::optional<int64_t> quota_limit_for_node(const FleetModel& model, const PoolModel& pool,
                                            std::string* which) {
  if (!model.spec) return std::nullopt;
  const QuotaSpec* q = model.spec->find_quota(pool.region);
  if (!q) return std::nullopt;
  std::optional<int64_t> limit;
  auto consider = [&](std::optional<int64_t> l, const std::string& name) {
    if (l && (!limit || *l < *limit)) {
      limit = l;
      if (which) *which = name;
    }
  };
  if (pool.spot) {
    consider(q->spot_vcpus, "the regional low-priority (spot) total");
  } else {
    for (const auto& [family, vcpus] : q->families) {
      if (iequals(family, pool.quota_family)) consider(vcpus, family);
    }
    consider(q->total_vcpus, "the regional vCPU total");
  }
  return limit;
}

std::vector<PoolCandidate> rank_pools(const FleetModel& model, const Task& task,
                                      std::vector<Alternative>* rejected) {
  std::vector<PoolCandidate> out;
  for (const auto& p : model.pools) {
    std::string why;
    std::string which;
    auto limit = quota_limit_for_node(model, p, &which);
    if (!p.serves(task.class_name)) {
      why = fmt::format("does not serve class '{}'", task.class_name);
    } else if (!task.environment.empty() && task.environment != p.environment) {
      why = fmt::format("is in environment '{}', the task asks for '{}'", p.environment,
                        task.environment);
    } else if (!task.resources.fits_in(p.node)) {
      why = too_small(task.resources, p);
    } else if (p.max_nodes == 0) {
      why = "has max_nodes 0";
    } else if (limit && p.node.vcpus > *limit) {
      why = fmt::format("one {} node needs {} vCPUs, more than the {} quota of {}", p.sku,
                        p.node.vcpus, which, *limit);
    }
    Money cost = p.price.usd_per_hour.mul_div(duration_cast<milliseconds>(task.duration).count() *
                                                  dominant_share_ppm(task.resources, p.node),
                                              3'600'000LL * 1'000'000LL);
    if (!why.empty()) {
      if (rejected) {
        Alternative a;
        a.target = {Target::Kind::kPool, p.index, p.name, p.sku, "", ""};
        a.cost = cost;
        a.estimated = p.price.estimated;
        a.rejected_because = why;
        rejected->push_back(a);
      }
      continue;
    }
    out.push_back({p.index, cost, prefer_rank(model, task, p.name)});
  }
  std::sort(out.begin(), out.end(), [&](const PoolCandidate& a, const PoolCandidate& b) {
    // On equal cost the smaller node wins: it holds less quota for the same work.
    return std::tie(a.prefer_rank, a.cost, model.pools[a.pool].node.vcpus,
                    model.pools[a.pool].name) < std::tie(b.prefer_rank, b.cost,
                                                         model.pools[b.pool].node.vcpus,
                                                         model.pools[b.pool].name);
  });
  return out;
}

FleetView::PoolWait EmptyFleetView::pool_wait(const PoolModel& pool, const Task&, TimePoint) const {
  std::string which;
  auto limit = quota_limit_for_node(model_, pool, &which);
  if (limit && pool.node.vcpus > *limit) {
    return {false, Duration{0}, fmt::format("quota {} cannot hold one node", which)};
  }
  return {true, pool.create_latency, ""};
}

Decision route(const FleetModel& model, const Task& task, const FleetView& view, TimePoint now) {
  struct Option {
    Alternative alt;
    int prefer = INT_MAX;
  };
  std::vector<Option> options;
  std::vector<Alternative> rejected;
  bool llm = is_llm(model, task);

  // Off-peak deferral applies to every compute target alike.
  Duration defer{0};
  std::string defer_note;
  if (!llm && task.deferrable && model.off_peak && !model.off_peak->contains(now)) {
    TimePoint start = model.off_peak->next_start(now);
    bool forced = task.deadline && start + task.duration > *task.deadline;
    if (!forced && start > now) {
      defer = start - now;
      defer_note =
          fmt::format("deferrable: waits for the off-peak window at {}", format_rfc3339(start));
    }
  }

  if (!llm) {
    for (const auto& c : rank_pools(model, task, &rejected)) {
      const PoolModel& p = model.pools[c.pool];
      auto w = view.pool_wait(p, task, now);
      Option o;
      o.alt.target = {Target::Kind::kPool, p.index, p.name, p.sku, "", ""};
      o.alt.cost = c.cost;
      o.alt.estimated = p.price.estimated;
      o.alt.feasible = true;
      o.alt.available = w.can_place && defer.count() == 0;
      o.alt.wait = std::max(w.wait, defer);
      if (!w.can_place) o.alt.rejected_because = w.why_waiting;  // kept only if it loses
      o.prefer = c.prefer_rank;
      options.push_back(o);
    }
  } else {
    int64_t tokens = task.tokens ? task.tokens->prompt + task.tokens->completion : 0;
    for (const auto& d : model.deployments) {
      Alternative a;
      a.target = {Target::Kind::kFoundry, d.index, d.name, "", "", d.deployment};
      a.cost = d.usd_per_1m_input.mul_div(task.tokens ? task.tokens->prompt : 0, 1'000'000) +
               d.usd_per_1m_output.mul_div(task.tokens ? task.tokens->completion : 0, 1'000'000);
      if (std::find(d.classes.begin(), d.classes.end(), task.class_name) == d.classes.end()) {
        a.rejected_because = fmt::format("does not serve class '{}'", task.class_name);
        rejected.push_back(a);
        continue;
      }
      if (d.tpm > 0 && tokens > d.tpm) {
        a.rejected_because =
            fmt::format("the call's {} tokens exceed its TPM limit of {}", tokens, d.tpm);
        rejected.push_back(a);
        continue;
      }
      Duration w = view.rate_wait(d, tokens, now);
      a.feasible = true;
      a.available = w.count() == 0;
      a.wait = w;
      if (!a.available)
        a.rejected_because = fmt::format("TPM/RPM limit reached; frees in {}", wait_text(w));
      options.push_back({a, prefer_rank(model, task, d.name)});
    }
    for (const auto& s : model.self_hosted) {
      Alternative a;
      a.target = {Target::Kind::kSelfHosted, s.index, s.name, "", "", ""};
      if (std::find(s.classes.begin(), s.classes.end(), task.class_name) == s.classes.end() ||
          s.pool < 0) {
        a.rejected_because = fmt::format("does not serve class '{}'", task.class_name);
        rejected.push_back(a);
        continue;
      }
      const PoolModel& p = model.pools[s.pool];
      a.target.sku = p.sku;
      a.target.pool = p.name;
      // Marginal cost: the GPU time the tokens take at the endpoint's sustained throughput.
      a.cost =
          p.price.usd_per_hour.mul_div(tokens, std::max<int64_t>(1, s.tokens_per_second) * 3600);
      a.estimated = p.price.estimated;
      Task probe = task;
      probe.resources = {};
      auto w = view.pool_wait(p, probe, now);
      a.feasible = true;
      a.available = w.can_place;
      a.wait = w.wait;
      if (!w.can_place) a.rejected_because = w.why_waiting;
      // Its load: the queue ahead of this call at the endpoint's throughput.
      auto load = view.endpoint_load(s, now);
      if (load.tokens_in_flight > 0) {
        int64_t per_s =
            std::max<int64_t>(1, s.tokens_per_second) * std::max<int64_t>(1, load.nodes);
        Duration queue =
            duration_cast<Duration>(milliseconds(load.tokens_in_flight * 1000 / per_s));
        a.wait += queue;
        if (a.available && queue > task.duration) {
          a.available = false;
          a.rejected_because = fmt::format(
              "saturated: {} tokens in flight on {} node(s), a {} queue (longer than the "
              "class's {} call)",
              load.tokens_in_flight, std::max<int64_t>(1, load.nodes), wait_text(queue),
              wait_text(task.duration));
        }
      }
      options.push_back({a, prefer_rank(model, task, s.name)});
    }
  }

  Decision d;
  if (options.empty()) {
    d.outcome = Outcome::kInfeasible;
    std::vector<std::string> whys;
    for (const auto& r : rejected) whys.push_back(r.target.name + " " + r.rejected_because);
    d.reason = whys.empty() ? fmt::format("no pool or deployment is configured for class '{}'",
                                          task.class_name)
                            : fmt::format("nothing can run it: {}", fmt::join(whys, "; "));
    d.alternatives = rejected;
    return d;
  }

  bool fastest = policy_of(model, task) == "fastest";
  auto node_vcpus = [&](const Target& t) -> int64_t {
    return t.kind == Target::Kind::kPool ? model.pools[t.index].node.vcpus : 0;
  };
  for (auto& o : options) {
    o.alt.meets_deadline = !task.deadline || now + o.alt.wait + task.duration <= *task.deadline;
  }
  auto key = [&](const Option& o) {
    int64_t wait_ms = duration_cast<milliseconds>(o.alt.wait).count();
    // A target that can take the task now beats one that must wait for capacity or a rate
    // limit (as Kueue tries flavors in order and takes the first that fits).
    return std::make_tuple(o.alt.meets_deadline ? 0 : 1, o.alt.available ? 0 : 1, o.prefer,
                           fastest ? wait_ms : o.alt.cost.micros(),
                           fastest ? o.alt.cost.micros() : wait_ms, node_vcpus(o.alt.target),
                           o.alt.target.name);
  };
  std::stable_sort(options.begin(), options.end(),
                   [&](const Option& a, const Option& b) { return key(a) < key(b); });
  const Alternative& best = options.front().alt;
  d.target = best.target;
  d.cost = best.cost;
  d.wait = best.wait;
  d.estimated = best.estimated;
  d.outcome = best.available ? Outcome::kPlaced : Outcome::kQueued;
  std::string why = fastest ? "the shortest wait" : "the cheapest";
  if (options.front().prefer != INT_MAX) why = "the class's first preferred target that can run it";
  d.reason = fmt::format("{} {} target{}{}: {} for {}{}", why, llm ? "LLM" : "compute",
                         task.deadline ? " that meets the deadline" : "",
                         best.meets_deadline ? "" : " (none meets the deadline)", usd(best.cost),
                         wait_text(task.duration), best.estimated ? " (estimated price)" : "");
  if (!best.available) {
    d.reason += "; queued: " + (defer.count() > 0 && !llm ? defer_note : best.rejected_because);
  } else if (best.wait.count() > 0) {
    d.reason += fmt::format("; starts in about {} (provisioning)", wait_text(best.wait));
  }
  for (size_t i = 1; i < options.size(); ++i) {
    Alternative a = options[i].alt;
    std::string because;
    if (!a.meets_deadline && best.meets_deadline) {
      because = fmt::format("would finish after the deadline (waits {})", wait_text(a.wait));
    } else if (!a.available && best.available) {
      because = a.rejected_because.empty() ? "must wait for capacity" : a.rejected_because;
      a.rejected_because.clear();
    } else if (options[i].prefer != options.front().prefer) {
      because = "less preferred by the class's `prefer` list";
    } else if (!fastest && a.cost != best.cost) {
      because = fmt::format("costs {} more ({})", usd(a.cost - best.cost), usd(a.cost));
    } else if (a.wait != best.wait) {
      because = fmt::format("waits {} longer", wait_text(a.wait - best.wait));
    } else if (a.cost != best.cost) {
      because = fmt::format("costs {} more ({})", usd(a.cost - best.cost), usd(a.cost));
    } else if (a.target.kind == Target::Kind::kPool &&
               node_vcpus(a.target) > node_vcpus(best.target)) {
      because = fmt::format("same cost on a larger node ({} vCPUs), which holds more quota",
                            node_vcpus(a.target));
    } else {
      because = "tied; chosen by name";
    }
    if (!a.available && !a.rejected_because.empty()) because += "; also " + a.rejected_because;
    a.rejected_because = because;
    d.alternatives.push_back(a);
  }
  for (auto& r : rejected) d.alternatives.push_back(r);
  return d;
}

}  // namespace codefleet
