// `codefleet route SPEC --task JSON|FILE|@FILE`: the routing decision for one task against an
// empty fleet (nothing running, no quota in use), with every alternative and why it lost.
#include <iostream>

#include <fmt/format.h>

#include "cli/common.h"
#include "report/decision_json.h"
#include "report/table.h"
#include "routing/router.h"

namespace codefleet::cli {

int run_route(const CommonOptions& common, const RouteOptions& opts) {
  auto loaded = load_spec_and_catalog(common, opts.spec_file);
  if (!loaded) return kExitUsage;
  if (!passes_validation(common, *loaded, opts.spec_file)) return kExitFindings;
  const ParsedSpec* parsed = &loaded->parsed;
  auto given = text_or_file(opts.task, "--task");
  if (!given) {
    print_error(given.error());
    return kExitUsage;
  }
  auto task = parse_task_json(given->text, parsed->spec, given->source);
  if (!task) {
    print_error(task.error());
    return kExitUsage;
  }
  auto model = load_fleet_model(common, *loaded, opts.spec_file);
  if (!model) return kExitUsage;
  TimePoint now = SystemClock().now();
  if (opts.at) {
    auto at = parse_rfc3339(*opts.at);
    if (!at) {
      print_error(Error{at.error().code, at.error().message, "--at"});
      return kExitUsage;
    }
    now = *at;
  }
  EmptyFleetView view(*model);
  Decision d = route(*model, *task, view, now);
  if (common.output == "json") {
    std::cout << decision_json(d) << "\n";
  } else {
    std::cout << fmt::format("outcome: {}\n", outcome_name(d.outcome));
    if (d.outcome != Outcome::kInfeasible) {
      std::cout << fmt::format(
          "target:  {} {}{}\n", target_kind_name(d.target.kind), d.target.name,
          d.target.sku.empty()
              ? (d.target.deployment.empty() ? "" : " (" + d.target.deployment + ")")
              : " (" + d.target.sku + ")");
      std::cout << fmt::format("cost:    ${}{}\n", d.cost.to_string(6),
                               d.estimated ? " (estimated)" : "");
      std::cout << fmt::format(
          "wait:    {}\n",
          format_duration(std::chrono::duration_cast<std::chrono::seconds>(d.wait)));
    }
    std::cout << fmt::format("reason:  {}\n\n", d.reason);
    Table t({"TARGET", "KIND", "COST_USD", "WAIT", "REJECTED_BECAUSE"});
    t.align_right(2);
    for (const auto& a : d.alternatives) {
      t.add({a.target.name, target_kind_name(a.target.kind), a.cost.to_string(6),
             a.feasible ? format_duration(std::chrono::duration_cast<std::chrono::seconds>(a.wait))
                        : "-",
             a.rejected_because});
    }
    if (!t.empty()) std::cout << t.render();
  }
  return d.outcome == Outcome::kInfeasible ? kExitFindings : kExitOk;
}

}  // namespace codefleet::cli
