// Outputs of `codefleet simulate` beyond the table: hourly samples as CSV (long format:
// strategy,time,metric,key,value) and a self-contained HTML report with inline SVG charts
// (cost per strategy, nodes over time, quota use against the limit) and, for LLM traces, the
// `llm` section's scenarios, with the notes printed under the table (the SLO verdict...) —
// no scripts, no network, opens offline.
#pragma once

#include <string>
#include <vector>

#include "sim/engine.h"
#include "sim/llm.h"

namespace codefleet {

std::string write_timeseries_csv(const std::vector<SimResult>& results);
std::string render_simulation_report(const std::string& fleet, const std::string& workload,
                                     const std::vector<SimResult>& results, bool prices_estimated,
                                     const LlmReplay* llm = nullptr,
                                     const std::vector<std::string>& notes = {});

}  // namespace codefleet
