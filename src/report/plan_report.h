// The plan as a self-contained HTML page for people who skip tables: monthly cost by pool
// and option (stacked bars), nodes over a typical week, quota use against the limit, and
// the budget burn-down. Chart.js is inlined (bundled at build time from node_modules), so
// the page opens offline.
#pragma once

#include <map>
#include <string>

#include "plan/plan.h"

namespace codefleet {

std::string render_plan_report(const Spec& spec, const Plan& plan,
                               const std::map<std::string, SimResult>& sims);

}  // namespace codefleet
