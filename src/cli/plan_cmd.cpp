// `codefleet plan SPEC`: nodes, quota and monthly cost per pool under each pricing option
// and scaling strategy, budget fit, and the seed check.
#include <iostream>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include "cli/common.h"
#include "plan/plan.h"

#include "report/plan_report.h"
#include "report/table.h"

namespace codefleet::cli {

using ojson = nlohmann::ordered_json;

int run_plan(const CommonOptions& common, const PlanOptions& opts) {
  auto loaded = load_spec_and_catalog(common, opts.spec_file);
  if (!loaded) return kExitUsage;
  if (!passes_validation(common, *loaded, opts.spec_file)) return kExitFindings;
  const Spec& spec = loaded->parsed.spec;
  auto model = load_fleet_model(common, *loaded, opts.spec_file);
  if (!model) return kExitUsage;
  auto loaded_workload =
      load_workload(spec, *model, opts.trace, opts.trace_format, opts.synthetic, {}, std::nullopt);
  if (!loaded_workload) return kExitUsage;
  const Workload& workload = *loaded_workload;
  SimOptions sim;
  sim.region.hours_per_month = spec.policies.hours_per_month;
  Duration horizon = std::chrono::ceil<std::chrono::days>(workload.span + std::chrono::seconds(1));
  sim.horizon = horizon;
  std::map<std::string, SimResult> sims;
  for (const auto& name : strategy_names()) {
    auto s = make_strategy(name, *model);
    sims[name] = simulate(*model, workload, **s, sim);
  }
  std::optional<std::string> fallback = common.price_fallback;
  if (!fallback && !spec.price_fallback_region.empty()) fallback = spec.price_fallback_region;
  Plan plan = make_plan(*model, loaded->catalog, sims, horizon, fallback);

  if (!opts.report.empty()) {
    std::ofstream html(opts.report);
    if (!html) {
      print_error(Error{ErrorCode::kInternal, "cannot write file", opts.report});
      return kExitUsage;
    }
    html << render_plan_report(spec, plan, sims);
  }
  if (common.output == "json") {
    auto money = [](Money m) { return ojson::parse(m.to_string(2)); };
    ojson j;
    j["spec"] = opts.spec_file;
    j["workload"] = workload.description;
    j["prices_estimated"] = plan.estimated;
    j["pools"] = ojson::array();
    for (const auto& p : plan.pools) {
      ojson monthly = ojson::object();
      for (const auto& [k, v] : p.monthly) monthly[k] = money(v);
      j["pools"].push_back(
          {{"name", p.name},
           {"sku", p.sku},
           {"nodes", {{"min", p.nodes_min}, {"typical", p.nodes_typical}, {"peak", p.nodes_peak}}},
           {"quota_vcpus", p.quota_vcpus},
           {"quota_family", p.quota_family},
           {"quota_limit_vcpus", p.family_limit ? ojson(*p.family_limit) : ojson(nullptr)},
           {"monthly_cost_usd", monthly},
           {"estimated", p.estimated}});
    }
    j["budget"] = {{"monthly_usd", plan.budget ? money(*plan.budget) : ojson(nullptr)},
                   {"projected_usd", money(plan.projected)},
                   {"projected_strategy", "codefleet"},
                   {"fits", plan.fits},
                   {"thresholds_pct", plan.thresholds_pct},
                   {"crosses_thresholds_pct", plan.crossed_pct},
                   {"runs_out_on_day",
                    plan.budget_runs_out_day ? ojson(*plan.budget_runs_out_day) : ojson(nullptr)}};
    j["seed_check"] = ojson::array();
    for (const auto& c : plan.seed_check) {
      j["seed_check"].push_back({{"item", c.item},
                                 {"stated", c.stated},
                                 {"computed", c.computed},
                                 {"note", c.note},
                                 {"consistent", c.consistent}});
    }
    j["advice"] = ojson::array();
    for (const auto& a : plan.advice) {
      j["advice"].push_back(
          {{"kind", a.kind},
           {"target", a.target},
           {"text", a.text},
           {"monthly_saving_usd", a.monthly_saving ? money(*a.monthly_saving) : ojson(nullptr)}});
    }
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{} — monthly plan ({} h), workload: {}{}\n\n", spec.name,
                           spec.policies.hours_per_month, workload.description,
                           plan.estimated ? "; prices estimated from a fallback region" : "");
  Table t({"POOL", "SKU", "NODES min/typ/peak", "QUOTA_VCPUS", "PAYG_24x7", "CODEFLEET",
           "CLUSTER_AUTOSCALER", "ALWAYS_ON"});
  for (size_t c = 3; c <= 7; ++c) t.align_right(c);
  for (const auto& p : plan.pools) {
    auto get = [&](const std::string& k) {
      for (const auto& [name, v] : p.monthly) {
        if (name == k) return v.to_string(2);
      }
      return std::string("-");
    };
    t.add({p.name, p.sku, fmt::format("{}/{}/{}", p.nodes_min, p.nodes_typical, p.nodes_peak),
           p.family_limit ? fmt::format("{} of {}", p.quota_vcpus, *p.family_limit)
                          : std::to_string(p.quota_vcpus),
           get("payg_peak_24x7"), get("codefleet"), get("cluster-autoscaler"), get("always-on")});
  }
  std::cout << t.render() << "\n";
  if (plan.budget) {
    std::cout << fmt::format(
        "Budget: ${} a month; projected ${} (codefleet strategy): {}\n\n",
        plan.budget->to_string(2), plan.projected.to_string(2),
        plan.fits ? "fits" : fmt::format("over, spent by day {}", *plan.budget_runs_out_day));
  }
  if (!plan.advice.empty()) {
    Table adv({"ADVICE", "TARGET", "SAVES_A_MONTH", "WHAT"});
    adv.align_right(2);
    for (const auto& a : plan.advice) {
      adv.add({a.kind, a.target, a.monthly_saving ? "$" + a.monthly_saving->to_string(2) : "-",
               a.text});
    }
    std::cout << adv.render() << "\n";
  }
  if (!plan.seed_check.empty()) {
    Table sc({"SEED CHECK", "STATED", "COMPUTED", "NOTE"});
    for (const auto& c : plan.seed_check) sc.add({c.item, c.stated, c.computed, c.note});
    std::cout << sc.render();
  }
  return kExitOk;
}

}  // namespace codefleet::cli
