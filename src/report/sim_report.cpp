#include "report/sim_report.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "report/html.h"

namespace codefleet {

namespace {

const char* kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                         "#59a14f", "#edc948", "#b07aa1"};

std::string esc(const std::string& s) { return html_escape(s); }

// A horizontal bar chart of one value per label.
std::string bar_chart(const std::string& title,
                      const std::vector<std::pair<std::string, double>>& bars,
                      const std::string& unit) {
  double max = 0;
  for (const auto& [l, v] : bars) max = std::max(max, v);
  int row = 28, left = 160, width = 520;
  int height = static_cast<int>(bars.size()) * row + 40;
  std::string svg = fmt::format(
      R"(<svg role="img" aria-label="{}" width="{}" height="{}" xmlns="http://www.w3.org/2000/svg">)",
      esc(title), left + width + 140, height);
  svg += fmt::format(R"(<text x="0" y="16" font-weight="bold">{}</text>)", esc(title));
  for (size_t i = 0; i < bars.size(); ++i) {
    double w = max > 0 ? bars[i].second / max * width : 0;
    int y = 30 + static_cast<int>(i) * row;
    svg += fmt::format(
        R"(<text x="0" y="{}">{}</text><rect x="{}" y="{}" width="{:.1f}" height="18" fill="{}"/>)"
        R"(<text x="{:.1f}" y="{}">{}{:.2f}</text>)",
        y + 14, esc(bars[i].first), left, y, w, kColors[i % 7], left + w + 6, y + 14, unit,
        bars[i].second);
  }
  return svg + "</svg>";
}

// Lines over time, one per series, with an optional horizontal limit.
std::string line_chart(
    const std::string& title,
    const std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>& series,
    double limit, const std::string& y_label) {
  double max_x = 1, max_y = std::max(1.0, limit);
  for (const auto& [n, pts] : series) {
    for (const auto& [x, y] : pts) {
      max_x = std::max(max_x, x);
      max_y = std::max(max_y, y);
    }
  }
  int left = 60, top = 30, w = 640, h = 220;
  std::string svg = fmt::format(
      R"(<svg role="img" aria-label="{}" width="{}" height="{}" xmlns="http://www.w3.org/2000/svg">)",
      esc(title), left + w + 180, top + h + 40);
  svg += fmt::format(R"(<text x="0" y="16" font-weight="bold">{}</text>)", esc(title));
  svg += fmt::format(
      R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#999"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#999"/>)",
      left, top, top + h, left + w);
  svg += fmt::format(
      R"(<text x="0" y="{}">{:.0f}</text><text x="0" y="{}">0</text><text x="{}" y="{}">{} (hours)</text>)",
      top + 10, max_y, top + h, left + w - 120, top + h + 30, esc(y_label));
  if (limit > 0) {
    double y = top + h - limit / max_y * h;
    svg += fmt::format(
        R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#d00" stroke-dasharray="6 4"/>)"
        R"(<text x="{}" y="{:.1f}" fill="#d00">limit {:.0f}</text>)",
        left, y, left + w, y, left + w + 6, y + 4, limit);
  }
  for (size_t i = 0; i < series.size(); ++i) {
    std::string pts;
    for (const auto& [x, y] : series[i].second) {
      pts += fmt::format("{:.1f},{:.1f} ", left + x / max_x * w, top + h - y / max_y * h);
    }
    svg += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>)",
                       kColors[i % 7], pts);
    svg += fmt::format(R"(<text x="{}" y="{}" fill="{}">{}</text>)", left + w + 6,
                       top + 20 + static_cast<int>(i) * 16, kColors[i % 7], esc(series[i].first));
  }
  return svg + "</svg>";
}

}  // namespace

std::string write_timeseries_csv(const std::vector<SimResult>& results) {
  std::string out = "strategy,time,metric,key,value\n";
  for (const auto& r : results) {
    for (const auto& s : r.samples) {
      std::string t = format_rfc3339(s.at);
      for (const auto& [pool, states] : s.nodes) {
        for (const auto& [state, n] : states)
          out += fmt::format("{},{},nodes,{}/{},{}\n", r.strategy, t, pool, state, n);
      }
      for (const auto& [family, v] : s.quota_vcpus)
        out += fmt::format("{},{},quota_vcpus,{},{}\n", r.strategy, t, family, v);
      out += fmt::format("{},{},cost_usd,total,{}\n", r.strategy, t, s.cost_so_far.to_string(2));
      out += fmt::format("{},{},pending_tasks,total,{}\n", r.strategy, t, s.pending);
    }
  }
  return out;
}

