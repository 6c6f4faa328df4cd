// Every validation rule: a spec that trips it and the base spec, which does not.
#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "spec_fixture.h"

namespace codefleet {
namespace {

using testing_support::SpecBuilder;
using testing_support::test_catalog;

std::vector<Finding> run(const std::string& yaml, const ValidateOptions& opts = {}) {
  auto parsed = parse_spec(yaml, "test.yaml");
  EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().describe());
  if (!parsed) return {};
  return validate_spec(*parsed, test_catalog(), opts);
}

std::string dump(const std::vector<Finding>& fs) {
  std::string out;
  for (const auto& f : fs) out += f.rule + " @ " + f.path + ": " + f.message + "\n";
  return out;
}

TEST(Rules, BaseSpecIsClean) {
  auto findings = run(SpecBuilder().text());
  EXPECT_TRUE(findings.empty()) << dump(findings);
}

struct RuleCase {
  std::string name;
  std::string rule;
  Severity severity;
  std::vector<std::pair<std::string, std::string>> edits;
  std::string append;
  std::string expect_path;  // the finding's YAML path
};

class RuleTrips : public testing::TestWithParam<RuleCase> {};

TEST_P(RuleTrips, ReportsWithPositionAndFix) {
  const RuleCase& c = GetParam();
  SpecBuilder b;
  for (const auto& [from, to] : c.edits) b.replace(from, to);
  b.append(c.append);
  auto findings = run(b.text());
  auto it = std::find_if(findings.begin(), findings.end(),
                         [&](const Finding& f) { return f.rule == c.rule; });
  ASSERT_NE(it, findings.end()) << "expected " << c.rule << ", got:\n" << dump(findings);
  EXPECT_EQ(it->severity, c.severity);
  EXPECT_EQ(it->path, c.expect_path) << dump(findings);
  EXPECT_GT(it->pos.line, 0);
  EXPECT_GT(it->pos.column, 0);
  EXPECT_FALSE(it->message.empty());
  EXPECT_FALSE(it->suggestion.empty()) << it->rule;
}

const std::string kPool0 = "environments[0].pools[0]";
const std::string kPool1 = "environments[0].pools[1]";

INSTANTIATE_TEST_SUITE_P(
    All, RuleTrips,
    testing::Values(RuleCase{"sku_unknown",
                             "sku-unknown",
                             Severity::kError,
                             {{"sku: Standard_D4s_v5", "sku: Standard_D4s_v9"}},
                             "",
                             kPool1 + ".sku"},
                    RuleCase{"sku_not_in_region",
                             "sku-not-in-region",
                             Severity::kError,
                             {{"sku: Standard_D4s_v5", "sku: Standard_D8s_v5"}},
                             "",
                             kPool1 + ".sku"},
                    RuleCase{"sku_restricted",
                             "sku-not-in-region",
                             Severity::kError,
                             {{"sku: Standard_D4s_v5", "sku: Standard_D16s_v5"}},
                             "",
                             kPool1 + ".sku"},
                    RuleCase{"price_unavailable",
                             "price-unavailable",
                             Severity::kWarning,
                             {{"regions: [eastus]", "regions: [westeurope]"},
                              {"region: eastus\n    pools", "region: westeurope\n    pools"},
                              {"region: eastus\n    total", "region: westeurope\n    total"}},
                             "",
                             kPool0 + ".sku"},
                    RuleCase{"quota_pool",
                             "quota-exceeded",
                             Severity::kError,
                             {{"max_nodes: 2", "max_nodes: 3"}},
                             "",
                             kPool0 + ".max_nodes"},
                    RuleCase{"quota_regional",
                             "quota-exceeded",
                             Severity::kError,
                             {{"total_vcpus: 1000", "total_vcpus: 100"}},
                             "",
                             "quotas[0].total_vcpus"},
                    RuleCase{
                        "quota_spot",
                        "quota-exceeded",
                        Severity::kError,
                        {{"spot_vcpus: 100", "spot_vcpus: 8"},
                         {"idle: {action: hibernate", "spot: true\n        idle: {action: delete"}},
                        "",
                        "quotas[0].spot_vcpus"},
                    RuleCase{"quota_family_sum",
                             "quota-exceeded",
                             Severity::kError,
                             {{"        classes: [web]\n",
                               "        classes: [web]\n      - {name: gpu2, sku: "
                               "Standard_NC40ads_H100_v5, max_nodes: 1}\n"}},
                             "",
                             "quotas[0].families.StandardNCadsH100v5Family"},
                    RuleCase{"quota_undeclared",
                             "quota-undeclared",
                             Severity::kWarning,
                             {{", standardDSv5Family: 200", ""}},
                             "",
                             kPool1 + ".sku"},
                    RuleCase{"hibernation_unsupported",
                             "hibernation-unsupported",
                             Severity::kError,
                             {{"idle: {action: deallocate", "idle: {action: hibernate"}},
                             "",
                             kPool0 + ".idle.action"},
                    RuleCase{"hibernation_required",
                             "hibernation-unsupported",
                             Severity::kError,
                             {},
                             "policies:\n  require_hibernation: true\n",
                             kPool0 + ".sku"},
                    RuleCase{"hibernation_ram_limit",
                             "hibernation-unsupported",
                             Severity::kError,
                             {{"sku: Standard_D4s_v5", "sku: Standard_D32s_v5"},
                              {"standardDSv5Family: 200", "standardDSv5Family: 400"}},
                             "",
                             kPool1 + ".idle.action"},
                    RuleCase{"hibernation_spot",
                             "hibernation-conflict",
                             Severity::kError,
                             {{"min_nodes: 1", "min_nodes: 1\n        spot: true"}},
                             "",
                             kPool1 + ".spot"},
                    RuleCase{"hibernation_backup",
                             "hibernation-conflict",
                             Severity::kError,
                             {{"min_nodes: 1", "min_nodes: 1\n        backup: true"}},
                             "",
                             kPool1 + ".backup"},
                    RuleCase{"hibernation_availability_set",
                             "hibernation-conflict",
                             Severity::kError,
                             {{"min_nodes: 1", "min_nodes: 1\n        availability_set: true"}},
                             "",
                             kPool1 + ".availability_set"},
                    RuleCase{"hibernation_ephemeral",
                             "hibernation-conflict",
                             Severity::kError,
                             {{"min_nodes: 1", "min_nodes: 1\n        os_disk: {type: ephemeral}"}},
                             "",
                             kPool1 + ".os_disk.type"},
                    RuleCase{"hibernation_capacity_reservation",
                             "hibernation-conflict",
                             Severity::kError,
                             {{"min_nodes: 1", "min_nodes: 1\n        capacity_reservation: true"}},
                             "",
                             kPool1 + ".capacity_reservation"},
                    RuleCase{"scaler_conflict",
                             "scaler-conflict",
                             Severity::kError,
                             {{"min_nodes: 1", "min_nodes: 1\n        scaler: cluster-autoscaler"}},
                             "",
                             kPool1 + ".scaler"},
                    RuleCase{"budget_below_floor",
                             "budget-below-floor",
                             Severity::kError,
                             {{"amount_usd: \"5000\"", "amount_usd: \"100\""}},
                             "",
                             "budgets[0].amount_usd"},
                    RuleCase{"tag_missing",
                             "tag-missing",
                             Severity::kError,
                             {{"defaults: {environment: test}", "defaults: {owner: me}"}},
                             "",
                             kPool0 + ".name"},
                    RuleCase{"subnet_overlap",
                             "subnet-overlap",
                             Severity::kError,
                             {{"cidr: 10.0.1.0/24", "cidr: 10.0.0.128/25"}},
                             "",
                             "network.subnets[1].cidr"},
                    RuleCase{"cidr_invalid",
                             "cidr-invalid",
                             Severity::kError,
                             {{"cidr: 10.0.1.0/24", "cidr: 10.0.1.1/24"}},
                             "",
                             "network.subnets[1].cidr"},
                    RuleCase{"subnet_outside_vnet",
                             "subnet-outside-vnet",
                             Severity::kError,
                             {{"cidr: 10.0.1.0/24", "cidr: 10.1.0.0/24"}},
                             "",
                             "network.subnets[1].cidr"},
                    RuleCase{"region_undeclared",
                             "region-undeclared",
                             Severity::kError,
                             {{"region: eastus\n    pools", "region: westus3\n    pools"}},
                             "",
                             "environments[0].region"},
                    RuleCase{"class_too_big",
                             "class-unroutable",
                             Severity::kError,
                             {{"gpus: 1,", "gpus: 2,"}},
                             "",
                             "workload_classes[0].name"},
                    RuleCase{"class_llm_unroutable",
                             "class-unroutable",
                             Severity::kError,
                             {{"  - {name: web,", "  - {name: gen, kind: llm}\n  - {name: web,"}},
                             "",
                             "workload_classes[1].name"},
                    RuleCase{"price_mismatch",
                             "price-estimate-mismatch",
                             Severity::kWarning,
                             {{"usd_per_vcpu_hour: \"0.18\"", "usd_per_vcpu_hour: \"4.50\""}},
                             "",
                             "pricing.assumptions[0]"}),
    [](const testing::TestParamInfo<RuleCase>& info) { return info.param.name; });

TEST(Rules, EveryRuleIdHasATrippingCase) {
  std::set<std::string> covered{
      "sku-unknown",          "sku-not-in-region",  "price-unavailable",
      "quota-exceeded",       "quota-undeclared",   "hibernation-unsupported",
      "hibernation-conflict", "budget-below-floor", "tag-missing",
      "subnet-overlap",       "cidr-invalid",       "subnet-outside-vnet",
      "region-undeclared",    "class-unroutable",   "price-estimate-mismatch",
      "scaler-conflict"};
  for (const auto& id : all_rule_ids())
    EXPECT_TRUE(covered.count(id)) << "no test trips rule " << id;
}

TEST(Rules, PriceMismatchToleratesTwentyFivePercent) {
  // 0.1745 list; 0.21 is +20% (fine), 0.22 is +26% (warned).
  auto ok = run(
      SpecBuilder().replace("usd_per_vcpu_hour: \"0.18\"", "usd_per_vcpu_hour: \"0.21\"").text());
  EXPECT_TRUE(ok.empty()) << dump(ok);
  auto warned = run(
      SpecBuilder().replace("usd_per_vcpu_hour: \"0.18\"", "usd_per_vcpu_hour: \"0.22\"").text());
  ASSERT_EQ(warned.size(), 1u) << dump(warned);
  EXPECT_EQ(warned[0].rule, "price-estimate-mismatch");
}

TEST(Rules, FallbackPriceIsMarkedEstimated) {
  SpecBuilder b;
  b.replace("regions: [eastus]", "regions: [westeurope]")
      .replace("region: eastus\n    pools", "region: westeurope\n    pools")
      .replace("region: eastus\n    total", "region: westeurope\n    total")
      .replace("usd_per_vcpu_hour: \"0.18\"", "usd_per_vcpu_hour: \"4.50\"");
  ValidateOptions opts;
  opts.price_fallback_region = "eastus";
  auto findings = run(b.text(), opts);
  auto it = std::find_if(findings.begin(), findings.end(),
                         [](const Finding& f) { return f.rule == "price-estimate-mismatch"; });
  ASSERT_NE(it, findings.end()) << dump(findings);
  EXPECT_NE(it->message.find("estimated from the eastus list price"), std::string::npos)
      << it->message;
  EXPECT_EQ(std::count_if(findings.begin(), findings.end(),
                          [](const Finding& f) { return f.rule == "price-unavailable"; }),
            0);
}

TEST(Rules, DeallocatedNodesStillCountAgainstQuota) {
  // A deallocating pool's max_nodes count in full: 3 × 40 = 120 > 80.
  auto findings = run(SpecBuilder().replace("max_nodes: 2", "max_nodes: 3").text());
  auto it = std::find_if(findings.begin(), findings.end(),
                         [](const Finding& f) { return f.rule == "quota-exceeded"; });
  ASSERT_NE(it, findings.end());
  EXPECT_NE(it->message.find("120 vCPUs"), std::string::npos) << it->message;
  EXPECT_NE(it->suggestion.find("at most 2"), std::string::npos) << it->suggestion;
}

TEST(Rules, HibernationSuggestsACapableSize) {
  auto findings = run(SpecBuilder()
                          .replace("sku: Standard_D4s_v5", "sku: Standard_D4s_v3")
                          .replace("standardDSv5Family: 200", "standardDSv3Family: 200")
                          .text());
  auto it = std::find_if(findings.begin(), findings.end(),
                         [](const Finding& f) { return f.rule == "hibernation-unsupported"; });
  ASSERT_NE(it, findings.end()) << dump(findings);
  EXPECT_NE(it->suggestion.find("deallocate"), std::string::npos);
  EXPECT_NE(it->suggestion.find("Standard_D4s_v5"), std::string::npos) << it->suggestion;
}

TEST(Rules, BudgetFloorHonoursSchedules) {
  // 1 × D4s_v5 at $0.192/h: $140.16 all month; weekdays 08:00–18:00 is 50/168 of that.
  std::string scheduled =
      "min_nodes: 1\n        schedule: {time_zone: Europe/Amsterdam, windows: [{days: [weekdays], "
      "start: \"08:00\", "
      "end: \"18:00\"}]}";
  auto over = run(SpecBuilder().replace("amount_usd: \"5000\"", "amount_usd: \"100\"").text());
  EXPECT_TRUE(std::any_of(over.begin(), over.end(),
                          [](const Finding& f) { return f.rule == "budget-below-floor"; }));
  auto under = run(SpecBuilder()
                       .replace("amount_usd: \"5000\"", "amount_usd: \"100\"")
                       .replace("min_nodes: 1", scheduled)
                       .text());
  EXPECT_FALSE(std::any_of(under.begin(), under.end(), [](const Finding& f) {
    return f.rule == "budget-below-floor";
  })) << dump(under);
}

TEST(Schedule, MinutesPerWeek) {
  Schedule s;
  s.windows.push_back({{0, 1, 2, 3, 4}, 8 * 60, 18 * 60});
  EXPECT_EQ(scheduled_minutes_per_week(s), 5 * 10 * 60);
  Schedule overnight;
  overnight.windows.push_back({{4}, 20 * 60, 7 * 60});  // Friday 20:00 → Saturday 07:00
  EXPECT_EQ(scheduled_minutes_per_week(overnight), 11 * 60);
  Schedule all_day;
  all_day.windows.push_back({{}, 0, 0});
  EXPECT_EQ(scheduled_minutes_per_week(all_day), 7 * 24 * 60);
}

}  // namespace
}  // namespace codefleet
