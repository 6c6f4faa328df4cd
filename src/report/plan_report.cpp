#include "report/plan_report.h"

#include <set>

#include <nlohmann/json.hpp>

#include "report/html.h"

namespace codefleet {

extern const char* const kChartJs;

namespace {

using json = nlohmann::json;

std::string esc(const std::string& s) { return html_escape(s); }

// JSON safe to place inside a <script> element.
std::string script_json(const json& j) {
  std::string s = j.dump();
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "\\u003c";
    else
      out += c;
  }
  return out;
}

double usd(Money m) { return m.to_double_for_display(); }

}  // namespace

std::string render_plan_report(const Spec& spec, const Plan& plan,
                               const std::map<std::string, SimResult>& sims) {
  // 1. Monthly cost by option (x) and pool (stack).
  std::vector<std::string> options;
  for (const auto& p : plan.pools) {
    for (const auto& [k, v] : p.monthly) {
      if (std::find(options.begin(), options.end(), k) == options.end()) options.push_back(k);
    }
  }
  json cost = {{"labels", options}, {"datasets", json::array()}};
  for (const auto& p : plan.pools) {
    json data = json::array();
    for (const auto& o : options) {
      double v = 0;
      for (const auto& [k, m] : p.monthly) {
        if (k == o) v = usd(m);
      }
      data.push_back(v);
    }
    cost["datasets"].push_back({{"label", p.name}, {"data", data}});
  }
  // 2 and 3. Nodes and quota hour by hour over the first week, under our strategy.
  json nodes = {{"labels", json::array()}, {"datasets", json::array()}};
  json quota = {{"labels", json::array()}, {"datasets", json::array()}};
  auto it = sims.find("codefleet");
  if (it != sims.end() && !it->second.samples.empty()) {
    const auto& samples = it->second.samples;
    size_t n = std::min<size_t>(samples.size(), 7 * 24 + 1);
    for (size_t i = 0; i < n; ++i) {
      nodes["labels"].push_back(static_cast<int64_t>(i));
      quota["labels"].push_back(static_cast<int64_t>(i));
    }
    for (const auto& p : plan.pools) {
      json data = json::array();
      for (size_t i = 0; i < n; ++i) {
        int64_t c = 0;
        auto pit = samples[i].nodes.find(p.name);
        if (pit != samples[i].nodes.end()) {
          for (const auto& [state, k] : pit->second)
            c += state == "deallocated" || state == "hibernated" ? 0 : k;
        }
        data.push_back(c);
      }
      nodes["datasets"].push_back({{"label", p.name}, {"data", data}});
    }
    std::set<std::string> families;
    for (size_t i = 0; i < n; ++i) {
      for (const auto& [f, v] : samples[i].quota_vcpus) families.insert(f);
    }
    for (const auto& f : families) {
      json data = json::array();
      for (size_t i = 0; i < n; ++i) {
        auto q = samples[i].quota_vcpus.find(f);
        data.push_back(q == samples[i].quota_vcpus.end() ? 0 : q->second);
      }
      quota["datasets"].push_back({{"label", f + " in use"}, {"data", data}});
      auto limit = it->second.quota_limits.find(f);
      if (limit != it->second.quota_limits.end()) {
        quota["datasets"].push_back({{"label", f + " limit"},
                                     {"data", json::array()},
                                     {"limit", limit->second},
                                     {"borderDash", {6, 4}}});
        for (size_t i = 0; i < n; ++i) quota["datasets"].back()["data"].push_back(limit->second);
      }
    }
  }
  // 4. Budget burn-down over a 30-day month: what is left under each strategy's run rate.
  json burn = {{"labels", json::array()}, {"datasets", json::array()}};
  double budget = plan.budget ? usd(*plan.budget) : 0;
  for (int d = 0; d <= 30; ++d) burn["labels"].push_back(d);
  for (const char* name : {"codefleet", "cluster-autoscaler", "always-on"}) {
    double monthly = 0;
    for (const auto& p : plan.pools) {
      for (const auto& [k, m] : p.monthly) {
        if (k == name) monthly += usd(m);
      }
    }
    json data = json::array();
    for (int d = 0; d <= 30; ++d) data.push_back(budget - monthly * d / 30.0);
    burn["datasets"].push_back({{"label", std::string(name) + ": budget left"}, {"data", data}});
  }

  std::string html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>CodeFleet plan: " +
                     esc(spec.name) +
                     "</title><style>body{font-family:sans-serif;margin:24px;max-width:1100px}"
                     ".chart{position:relative;height:360px;margin:24px 0}"
                     "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px "
                     "8px}</style></head><body>";
  html += "<h1>Plan: " + esc(spec.name) + "</h1>";
  if (plan.estimated)
    html += "<p><strong>Prices are estimates</strong> from a fallback region's list prices.</p>";
  if (plan.budget) {
    html += "<p>Budget $" + plan.budget->to_string(2) + " a month; projected $" +
            plan.projected.to_string(2) + " under the codefleet strategy: <strong>" +
            (plan.fits ? "fits" : "over budget") + "</strong>.</p>";
  }
  html +=
      "<h2>Monthly cost by pool and option</h2><div class=\"chart\"><canvas "
      "id=\"cost\"></canvas></div>";
  html +=
      "<h2>Nodes running over a typical week (codefleet)</h2><div class=\"chart\"><canvas "
      "id=\"nodes\"></canvas></div>";
  html +=
      "<h2>Quota in use against the limit (stopped VMs included)</h2><div class=\"chart\"><canvas "
      "id=\"quota\"></canvas></div>";
  html += "<h2>Budget burn-down</h2><div class=\"chart\"><canvas id=\"burn\"></canvas></div>";
  if (!plan.seed_check.empty()) {
    html +=
        "<h2>Seed "
        "check</h2><table><tr><th>item</th><th>stated</th><th>computed</th><th>note</th></tr>";
    for (const auto& c : plan.seed_check) {
      html += "<tr><td>" + esc(c.item) + "</td><td>" + esc(c.stated) + "</td><td>" +
              esc(c.computed) + "</td><td>" + esc(c.note) + "</td></tr>";
    }
    html += "</table>";
  }
  html += "<script>";
  html += kChartJs;
  html += "</script><script>\nconst DATA = ";
  html += script_json({{"cost", cost}, {"nodes", nodes}, {"quota", quota}, {"burn", burn}});
  html += R"JS(;
const base = {animation: false, responsive: true, maintainAspectRatio: false};
new Chart(document.getElementById('cost'), {type: 'bar', data: DATA.cost,
  options: {...base, scales: {x: {stacked: true}, y: {stacked: true, title: {display: true, text: 'USD a month'}}}}});
new Chart(document.getElementById('nodes'), {type: 'line', data: DATA.nodes,
  options: {...base, elements: {point: {radius: 0}}, scales: {x: {title: {display: true, text: 'hour'}},
    y: {title: {display: true, text: 'nodes'}}}}});
new Chart(document.getElementById('quota'), {type: 'line', data: DATA.quota,
  options: {...base, elements: {point: {radius: 0}}, scales: {x: {title: {display: true, text: 'hour'}},
    y: {title: {display: true, text: 'vCPUs'}}}}});
new Chart(document.getElementById('burn'), {type: 'line', data: DATA.burn,
  options: {...base, scales: {x: {title: {display: true, text: 'day of the month'}},
    y: {title: {display: true, text: 'USD left'}}}}});
</script></body></html>
)JS";
  return html;
}

}  // namespace codefleet