std::string render_simulation_report(const std::string& fleet, const std::string& workload,
                                     const std::vector<SimResult>& results, bool prices_estimated,
                                     const LlmReplay* llm, const std::vector<std::string>& notes) {
  std::string html =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>CodeFleet simulation: " +
      esc(fleet) +
      "</title><style>body{font-family:sans-serif;margin:24px;max-width:1000px}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
      "td:first-child,th:first-child{text-align:left}svg{display:block;margin:16px "
      "0}</style></head><body>";
  html += "<h1>Simulation: " + esc(fleet) + "</h1><p>Workload: " + esc(workload) + "</p>";
  if (prices_estimated)
    html += "<p><strong>Prices are estimates</strong> from a fallback region's list prices.</p>";
  std::vector<std::pair<std::string, double>> cost;
  for (const auto& r : results) cost.push_back({r.strategy, r.cost.to_double_for_display()});
  html += bar_chart("Cost per strategy (USD)", cost, "$");
  html +=
      "<table><tr><th>strategy</th><th>cost USD</th><th>node-hours</th><th>wait p50 s</th><th>wait "
      "p95 s</th>"
      "<th>wait p99 s</th><th>deadline "
      "misses</th><th>completed</th><th>rejected</th><th>pending</th></tr>";
  for (const auto& r : results) {
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{:.1f}</td><td>{:.0f}</td><td>{:.0f}</td><td>{:.0f}</"
        "td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(r.strategy), r.cost.to_string(2), r.node_hours, r.wait_p50_ms / 1000.0,
        r.wait_p95_ms / 1000.0, r.wait_p99_ms / 1000.0, r.deadline_misses, r.completed, r.rejected,
        r.pending);
  }
  html += "</table>";
  for (const auto& n : notes) html += "<p>" + esc(n) + "</p>";
  // Nodes over time (all pools, running or provisioning).
  std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> nodes;
  for (const auto& r : results) {
    std::vector<std::pair<double, double>> pts;
    if (r.samples.empty()) continue;
    TimePoint t0 = r.samples.front().at;
    for (const auto& s : r.samples) {
      double n = 0;
      for (const auto& [pool, states] : s.nodes) {
        for (const auto& [state, c] : states)
          n += state == "deallocated" || state == "hibernated" ? 0 : c;
      }
      pts.push_back({std::chrono::duration<double, std::ratio<3600>>(s.at - t0).count(), n});
    }
    nodes.push_back({r.strategy, pts});
  }
  html += line_chart("Nodes running or provisioning", nodes, 0, "time");
  // Quota use against the limit, for each family with a limit.
  std::map<std::string, int64_t> limits =
      results.empty() ? std::map<std::string, int64_t>{} : results.front().quota_limits;
  for (const auto& [family, limit] : limits) {
    if (family == "regional") continue;
    std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> q;
    bool any = false;
    for (const auto& r : results) {
      std::vector<std::pair<double, double>> pts;
      if (r.samples.empty()) continue;
      TimePoint t0 = r.samples.front().at;
      for (const auto& s : r.samples) {
        auto it = s.quota_vcpus.find(family);
        double v = it == s.quota_vcpus.end() ? 0 : static_cast<double>(it->second);
        any = any || v > 0;
        pts.push_back({std::chrono::duration<double, std::ratio<3600>>(s.at - t0).count(), v});
      }
      q.push_back({r.strategy, pts});
    }
    if (any)
      html += line_chart("Quota in use: " + family + " (vCPUs, stopped VMs included)", q,
                         static_cast<double>(limit), "time");
  }
  if (llm && !llm->scenarios.empty()) {
    html += fmt::format(
        "<h2>LLM calls as class {}</h2><p>{} calls, {} prompt and {} completion tokens, "
        "routed three ways.</p>",
        esc(llm->class_name), llm->calls, llm->prompt_tokens, llm->completion_tokens);
    html +=
        "<table><tr><th>scenario</th><th>cost USD</th><th>GPU node-hours</th><th>wait p50 "
        "s</th><th>wait p95 s</th><th>wait p99 s</th><th>unserved</th></tr>";
    for (const auto& s : llm->scenarios) {
      html += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{:.1f}</td><td>{:.1f}</td><td>{:.1f}</td><td>{:.1f}</"
          "td><td>{}</td></tr>",
          esc(s.name), s.cost.to_string(2), s.gpu_node_hours(), s.wait_p50_ms / 1000.0,
          s.wait_p95_ms / 1000.0, s.wait_p99_ms / 1000.0, s.unserved);
    }
    html += "</table>";
  }
  html +=
      "<p>Generated by codefleet simulate. Costs are list prices; deallocated and hibernated VMs "
      "pay for their "
      "OS disks only and keep holding quota.</p></body></html>\n";
  return html;
}

}  // namespace codefleet
