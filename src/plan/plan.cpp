#include "plan/plan.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/text.h"
#include "cost/cost.h"

namespace codefleet {

using namespace std::chrono;

namespace {

std::string usd(Money m, int decimals = 2) {
  std::string s = m.to_string(decimals);
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.erase(0, 1);
  size_t dot = s.find('.');
  std::string whole = s.substr(0, dot), rest = dot == std::string::npos ? "" : s.substr(dot);
  std::string grouped;  // thousands separators, for reading
  for (size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) grouped += ',';
    grouped += whole[i];
  }
  return (negative ? "-$" : "$") + grouped + rest;
}

std::string range(Money lo, Money hi, int decimals = 2) {
  return lo == hi ? usd(lo, decimals) : usd(lo, decimals) + "–" + usd(hi, decimals);
}

// "25.8×" or "0.04×" of b over a.
std::string times(Money a, Money b) {
  if (b.micros() == 0) return "∞×";
  double r = static_cast<double>(a.micros()) / static_cast<double>(b.micros());
  return r >= 10 ? fmt::format("{:.0f}×", r) : fmt::format("{:.2f}×", r);
}

}  // namespace

std::vector<SeedCheckItem> seed_check(const FleetModel& model) {
  std::vector<SeedCheckItem> out;
  const Spec& spec = *model.spec;
  int64_t hours = spec.policies.hours_per_month;
  for (const auto& a : spec.price_assumptions) {
    const PoolModel* pool = nullptr;
    for (const auto& p : model.pools) {
      if (a.sku.empty() ? iequals(p.series, a.series) : iequals(p.sku, a.sku)) {
        pool = &p;
        break;
      }
    }
    std::string target = a.sku.empty() ? a.series : a.sku;
    if (!pool) {
      out.push_back({target + " price", range(a.min_usd, a.max_usd, 4), "no pool uses it",
                     "not checked", true});
      continue;
    }
    bool per_vcpu = a.basis == "vcpu_hour";
    Money list =
        per_vcpu ? pool->price.usd_per_hour.mul_div(1, pool->node.vcpus) : pool->price.usd_per_hour;
    std::string where =
        fmt::format("{} in {}{}", pool->sku, pool->region,
                    pool->price.estimated ? ", estimated from " + pool->price.estimated_from : "");
    Money nearest = list < a.min_usd ? a.min_usd : (list > a.max_usd ? a.max_usd : list);
    bool within = list.micros() > 0 && (nearest - list).micros() * 100 <= list.micros() * 25 &&
                  (list - nearest).micros() * 100 <= list.micros() * 25;
    out.push_back({fmt::format("{} price per {}", target, per_vcpu ? "vCPU-hour" : "VM-hour"),
                   range(a.min_usd, a.max_usd, 4), fmt::format("{} ({})", usd(list, 4), where),
                   within ? "within 25% of the list price"
                          : fmt::format("{} the list price", times(nearest, list)),
                   within});
    if (!per_vcpu) continue;
    // The same rate over the family quota, as the requirements reason about it.
    const QuotaSpec* q = spec.find_quota(pool->region);
    std::optional<int64_t> quota;
    if (q) {
      for (const auto& [family, vcpus] : q->families) {
        if (iequals(family, pool->quota_family)) quota = vcpus;
      }
    }
    if (!quota) continue;
    Money stated_hour = a.max_usd * *quota;
    Money list_hour = pool->price.usd_per_hour.mul_div(*quota, pool->node.vcpus);
    out.push_back({fmt::format("{} at the full {} quota ({} vCPUs), per hour", target,
                               pool->quota_family, *quota),
                   usd(stated_hour), usd(list_hour),
                   fmt::format("{} the list price", times(stated_hour, list_hour)),
                   stated_hour == list_hour});
    Money stated_month = stated_hour * hours;
    Money list_month = list_hour * hours;
    out.push_back({fmt::format("{} at full quota, 24/7 for a month ({} h)", target, hours),
                   usd(stated_month), usd(list_month),
                   fmt::format("the assumed rate gives {} the list-price month",
                               times(stated_month, list_month)),
                   stated_month == list_month});
    if (a.stated_monthly) {
      auto [lo, hi] = *a.stated_monthly;
      bool own_inside = stated_month >= lo && stated_month <= hi;
      bool list_inside = list_month >= lo && list_month <= hi;
      out.push_back(
          {fmt::format("{} stated monthly cost", target), range(lo, hi),
           fmt::format("{} at the assumed rate; {} at list price", usd(stated_month),
                       usd(list_month)),
           fmt::format("the assumed rate gives {}–{} the stated figure{}; the list price is {} it",
                       times(stated_month, hi), times(stated_month, lo),
                       own_inside ? " (consistent)" : " (inconsistent)",
                       list_inside ? "inside" : "outside"),
           own_inside});
    }
  }
  return out;
}

