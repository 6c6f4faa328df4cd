// `codefleet azure …`: quota, VM hibernate/deallocate/start, AKS pool scaling and
// month-to-date cost, straight against Azure Resource Manager; and `codefleet catalog
// refresh`, which pages through the Retail Prices API into a catalog overlay.
// Exit codes: 0 done, 1 Azure refused (infeasible), 3 gave up (unavailable: throttled,
// outage, outcome unknown), 2 usage (bad flags, no credentials).
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/import.h"
#include "cli/common.h"
#include "cloud/azure/operations.h"
#include "report/table.h"

namespace codefleet::cli {

namespace {

constexpr int kExitGaveUp = 3;

int exit_for(const Error& e) {
  print_error(e);
  switch (e.code) {
    case ErrorCode::kInfeasible:
    case ErrorCode::kNotFound:
      return kExitFindings;
    case ErrorCode::kUnavailable:
      return kExitGaveUp;
    case ErrorCode::kInvalidInput:
    case ErrorCode::kInternal:
      return kExitUsage;
  }
  return kExitUsage;
}

struct Azure {
  SystemClock clock;
  std::unique_ptr<AzureCredentials> credentials;
  std::unique_ptr<ArmClient> arm;
};

std::unique_ptr<Azure> connect(const AzureOptions& o) {
  auto a = std::make_unique<Azure>();
  AzureAuthConfig auth = AzureAuthConfig::from_environment();
  if (!o.login_endpoint.empty()) auth.login_endpoint = o.login_endpoint;
  a->credentials = std::make_unique<AzureCredentials>(auth, a->clock);
  ArmOptions ao;
  ao.endpoint = o.arm_endpoint;
  ao.dry_run = o.dry_run;
  ao.print = [](const std::string& text) { std::cout << text << "\n"; };
  if (o.verbose) ao.log = [](const std::string& line) { std::cerr << line << "\n"; };
  a->arm = std::make_unique<ArmClient>(ao, *a->credentials);
  return a;
}

}  // namespace

int run_azure_quota(const CommonOptions& common, const AzureOptions& o) {
  auto az = connect(o);
  auto usages = compute_usages(*az->arm, o.subscription, o.region);
  if (!usages) return exit_for(usages.error());
  if (o.dry_run) return kExitOk;
  if (common.output == "json") {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& u : *usages) {
      j.push_back({{"name", u.name}, {"display", u.display}, {"used", u.used}, {"limit", u.limit}});
    }
    std::cout << nlohmann::ordered_json{{"subscription", o.subscription},
                                        {"region", o.region},
                                        {"usages", j}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  Table t({"QUOTA", "USED", "LIMIT", "USE"});
  t.align_right(1);
  t.align_right(2);
  t.align_right(3);
  for (const auto& u : *usages) {
    if (u.limit == 0 && u.used == 0) continue;
    t.add({u.name, std::to_string(u.used), std::to_string(u.limit),
           u.limit > 0 ? fmt::format("{}%", u.used * 100 / u.limit) : "-"});
  }
  std::cout << t.render();
  return kExitOk;
}

int run_azure_vm(const CommonOptions& common, const AzureOptions& o) {
  VmAction action = o.action == "hibernate"    ? VmAction::kHibernate
                    : o.action == "deallocate" ? VmAction::kDeallocate
                                               : VmAction::kStart;
  auto az = connect(o);
  auto r = vm_action(*az->arm, o.resource_id, action);
  if (!r) return exit_for(r.error());
  if (o.dry_run) return kExitOk;
  auto s = vm_status(*az->arm, o.resource_id);
  std::string power = s ? s->power : "unknown", hib = s ? s->hibernation : "";
  if (common.output == "json") {
    std::cout << nlohmann::json{{"vm", o.resource_id},
                                {"action", vm_action_name(action)},
                                {"power_state", power},
                                {"hibernation_state", hib}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << fmt::format("{}: done; power state {}{}\n", vm_action_name(action), power,
                             hib.empty() ? "" : ", hibernation state " + hib);
  }
  return kExitOk;
}

int run_azure_pool_scale(const CommonOptions& common, const AzureOptions& o) {
  AgentPoolChange change{o.count, o.autoscale, o.min_count, o.max_count, o.scale_down_mode};
  if (!change.count && !change.autoscale && !change.min_count && !change.max_count &&
      !change.scale_down_mode) {
    print_error("nothing to change: give --count, --autoscale, --min, --max or --scale-down-mode");
    return kExitUsage;
  }
  for (auto [flag, v] : {std::pair{"--count", o.count}, std::pair{"--min", o.min_count},
                         std::pair{"--max", o.max_count}}) {
    if (v && (*v < 0 || *v > 1000)) {
      print_error(Error{ErrorCode::kInvalidInput, "must be 0 to 1000", flag});
      return kExitUsage;
    }
  }
  auto az = connect(o);
  auto r = update_agent_pool(*az->arm, o.resource_id, o.pool, change);
  if (!r) return exit_for(r.error());
  if (o.dry_run) return kExitOk;
  if (common.output == "json") {
    std::cout << *r << "\n";
    return kExitOk;
  }
  auto j = nlohmann::json::parse(*r, nullptr, false);
  auto props =
      j.is_object() && j.contains("properties") ? j["properties"] : nlohmann::json::object();
  std::cout << fmt::format(
      "pool {}: {} nodes{}{}\n", o.pool, props.value("count", int64_t{0}),
      props.value("enableAutoScaling", false)
          ? fmt::format(", autoscaling {}–{}", props.value("minCount", 0),
                        props.value("maxCount", 0))
          : "",
      props.contains("scaleDownMode") ? ", scale-down " + props.value("scaleDownMode", "") : "");
  return kExitOk;
}

int run_azure_cluster(const CommonOptions& common, const AzureOptions& o) {
  (void)common;
  auto az = connect(o);
  auto r = cluster_power(*az->arm, o.resource_id, o.action == "start");
  if (!r) return exit_for(r.error());
  if (!o.dry_run) std::cout << fmt::format("cluster {}: {} done\n", o.resource_id, o.action);
  return kExitOk;
}

int run_azure_cost(const CommonOptions& common, const AzureOptions& o) {
  auto az = connect(o);
  auto rows = month_to_date_cost(*az->arm, "/subscriptions/" + o.subscription);
  if (!rows) return exit_for(rows.error());
  if (o.dry_run) return kExitOk;
  Money total;
  for (const auto& r : *rows) total = total + r.cost;
  std::string currency = rows->empty() ? "USD" : rows->front().currency;
  if (common.output == "json") {
    nlohmann::ordered_json groups = nlohmann::ordered_json::array();
    for (const auto& r : *rows) {
      groups.push_back({{"resource_group", r.group},
                        {"cost", nlohmann::ordered_json::parse(r.cost.to_string())},
                        {"currency", r.currency}});
    }
    std::cout << nlohmann::ordered_json{{"subscription", o.subscription},
                                        {"timeframe", "MonthToDate"},
                                        {"total", nlohmann::ordered_json::parse(total.to_string())},
                                        {"currency", currency},
                                        {"by_resource_group", groups},
                                        {"source", "Azure Cost Management query (ActualCost)"}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  Table t({"RESOURCE_GROUP", "COST", "CURRENCY"});
  t.align_right(1);
  for (const auto& r : *rows) t.add({r.group, r.cost.to_string(2), r.currency});
  t.add({"total", total.to_string(2), currency});
  std::cout << t.render();
  return kExitOk;
}

int run_catalog_refresh(const CommonOptions& common, const RefreshOptions& o) {
  if (common.catalog_dirs.size() != 1) {
    print_error("refresh writes one overlay: pass exactly one --catalog DIR");
    return kExitUsage;
  }
  // The Retail Prices API is anonymous: no credentials, no ARM client.
  std::string filter =
      fmt::format("serviceName eq 'Virtual Machines' and armRegionName eq '{}'", o.region);
  if (!o.sku.empty()) filter += fmt::format(" and armSkuName eq '{}'", o.sku);
  std::string url = o.endpoint + "/api/retail/prices?$filter=" + percent_encode(filter);
  HttpClient http;
  std::vector<InputFile> pages;
  for (int page = 0; page < 1000 && !url.empty(); ++page) {
    auto r =
        http.send({"GET", url, {{"Accept", "application/json"}}, "", std::chrono::seconds(60)});
    if (!r) return exit_for(r.error().error);
    if (r->status != 200) {
      return exit_for(Error{
          r->status == 429 || r->status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInfeasible,
          fmt::format("the Retail Prices API answered {}", r->status), url});
    }
    pages.push_back({fmt::format("{} page {}", o.endpoint, page + 1), r->body});
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    url = j.is_object() && j.contains("NextPageLink") && j["NextPageLink"].is_string()
              ? j["NextPageLink"].get<std::string>()
              : "";
  }
  auto imp = import_retail_price_pages(pages, today_utc());
  if (!imp) return exit_for(imp.error());
  if (auto ok = write_overlay(common.catalog_dirs.front(), Overlay{{}, imp->prices, {}}); !ok) {
    return exit_for(ok.error());
  }
  std::cout << fmt::format("refreshed {} price{} for {} from {} page{} into {}\n",
                           imp->prices.size(), imp->prices.size() == 1 ? "" : "s", o.region,
                           imp->pages, imp->pages == 1 ? "" : "s", common.catalog_dirs.front());
  return kExitOk;
}

}  // namespace codefleet::cli
