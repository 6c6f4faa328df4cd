// Outputs of `codefleet simulate` beyond the table: hourly samples as CSV (long format:
// strategy,time,metric,key,value) and a self-contained HTML report with inline SVG charts
// (cost per strategy, nodes over time, quota use against the limit) — no scripts, no
// network, opens offline.
#pragma once

#include <string>
#include <vector>

#include "sim/engine.h"

namespace codefleet {

std::string write_timeseries_csv(const std::vector<SimResult>& results);
std::string render_simulation_report(const std::string& fleet, const std::string& workload,
                                     const std::vector<SimResult>& results, bool prices_estimated);

}  // namespace codefleet