std::vector<Advice> advise(const FleetModel& model, const Catalog& catalog,
                           const std::map<std::string, SimResult>& sims,
                           std::optional<std::string> fallback) {
  std::vector<Advice> out;
  const Spec& spec = *model.spec;
  int64_t hours = spec.policies.hours_per_month;
  const SimResult* ours = sims.count("codefleet") ? &sims.at("codefleet") : nullptr;
  const SimResult* always = sims.count("always-on") ? &sims.at("always-on") : nullptr;
  for (const auto& p : model.pools) {
    // Reservations: reserve the k-th node if at least k nodes run more than the break-even
    // share of the hours (a reservation bills every hour).
    for (auto [type, label] : {std::pair{PriceType::kReservation1y, "1-year"},
                               std::pair{PriceType::kReservation3y, "3-year"}}) {
      auto reserved = catalog.price(p.sku, p.region, type, fallback);
      auto payg = catalog.price(p.sku, p.region, PriceType::kPayg, fallback);
      if (!reserved || !payg || !ours || ours->samples.empty()) continue;
      int64_t be = reservation_break_even_ppm(payg->usd_per_hour, reserved->usd_per_hour);
      int64_t worth = 0;
      for (int64_t k = 1; k <= p.max_nodes; ++k) {
        int64_t at_least = 0;
        for (const auto& smp : ours->samples) {
          int64_t n = 0;
          auto it = smp.nodes.find(p.name);
          if (it != smp.nodes.end()) {
            for (const auto& [state, c] : it->second) n += state == "running" ? c : 0;
          }
          at_least += n >= k ? 1 : 0;
        }
        if (at_least * 1'000'000 > be * static_cast<int64_t>(ours->samples.size())) worth = k;
      }
      Money saving = (payg->usd_per_hour - reserved->usd_per_hour) * (worth * hours);
      out.push_back(
          {"reservation", p.name,
           fmt::format(
               "a {} reservation of {} pays above {:.1f}% use ({} an hour vs {} pay-as-you-go{}); "
               "reserve {} node{}",
               label, p.sku, be / 10'000.0, usd(reserved->usd_per_hour, 4),
               usd(payg->usd_per_hour, 4), reserved->estimated ? ", estimated" : "", worth,
               worth == 1 ? "" : "s"),
           worth > 0 ? std::optional<Money>(saving) : std::nullopt});
    }
    // Idle savings: what stopping idle nodes saves over the 24/7 fleet.
    if (ours && always) {
      auto a = always->cost_by_pool.find(p.name), o = ours->cost_by_pool.find(p.name);
      if (a != always->cost_by_pool.end() && o != ours->cost_by_pool.end() &&
          a->second > o->second) {
        std::string how = p.idle_action == IdleAction::kHibernate && p.can_hibernate ? "hibernating"
                          : p.idle_action == IdleAction::kDelete                     ? "deleting"
                                                                 : "deallocating";
        out.push_back({"idle-savings", p.name,
                       fmt::format("{} idle {} nodes instead of running {} around the clock", how,
                                   p.sku, p.max_nodes),
                       std::nullopt});
      }
    }
  }
  // Spot: preemptible classes can run on spot capacity.
  for (const auto& c : spec.classes) {
    if (c.kind != ClassKind::kCompute || !c.preemptible) continue;
    std::string pools;
    for (const auto& p : model.pools) {
      if (p.spot && p.serves(c.name) && c.resources.fits_in(p.node))
        pools += (pools.empty() ? "" : ", ") + p.name;
    }
    out.push_back({"spot", c.name,
                   pools.empty()
                       ? "preemptible: eligible for spot capacity, but no spot pool serves it"
                       : "preemptible: runs on the spot pool(s) " + pools,
                   std::nullopt});
  }
  // Self-hosting versus Foundry, per endpoint and deployment that serve a class in common.
  for (const auto& e : model.self_hosted) {
    if (e.pool < 0) continue;
    const PoolModel& p = model.pools[e.pool];
    for (const auto& d : model.deployments) {
      bool shared = std::any_of(e.classes.begin(), e.classes.end(), [&](const std::string& c) {
        return std::find(d.classes.begin(), d.classes.end(), c) != d.classes.end();
      });
      if (!shared) continue;
      auto be = self_hosting_break_even_tokens_per_hour(p.price.usd_per_hour, d.usd_per_1m_input,
                                                        d.usd_per_1m_output, 4, 1,
                                                        e.tokens_per_second * 3600);
      out.push_back(
          {"self-hosting", e.name + " vs " + d.name,
           be ? fmt::format(
                    "one {} node ({}/h) is cheaper than {} above {} tokens an hour (4:1 prompt to "
                    "completion; the node serves up to {})",
                    p.sku, usd(p.price.usd_per_hour), d.deployment, *be, e.tokens_per_second * 3600)
              : fmt::format("{} is cheaper than a {} node at any load the node can serve ({} "
                            "tokens an hour)",
                            d.deployment, p.sku, e.tokens_per_second * 3600),
           std::nullopt});
    }
  }
  // Monthly savings for idle advice, from the simulated months.
  if (ours && always) {
    int64_t horizon_ms = 0;
    for (const auto& smp : ours->samples) {
      horizon_ms = std::max<int64_t>(
          horizon_ms, duration_cast<milliseconds>(smp.at - ours->samples.front().at).count());
    }
    for (auto& a : out) {
      if (a.kind != "idle-savings" || horizon_ms <= 0) continue;
      Money diff = always->cost_by_pool.at(a.target) - ours->cost_by_pool.at(a.target);
      a.monthly_saving = diff.mul_div(hours * 3'600'000, horizon_ms);
    }
  }
  return out;
}

