#include "cloud/azure/operations.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace codefleet {

namespace {

using json = nlohmann::json;

Error bad_answer(const std::string& what) {
  return Error{ErrorCode::kUnavailable, "ARM answered " + what + " in an unexpected shape", ""};
}

}  // namespace

Result<std::vector<QuotaUsage>> compute_usages(ArmClient& arm, const std::string& subscription,
                                               const std::string& region) {
  auto items = arm.list(fmt::format(
      "/subscriptions/{}/providers/Microsoft.Compute/locations/{}/usages?api-version={}",
      percent_encode(subscription), percent_encode(region), kComputeApi));
  if (!items) return tl::unexpected(items.error());
  std::vector<QuotaUsage> out;
  for (const auto& text : *items) {
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_object()) {
      return tl::unexpected(bad_answer("a usage"));
    }
    QuotaUsage u;
    u.name = j["name"].value("value", "");
    u.display = j["name"].value("localizedValue", u.name);
    u.used = j.value("currentValue", int64_t{0});
    u.limit = j.value("limit", int64_t{0});
    out.push_back(std::move(u));
  }
  return out;
}

Result<VmStatus> vm_status(ArmClient& arm, const std::string& vm_id) {
  auto body = arm.get(fmt::format("{}/instanceView?api-version={}", vm_id, kComputeApi));
  if (!body) return tl::unexpected(body.error());
  auto j = json::parse(*body, nullptr, false);
  if (!j.is_object()) return tl::unexpected(bad_answer("an instance view"));
  VmStatus s;
  if (j.contains("statuses") && j["statuses"].is_array()) {
    for (const auto& st : j["statuses"]) {
      std::string code = st.is_object() ? st.value("code", "") : "";
      if (code.rfind("PowerState/", 0) == 0) s.power = code.substr(11);
      if (code.rfind("HibernationState/", 0) == 0) s.hibernation = code.substr(17);
    }
  }
  return s;
}

const char* vm_action_name(VmAction a) {
  switch (a) {
    case VmAction::kHibernate:
      return "hibernate";
    case VmAction::kDeallocate:
      return "deallocate";
    case VmAction::kStart:
      return "start";
  }
  return "?";
}

Result<void> vm_action(ArmClient& arm, const std::string& vm_id, VmAction action) {
  std::string path =
      action == VmAction::kStart ? fmt::format("{}/start?api-version={}", vm_id, kComputeApi)
      : action == VmAction::kHibernate
          ? fmt::format("{}/deallocate?hibernate=true&api-version={}", vm_id, kComputeApi)
          : fmt::format("{}/deallocate?api-version={}", vm_id, kComputeApi);
  auto r = arm.post(path, "", Mutation::kAction);
  if (!r) return tl::unexpected(r.error());
  return {};
}

namespace {
std::string agent_pool_path(const std::string& cluster_id, const std::string& pool) {
  return fmt::format("{}/agentPools/{}?api-version={}", cluster_id, percent_encode(pool), kAksApi);
}
}  // namespace

Result<int64_t> agent_pool_count(ArmClient& arm, const std::string& cluster_id,
                                 const std::string& pool) {
  auto body = arm.get(agent_pool_path(cluster_id, pool));
  if (!body) return tl::unexpected(body.error());
  auto j = json::parse(*body, nullptr, false);
  if (!j.is_object() || !j.contains("properties") || !j["properties"].is_object() ||
      !j["properties"].contains("count") || !j["properties"]["count"].is_number_integer() ||
      j["properties"]["count"].get<int64_t>() < 0) {
    return tl::unexpected(bad_answer("an agent pool with a node count"));
  }
  return j["properties"]["count"].get<int64_t>();
}

Result<std::string> update_agent_pool(ArmClient& arm, const std::string& cluster_id,
                                      const std::string& pool, const AgentPoolChange& change) {
  if (change.scale_down_mode && *change.scale_down_mode != "Delete" &&
      *change.scale_down_mode != "Deallocate") {
    return tl::unexpected(
        Error{ErrorCode::kInvalidInput, "must be Delete or Deallocate", "--scale-down-mode"});
  }
  std::string path = agent_pool_path(cluster_id, pool);
  auto current = arm.get(path);
  if (!current) return tl::unexpected(current.error());
  auto j = json::parse(*current, nullptr, false);
  if (!j.is_object() || !j.contains("properties") || !j["properties"].is_object()) {
    return tl::unexpected(bad_answer("an agent pool"));
  }
  auto& p = j["properties"];
  if (change.autoscale) p["enableAutoScaling"] = *change.autoscale;
  if (change.min_count) p["minCount"] = *change.min_count;
  if (change.max_count) p["maxCount"] = *change.max_count;
  if (change.scale_down_mode) p["scaleDownMode"] = *change.scale_down_mode;
  if (change.count) p["count"] = *change.count;
  if (p.value("enableAutoScaling", false)) {
    int64_t lo = p.value("minCount", int64_t{0}), hi = p.value("maxCount", int64_t{0});
    int64_t count = p.value("count", int64_t{0});
    if (lo > hi) {
      return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                  fmt::format("minCount {} is above maxCount {}", lo, hi),
                                  "--min"});
    }
    if (change.count && (count < lo || count > hi)) {
      return tl::unexpected(Error{ErrorCode::kInfeasible,
                                  fmt::format("pool {} autoscales between {} and {} nodes: {} is "
                                              "outside; change its min/max instead",
                                              pool, lo, hi, count),
                                  "--count"});
    }
  } else {
    p.erase("minCount");
    p.erase("maxCount");
  }
  // Read-only properties ARM rejects on PUT.
  for (const char* ro :
       {"provisioningState", "powerState", "nodeImageVersion", "currentOrchestratorVersion"}) {
    p.erase(ro);
  }
  json body{{"properties", p}};
  return arm.put(path, body.dump());
}