Plan make_plan(const FleetModel& model, const Catalog& catalog,
               const std::map<std::string, SimResult>& sims, Duration horizon,
               std::optional<std::string> fallback) {
  Plan plan;
  const Spec& spec = *model.spec;
  int64_t hours = spec.policies.hours_per_month;
  int64_t horizon_ms = std::max<int64_t>(1, duration_cast<milliseconds>(horizon).count());
  auto per_month = [&](Money m) { return m.mul_div(hours * 3'600'000, horizon_ms); };
  const SimResult* ours = sims.count("codefleet") ? &sims.at("codefleet") : nullptr;
  for (const auto& p : model.pools) {
    PoolPlan pp;
    pp.name = p.name;
    pp.sku = p.sku;
    pp.quota_family = p.quota_family;
    pp.quota_vcpus = p.max_nodes * p.node.vcpus;
    std::string which;
    pp.family_limit = quota_limit_for_node(model, p, &which);
    pp.estimated = p.price.estimated;
    plan.estimated = plan.estimated || p.price.estimated;
    // Nodes running or provisioning, hour by hour, under our strategy.
    std::vector<int64_t> counts;
    if (ours) {
      for (const auto& s : ours->samples) {
        int64_t n = 0;
        auto it = s.nodes.find(p.name);
        if (it != s.nodes.end()) {
          for (const auto& [state, c] : it->second)
            n += state == "deallocated" || state == "hibernated" ? 0 : c;
        }
        counts.push_back(n);
      }
    }
    if (counts.empty()) {
      pp.nodes_min = p.min_nodes;
      pp.nodes_typical = p.min_nodes;
      pp.nodes_peak = p.max_nodes;
    } else {
      std::sort(counts.begin(), counts.end());
      pp.nodes_min = counts.front();
      pp.nodes_typical = counts[counts.size() / 2];
      pp.nodes_peak = counts.back();
    }
    // Pricing options at peak size, around the clock.
    for (auto [type, label] : {std::pair{PriceType::kPayg, "payg_peak_24x7"},
                               std::pair{PriceType::kSpot, "spot_peak_24x7"},
                               std::pair{PriceType::kReservation1y, "reservation_1y_peak"},
                               std::pair{PriceType::kReservation3y, "reservation_3y_peak"}}) {
      auto price = catalog.price(p.sku, p.region, type, fallback);
      if (price)
        pp.monthly.push_back({label, monthly_cost(price->usd_per_hour, p.max_nodes, hours)});
    }
    for (const auto& [name, r] : sims) {
      auto it = r.cost_by_pool.find(p.name);
      pp.monthly.push_back({name, per_month(it == r.cost_by_pool.end() ? Money() : it->second)});
    }
    plan.pools.push_back(pp);
  }
  if (ours) plan.projected = per_month(ours->cost);
  for (const auto& b : spec.budgets) {
    if (b.scope != "subscription") continue;
    plan.budget = b.amount_usd;
    plan.thresholds_pct = b.thresholds_pct;
    plan.crossed_pct = evaluate_budget(b.amount_usd, b.thresholds_pct, plan.projected,
                                       std::chrono::hours(hours), std::chrono::hours(hours))
                           .crossed_pct;
    break;
  }
  if (plan.budget) {
    plan.fits = plan.projected <= *plan.budget;
    if (!plan.fits && plan.projected.micros() > 0) {
      // At an even daily rate over a 30-day month, the day the budget is spent.
      plan.budget_runs_out_day = 1 + plan.budget->micros() * 30 / plan.projected.micros();
    }
  }
  plan.seed_check = seed_check(model);
  plan.advice = advise(model, catalog, sims, fallback);
  return plan;
}

}  // namespace codefleet