Result<std::string> scale_agent_pool(ArmClient& arm, const std::string& cluster_id,
                                     const std::string& pool, int64_t count) {
  AgentPoolChange change;
  change.count = count;
  return update_agent_pool(arm, cluster_id, pool, change);
}

Result<void> cluster_power(ArmClient& arm, const std::string& cluster_id, bool start) {
  auto r =
      arm.post(fmt::format("{}/{}?api-version={}", cluster_id, start ? "start" : "stop", kAksApi),
               "", Mutation::kAction);
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<std::vector<CostRow>> month_to_date_cost(ArmClient& arm, const std::string& scope) {
  json query{
      {"type", "ActualCost"},
      {"timeframe", "MonthToDate"},
      {"dataset",
       {{"granularity", "None"},
        {"aggregation", {{"totalCost", {{"name", "Cost"}, {"function", "Sum"}}}}},
        {"grouping", json::array({{{"type", "Dimension"}, {"name", "ResourceGroupName"}}})}}}};
  // A query only reads: safe to send again after a timeout.
  auto body = arm.post(
      fmt::format("{}/providers/Microsoft.CostManagement/query?api-version={}", scope, kCostApi),
      query.dump(), Mutation::kNone);
  if (!body) return tl::unexpected(body.error());
  auto j = json::parse(*body, nullptr, false);
  if (!j.is_object() || !j.contains("properties"))
    return tl::unexpected(bad_answer("a cost query"));
  const auto& props = j["properties"];
  // Columns name the row fields: find Cost (or PreTaxCost), ResourceGroupName, Currency.
  int cost_col = -1, group_col = -1, currency_col = -1;
  if (props.contains("columns") && props["columns"].is_array()) {
    for (size_t i = 0; i < props["columns"].size(); ++i) {
      std::string name = props["columns"][i].value("name", "");
      if (name == "Cost" || name == "PreTaxCost" || name == "CostUSD")
        cost_col = static_cast<int>(i);
      if (name == "ResourceGroupName" || name == "ResourceGroup") group_col = static_cast<int>(i);
      if (name == "Currency") currency_col = static_cast<int>(i);
    }
  }
  if (cost_col < 0) return tl::unexpected(bad_answer("a cost query (no Cost column)"));
  std::vector<CostRow> out;
  if (props.contains("rows") && props["rows"].is_array()) {
    for (const auto& row : props["rows"]) {
      if (!row.is_array() || static_cast<int>(row.size()) <= cost_col) continue;
      CostRow r;
      // Re-read the number from its own digits (never through a double).
      auto money = Money::parse(row[cost_col].dump());
      if (!money) return tl::unexpected(bad_answer("a cost value"));
      r.cost = *money;
      if (group_col >= 0 && row[group_col].is_string()) r.group = row[group_col];
      if (currency_col >= 0 && row[currency_col].is_string()) r.currency = row[currency_col];
      out.push_back(std::move(r));
    }
  }
  return out;
}

Result<std::string> put_budget(ArmClient& arm, const std::string& scope, const std::string& name,
                               Money amount, const std::vector<int64_t>& thresholds_pct,
                               const std::vector<std::string>& emails,
                               const std::string& start_date) {
  json notifications = json::object();
  for (int64_t t : thresholds_pct) {
    notifications[fmt::format("actual_{}", t)] = {{"enabled", true},
                                                  {"operator", "GreaterThanOrEqualTo"},
                                                  {"threshold", t},
                                                  {"thresholdType", "Actual"},
                                                  {"contactEmails", emails}};
  }
  json body{{"properties",
             {{"category", "Cost"},
              {"amount", json::parse(amount.to_string())},
              {"timeGrain", "Monthly"},
              {"timePeriod", {{"startDate", start_date}}},
              {"notifications", notifications}}}};
  return arm.put(fmt::format("{}/providers/Microsoft.Consumption/budgets/{}?api-version={}", scope,
                             percent_encode(name), kBudgetApi),
                 body.dump());
}

Result<std::string> get_budget(ArmClient& arm, const std::string& scope, const std::string& name) {
  return arm.get(fmt::format("{}/providers/Microsoft.Consumption/budgets/{}?api-version={}", scope,
                             percent_encode(name), kBudgetApi));
}

}  // namespace codefleet
