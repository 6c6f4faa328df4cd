// End-to-end: run the real `codefleet` binary and check exit codes and output.
#include <sys/wait.h>

#include <unistd.h>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include "support/popen_capture.h"

namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

std::string quote(const std::string& s) { return "'" + s + "'"; }

// `timeout_s` > 0: the binary is killed after that long (exit code 137), so a hang fails
// the test instead of stalling the suite.
CliRun run(const std::string& args, int timeout_s = 0) {
  std::string limit = timeout_s > 0 ? "timeout -s KILL " + std::to_string(timeout_s) + " " : "";
  std::string cmd = "cd " + quote(CODEFLEET_SOURCE_DIR) + " && " + limit + quote(CODEFLEET_BINARY) +
                    " " + args + " 2>&1";
  CliRun r;
  auto c = codefleet::testing::popen_capture(cmd);
  r.out = std::move(c.out);
  r.exit_code = c.exit_code;
  return r;
}

nlohmann::json json_of(const CliRun& r) {
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out;
    return {};
  }
}

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("codefleet-e2e-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// A spec in West Europe, which the shipped catalog has no prices for.
std::string write_unpriced_spec(const std::string& dir) {
  return write_file(dir, "fleet.yaml", R"(version: 1
name: x
regions: [westeurope]
environments:
  - name: prod
    pools:
      - {name: ci, sku: Standard_B4s_v2, max_nodes: 2, classes: [ci]}
workload_classes:
  - {name: ci, resources: {vcpus: 2, memory_gib: 4}, duration: 15m}
)");
}

TEST(CatalogShow, H100FactsAndPricesWithSources) {
  CliRun r = run("catalog show Standard_NC40ads_H100_v5 --output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = json_of(r);
  EXPECT_EQ(j["sku"], "Standard_NC40ads_H100_v5");
  EXPECT_EQ(j["vcpus"], 40);
  EXPECT_EQ(j["memory_gib"], 320);
  EXPECT_EQ(j["gpus"], 1);
  std::string family = j["quota_family"];
  for (auto& c : family) c = static_cast<char>(std::tolower(c));
  EXPECT_EQ(family, "standardncadsh100v5family");
  EXPECT_EQ(j["hibernation_supported"], false);
  ASSERT_FALSE(j["prices"].empty());
  for (const auto& p : j["prices"]) {
    EXPECT_FALSE(p["source"].get<std::string>().empty());
    EXPECT_TRUE(p.contains("as_of"));
    EXPECT_TRUE(p.contains("region"));
    EXPECT_TRUE(p.contains("type"));
    EXPECT_GT(p["usd_per_hour"].get<double>(), 0);
  }
}

TEST(CatalogShow, D4sV5CanHibernate) {
  CliRun r = run("catalog show standard_d4s_v5 --output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(json_of(r)["hibernation_supported"], true);
}

TEST(CatalogShow, MissingRegionPriceIsNeverSilentlyReplaced) {
  CliRun r = run("catalog show Standard_NC40ads_H100_v5 --region westeurope --output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = json_of(r);
  EXPECT_TRUE(j["prices"].empty());
  ASSERT_EQ(j["missing_prices"].size(), 1u);
  EXPECT_NE(j["missing_prices"][0]["how_to_import"].get<std::string>().find("import-prices"),
            std::string::npos);

  CliRun est =
      run("catalog show Standard_NC40ads_H100_v5 --region westeurope --price-fallback eastus "
          "--output json");
  ASSERT_EQ(est.exit_code, 0) << est.out;
  auto e = json_of(est);
  ASSERT_FALSE(e["prices"].empty());
  EXPECT_EQ(e["prices"][0]["estimated"], true);
  EXPECT_EQ(e["prices"][0]["estimated_from"], "eastus");
  EXPECT_EQ(e["prices"][0]["region"], "westeurope");
}

TEST(CatalogShow, UnknownSkuSuggests) {
  CliRun r = run("catalog show Standard_NC40ads_H100_v4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("did you mean 'Standard_NC40ads_H100_v5'"), std::string::npos) << r.out;
}

TEST(CatalogList, FiltersHibernationAndGpus) {
  CliRun r = run("catalog list --hibernation --output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = json_of(r);
  ASSERT_FALSE(j["sizes"].empty());
  for (const auto& s : j["sizes"]) EXPECT_EQ(s["hibernation_supported"], true) << s["sku"];
  CliRun g = run("catalog list --min-gpus 2 --output json");
  auto gj = json_of(g);
  ASSERT_EQ(gj["sizes"].size(), 1u);
  EXPECT_EQ(gj["sizes"][0]["sku"], "Standard_NC80adis_H100_v5");
  CliRun t = run("catalog list --family Dsv5");
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_NE(t.out.find("Standard_D4s_v5"), std::string::npos);
  EXPECT_EQ(t.out.find("Standard_D4s_v3"), std::string::npos);
}

TEST(Validate, SeedFailsWithTheRequirementsProblems) {
  CliRun r = run("validate examples/seed.yaml --output json");
  ASSERT_EQ(r.exit_code, 1) << r.out;
  auto j = json_of(r);
  std::map<std::string, int> by_rule;
  std::set<std::string> hibernation_paths;
  bool h100_mismatch = false;
  for (const auto& f : j["findings"]) {
    by_rule[f["rule"]]++;
    for (const char* key :
         {"rule", "severity", "path", "line", "column", "message", "suggestion"}) {
      EXPECT_TRUE(f.contains(key)) << key;
    }
    EXPECT_GT(f["line"].get<int>(), 0);
    if (f["rule"] == "hibernation-unsupported") hibernation_paths.insert(f["path"]);
    if (f["rule"] == "price-estimate-mismatch" &&
        f["message"].get<std::string>().find("NCads_H100_v5") != std::string::npos) {
      h100_mismatch = true;
      EXPECT_EQ(f["severity"], "warning");
    }
  }
  // Every seed pool asks to hibernate, and none of their sizes can (B, DSv3, H100, M).
  EXPECT_EQ(hibernation_paths.size(), 5u);
  for (const char* p :
       {"environments[0].pools[0].idle.action", "environments[1].pools[0].idle.action",
        "environments[2].pools[0].idle.action", "environments[2].pools[1].idle.action",
        "environments[2].pools[2].idle.action"}) {
    EXPECT_TRUE(hibernation_paths.count(p)) << p;
  }
  EXPECT_TRUE(h100_mismatch);
  EXPECT_GE(by_rule["hibernation-conflict"], 2);
}

TEST(Validate, RecommendedIsClean) {
  CliRun r = run("validate examples/recommended.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("0 errors, 0 warnings"), std::string::npos) << r.out;
}

TEST(Validate, TableOutputNamesFileLineAndRule) {
  CliRun r = run("validate examples/seed.yaml");
  EXPECT_EQ(r.exit_code, 1);
  // The h100 pool's `idle:` line in the file.
  std::ifstream seed(std::string(CODEFLEET_SOURCE_DIR) + "/examples/seed.yaml");
  std::string line;
  int n = 0, idle_line = 0;
  bool in_h100 = false;
  while (std::getline(seed, line)) {
    ++n;
    if (line.find("- name: h100") != std::string::npos) in_h100 = true;
    if (in_h100 && line.find("idle:") != std::string::npos) {
      idle_line = n;
      break;
    }
  }
  ASSERT_GT(idle_line, 0);
  EXPECT_NE(r.out.find("examples/seed.yaml:" + std::to_string(idle_line) +
                       ":24: error [hibernation-unsupported]"),
            std::string::npos)
      << r.out;
}

TEST(BadInput, MissingFileExits2) {
  CliRun r = run("validate /nonexistent/spec.yaml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("/nonexistent/spec.yaml"), std::string::npos) << r.out;
}

TEST(BadInput, YamlSyntaxErrorExits2WithPosition) {
  std::string dir = temp_dir("syntax");
  std::string f =
      write_file(dir, "bad.yaml", "version: 1\nname: x\nregions: [eastus\nenvironments: []\n");
  CliRun r = run("validate " + f);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find(f + ":"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("YAML syntax error"), std::string::npos) << r.out;
  std::filesystem::remove_all(dir);
}

TEST(BadInput, WrongTypeExits2NamingTheField) {
  std::string dir = temp_dir("type");
  std::string f = write_file(
      dir, "bad.yaml",
      "version: 1\nname: x\nregions: [eastus]\nenvironments:\n  - name: prod\n    pools:\n"
      "      - name: p\n        sku: Standard_D4s_v5\n        max_nodes: lots\n");
  CliRun r = run("validate " + f);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(
      r.out.find(f + ":9:20: environments[0].pools[0].max_nodes: 'lots' is not a whole number"),
      std::string::npos)
      << r.out;
  std::filesystem::remove_all(dir);
}

// A typo must never switch a setting off silently: an unknown field is an error (exit 2)
// at its line, naming the closest valid field.
TEST(BadInput, UnknownFieldIsAnErrorWithClosestName) {
  std::string dir = temp_dir("unknown");
  std::string f = write_file(
      dir, "typo.yaml",
      "version: 1\nname: x\nregions: [eastus]\nenvironments:\n  - name: prod\n    pools:\n"
      "      - name: p\n        sku: Standard_D4s_v5\n        max_nodes: 1\n        idel: {}\n");
  CliRun r = run("validate " + f);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find(f + ":10:9: environments[0].pools[0].idel: unknown field 'idel' (did you "
                           "mean 'idle'?)"),
            std::string::npos)
      << r.out;
  std::filesystem::remove_all(dir);
}

TEST(BadInput, MissingRequiredFieldPointsAtItsTypo) {
  std::string dir = temp_dir("max-node");
  std::string f = write_file(
      dir, "typo.yaml",
      "version: 1\nname: x\nregions: [eastus]\nenvironments:\n  - name: prod\n    pools:\n"
      "      - name: p\n        sku: Standard_D4s_v5\n        max_node: 4\n");
  CliRun r = run("validate " + f);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("environments[0].pools[0].max_node: unknown field 'max_node' (did you "
                       "mean 'max_nodes'?)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("environments[0].pools[0].max_nodes: required field 'max_nodes' is "
                       "missing; 'max_node' at line 9 looks like a typo of it"),
            std::string::npos)
      << r.out;
  std::filesystem::remove_all(dir);
}

// Every command that consumes a spec refuses one that `validate` rejects: exit 1, the
// findings as `validate` prints them, and how to go on regardless.
TEST(SpecGate, CommandsRefuseASpecWithErrors) {
  std::string dir = temp_dir("gate");
  for (const std::string& cmd : std::vector<std::string>{
           "iac examples/seed.yaml --format terraform --out " + quote(dir + "/tf"),
           "plan examples/seed.yaml --synthetic tasks=200,days=1,seed=1",
           "simulate examples/seed.yaml --synthetic tasks=200,days=1,seed=1 --quiet",
           "route examples/seed.yaml --task '{\"class\": \"ci\"}'",
           "submit examples/seed.yaml --server http://127.0.0.1:9 --key k --synthetic "
           "tasks=10,days=1,seed=1",
           "serve --spec examples/seed.yaml --store sqlite:" + quote(dir + "/db") +
               " --bootstrap-admin-key 0123456789abcdef0123"}) {
    CliRun r = run(cmd, 60);
    EXPECT_EQ(r.exit_code, 1) << cmd << "\n" << r.out;
    EXPECT_NE(r.out.find("examples/seed.yaml:80:24: error [hibernation-unsupported] "
                         "environments[0].pools[0].idle.action"),
              std::string::npos)
        << cmd << "\n"
        << r.out;
    EXPECT_NE(r.out.find("examples/seed.yaml: 8 errors, 6 warnings"), std::string::npos) << cmd;
    EXPECT_NE(r.out.find("--ignore-validation-errors"), std::string::npos) << cmd;
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/tf")) << "iac wrote Terraform for a bad spec";
  std::filesystem::remove_all(dir);
}

TEST(SpecGate, TheOverrideGoesOnWithAWarning) {
  std::string dir = temp_dir("gate-override");
  CliRun r = run("iac examples/seed.yaml --format terraform --out " + quote(dir) +
                 " --ignore-validation-errors");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("codefleet: warning: examples/seed.yaml has 8 validation errors"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/README.md"));
  std::filesystem::remove_all(dir);
}

TEST(BadInput, BadFlagsExit2) {
  EXPECT_EQ(run("validate").exit_code, 2);
  EXPECT_EQ(run("validate examples/seed.yaml --output xml").exit_code, 2);
  EXPECT_EQ(run("frobnicate").exit_code, 2);
  EXPECT_EQ(run("validate examples/recommended.yaml --catalog /nonexistent-dir").exit_code, 2);
}

TEST(Import, PricesThenValidateWithoutFallback) {
  std::string dir = temp_dir("import");
  std::string page = write_file(dir, "page0.json", R"({
  "BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
  "Items": [
    {"currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": 8.2, "unitPrice": 8.2,
     "armRegionName": "westeurope", "location": "EU West", "effectiveStartDate": "2025-01-01T00:00:00Z",
     "meterId": "00000000-0000-0000-0000-000000000001", "meterName": "NC40ads H100 v5",
     "productId": "DZH318Z0PP0G", "skuId": "DZH318Z0PP0G/0001", "productName": "Virtual Machines NCads H100 v5 Series",
     "skuName": "NC40ads H100 v5", "serviceName": "Virtual Machines", "serviceId": "DZH313Z7MMC8",
     "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": "Consumption", "isPrimaryMeterRegion": true,
     "armSkuName": "Standard_NC40ads_H100_v5"}
  ],
  "NextPageLink": null, "Count": 1})");
  std::string overlay = dir + "/catalog";
  CliRun imp = run("catalog import-prices " + page + " --catalog " + overlay);
  ASSERT_EQ(imp.exit_code, 0) << imp.out;
  EXPECT_NE(imp.out.find("imported 1 price"), std::string::npos) << imp.out;
  CliRun show = run("catalog show Standard_NC40ads_H100_v5 --region westeurope --catalog " +
                    overlay + " --output json");
  auto j = json_of(show);
  ASSERT_EQ(j["prices"].size(), 1u) << show.out;
  EXPECT_EQ(j["prices"][0]["usd_per_hour"], 8.2);
  EXPECT_EQ(j["prices"][0]["as_of"], "2025-01-01");
  EXPECT_FALSE(j["prices"][0].contains("estimated"));
  CliRun bad = run("catalog import-prices " + write_file(dir, "bad.json", "{\"Items\": [") +
                   " --catalog " + overlay);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("bad.json:1:"), std::string::npos) << bad.out;
  std::filesystem::remove_all(dir);
}

}  // namespace

namespace {

TEST(Route, FineTuneGoesToTheH100Pool) {
  CliRun r = run(
      "route examples/recommended.yaml --task '{\"class\": \"fine-tune\", \"deferrable\": false}' "
      "--at 2026-01-05T09:00:00Z --output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = json_of(r);
  EXPECT_EQ(j["decision"]["outcome"], "placed");
  EXPECT_EQ(j["decision"]["target"]["kind"], "pool");
  EXPECT_EQ(j["decision"]["target"]["name"], "h100-train");
  EXPECT_EQ(j["decision"]["target"]["sku"], "Standard_NC40ads_H100_v5");
  EXPECT_EQ(j["decision"]["wait_s"], 480);
  EXPECT_EQ(j["decision"]["estimated"], true);
  EXPECT_FALSE(j["alternatives"].empty());
  for (const auto& a : j["alternatives"]) {
    for (const char* k : {"target", "cost_usd", "wait_s", "rejected_because"})
      EXPECT_TRUE(a.contains(k)) << k;
  }
}

TEST(Route, DeferrableWorkIsQueuedForOffPeak) {
  CliRun r =
      run("route examples/recommended.yaml --task '{\"class\": \"batch-inference\"}' --at "
          "2026-01-05T09:00:00Z "
          "--output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(json_of(r)["decision"]["outcome"], "queued");
}

TEST(Route, PromptGenGoesToFoundryFromAFile) {
  std::string dir = temp_dir("route");
  std::string f =
      write_file(dir, "task.json",
                 R"({"class": "prompt-gen", "tokens": {"prompt": 1000, "completion": 200}})");
  CliRun r = run("route examples/recommended.yaml --task @" + f + " --output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = json_of(r);
  EXPECT_EQ(j["decision"]["target"]["kind"], "foundry");
  EXPECT_EQ(j["decision"]["target"]["deployment"], "gpt-4o-mini");
  std::filesystem::remove_all(dir);
}

TEST(Route, InfeasibleExits1) {
  CliRun r =
      run("route examples/recommended.yaml --task '{\"class\": \"fine-tune\", \"resources\": "
          "{\"vcpus\": 8, "
          "\"memory_gib\": 64, \"gpus\": 8, \"gpu_memory_gib\": 80}}'");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("infeasible"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("too small"), std::string::npos) << r.out;
}

TEST(Route, UnusableInputExits2NamingTheField) {
  CliRun bad_field =
      run("route examples/recommended.yaml --task '{\"class\": \"ci\", \"priority\": \"urgent\"}'");
  EXPECT_EQ(bad_field.exit_code, 2);
  EXPECT_NE(bad_field.out.find("field 'priority'"), std::string::npos) << bad_field.out;
  CliRun bad_json = run("route examples/recommended.yaml --task '{\"class\": '");
  EXPECT_EQ(bad_json.exit_code, 2);
  EXPECT_NE(bad_json.out.find("not valid JSON"), std::string::npos) << bad_json.out;
  CliRun missing = run("route examples/recommended.yaml --task @/nonexistent/task.json");
  EXPECT_EQ(missing.exit_code, 2);
  CliRun no_price =
      run("route examples/recommended.yaml --task '{\"class\": \"ci\"}' --catalog /nonexistent");
  EXPECT_EQ(no_price.exit_code, 2);
}

TEST(Route, MissingRegionPriceFailsWithTheImportHint) {
  std::string dir = temp_dir("noprice");
  std::string spec = write_unpriced_spec(dir);
  CliRun r = run("route " + spec + " --task '{\"class\": \"ci\"}'");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("no payg_linux price for Standard_B4s_v2 in westeurope"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("import-prices"), std::string::npos) << r.out;
  CliRun est =
      run("route " + spec + " --task '{\"class\": \"ci\"}' --price-fallback eastus --output json");
  EXPECT_EQ(est.exit_code, 0) << est.out;
  EXPECT_EQ(json_of(est)["decision"]["estimated"], true);
  std::filesystem::remove_all(dir);
}

}  // namespace

namespace {

nlohmann::json without_timing(nlohmann::json j) {
  j.erase("wall_seconds");
  j.erase("events_per_second");
  return j;
}

TEST(Simulate, JsonHasEveryStrategyAndIsDeterministic) {
  std::string cmd =
      "simulate examples/recommended.yaml --synthetic tasks=2000,days=2,seed=5 --quiet --output "
      "json";
  CliRun a = run(cmd);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  auto j = json_of(a);
  ASSERT_EQ(j["strategies"].size(), 5u);
  for (const auto& s : j["strategies"]) {
    for (const char* k : {"name", "cost_usd", "cost_by_pool", "node_hours", "wait_s",
                          "deadline_misses", "peak_quota_vcpus", "tasks"}) {
      EXPECT_TRUE(s.contains(k)) << k;
    }
    EXPECT_EQ(s["tasks"]["in"].get<int64_t>(), s["tasks"]["completed"].get<int64_t>() +
                                                   s["tasks"]["rejected"].get<int64_t>() +
                                                   s["tasks"]["pending"].get<int64_t>());
  }
  EXPECT_TRUE(j.contains("events_per_second"));
  CliRun b = run(cmd);
  EXPECT_EQ(without_timing(j).dump(), without_timing(json_of(b)).dump());
}

TEST(Simulate, SaysWhetherTheFleetCanMeetTheSloAtAll) {
  std::string pods =
      " --trace tests/fixtures/traces/alibaba-pods-small.csv --trace-format alibaba-pods "
      "--gpu-class gpu-pod --cpu-class cpu-pod --strategies codefleet,oracle --quiet --output "
      "json";
  // The fleet sized for the trace: the oracle meets the SLO, so the fleet can.
  CliRun sized = run("simulate examples/gpu-cluster.yaml" + pods);
  ASSERT_EQ(sized.exit_code, 0) << sized.out;
  auto j = json_of(sized);
  EXPECT_EQ(j["slo"]["capacity_bound"], false);
  EXPECT_EQ(j["slo"]["met_by"], nlohmann::json::parse(R"(["codefleet", "oracle"])"));
  EXPECT_EQ(j["capacity"]["fleet_gpus"], 60.0);          // 54 × 1 + 3 × 2 GPUs within 2,400 vCPUs
  EXPECT_EQ(j["capacity"]["peak_gpus_requested"], 3.5);  // pods 2, 3 and 4 at once
  EXPECT_EQ(j["min_nodes_floor"]["nodes"], 0);
  EXPECT_EQ(j["min_nodes_floor"]["compute_usd"], 0);
  EXPECT_EQ(j["quota_limits_vcpus"]["StandardNCadsH100v5Family"], 2400);
  EXPECT_EQ(j["quota_limits_vcpus"]["regional"], 3040);
  for (const auto& s : j["strategies"]) {
    for (const auto& [family, peak] : s["peak_quota_vcpus"].items()) {
      ASSERT_TRUE(j["quota_limits_vcpus"].contains(family)) << family;
      EXPECT_LE(peak.get<int64_t>(), j["quota_limits_vcpus"][family].get<int64_t>()) << family;
    }
    // Whole-node prices: what the strategy pays, except the oracle, which pays its share.
    double whole = std::stod(s["cost_at_whole_nodes_usd"].dump());
    double cost = std::stod(s["cost_usd"].dump());
    if (s["name"] == "oracle") {
      EXPECT_GE(whole, cost);
    } else {
      EXPECT_EQ(whole, cost);
    }
  }

  // Room for one single-GPU node: pod-4 waits for pod-2's GPU even in the oracle, and the
  // 2-GPU pod has no node within quota (rejected, left out of the peak).
  std::string dir = temp_dir("capacity");
  std::ifstream in(std::string(CODEFLEET_SOURCE_DIR) + "/examples/gpu-cluster.yaml");
  std::stringstream spec;
  spec << in.rdbuf();
  std::string text = spec.str();
  auto at = text.find("StandardNCadsH100v5Family: 2400");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 31, "StandardNCadsH100v5Family: 40");
  std::ofstream(dir + "/small.yaml") << text;
  // The quota is now below the pools' `max_nodes` (validation errors): a what-if run.
  CliRun small = run("simulate " + dir + "/small.yaml --ignore-validation-errors" + pods);
  ASSERT_EQ(small.exit_code, 0) << small.out;
  ASSERT_EQ(small.out.rfind("codefleet: warning: ", 0), 0u) << small.out;
  small.out.erase(0, small.out.find('\n') + 1);
  j = json_of(small);
  EXPECT_EQ(j["slo"]["capacity_bound"], true);
  EXPECT_EQ(j["capacity"]["fleet_gpus"], 1.0);
  EXPECT_EQ(j["capacity"]["peak_gpus_requested"], 1.5);
  EXPECT_NE(j["slo"]["note"].get<std::string>().find("misses it too"), std::string::npos)
      << j["slo"]["note"];
  CliRun table = run("simulate " + dir + "/small.yaml --ignore-validation-errors" +
                     pods.substr(0, pods.find(" --output")));
  EXPECT_NE(table.out.find("The oracle, with no start latency and every node on demand, misses "
                           "it too"),
            std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("raise the quota and max_nodes"), std::string::npos) << table.out;
  // Without the oracle, nobody can say whether capacity holds the waits back.
  CliRun no_oracle =
      run("simulate examples/gpu-cluster.yaml" + pods.substr(0, pods.find(" --strategies")) +
          " --strategies codefleet --quiet --output json");
  ASSERT_EQ(no_oracle.exit_code, 0) << no_oracle.out;
  EXPECT_TRUE(json_of(no_oracle)["slo"]["capacity_bound"].is_null());
  std::filesystem::remove_all(dir);
}

TEST(Simulate, WritesTimeseriesAndReport) {
  std::string dir = temp_dir("simout");
  CliRun r =
      run("simulate examples/recommended.yaml --trace tests/fixtures/traces/alibaba-pods-small.csv "
          "--trace-format alibaba-pods --strategies codefleet,oracle --quiet --timeseries " +
          dir + "/ts.csv --report " + dir + "/report.html");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::ifstream ts(dir + "/ts.csv"), html(dir + "/report.html");
  std::string header;
  std::getline(ts, header);
  EXPECT_EQ(header, "strategy,time,metric,key,value");
  std::stringstream page;
  page << html.rdbuf();
  EXPECT_NE(page.str().find("<svg"), std::string::npos);
  EXPECT_NE(page.str().find("<p>Wait SLO: p95 within 900 s"), std::string::npos);
  EXPECT_EQ(page.str().find("<script"), std::string::npos);  // self-contained, no scripts
  EXPECT_EQ(page.str().find("http://cdn"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Simulate, BadTraceExits2UnlessSkipped) {
  CliRun bad =
      run("simulate examples/recommended.yaml --trace tests/fixtures/traces/bad-azure-row.csv "
          "--trace-format azure-llm --quiet");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("bad-azure-row.csv:3"), std::string::npos) << bad.out;
  CliRun skipped =
      run("simulate examples/recommended.yaml --trace tests/fixtures/traces/bad-azure-row.csv "
          "--trace-format azure-llm --skip-bad-rows --quiet --output json --strategies oracle");
  EXPECT_EQ(skipped.exit_code, 0) << skipped.out;
  EXPECT_EQ(json_of(skipped)["workload"]["bad_rows_skipped"], 1);
  EXPECT_EQ(run("simulate examples/recommended.yaml --trace tests/fixtures/traces/empty.csv "
                "--trace-format azure-llm")
                .exit_code,
            2);
  EXPECT_EQ(
      run("simulate examples/recommended.yaml --synthetic tasks=10 --strategies bogus").exit_code,
      2);
  EXPECT_EQ(run("simulate examples/recommended.yaml").exit_code, 2);  // no workload
}

// A creation time of 10^18 seconds once had `simulate` plan billions of years (gigabytes of
// memory within a minute, no end in sight). Refused at once, naming file, line and field.
TEST(Simulate, ATraceSpanningAgesIsRefusedPromptly) {
  std::string dir = temp_dir("span");
  std::string trace =
      write_file(dir, "pods.csv",
                 "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
                 "deletion_time,scheduled_time\n"
                 "pod-0,4000,8192,0,0,,LS,Running,1000,4600,1002\n"
                 "pod-1,2000,4096,0,0,,BE,Running,1000000000000000000,1000000000000003600,\n");
  auto start = std::chrono::steady_clock::now();
  CliRun r = run("simulate examples/recommended.yaml --trace " + trace +
                     " --trace-format alibaba-pods --quiet",
                 60);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find(trace + ":3: column creation_time: 1000000000000000000 is 11574074074074 "
                               "days after the earliest (1000 at line 2); a trace may span at "
                               "most 400 days"),
            std::string::npos)
      << r.out;
  EXPECT_LT(took, std::chrono::seconds(20));
  std::filesystem::remove_all(dir);
}

// The `llm` section: what holds by construction, whatever the figures.
void check_llm_section(const nlohmann::json& llm, int64_t calls) {
  ASSERT_EQ(llm["calls"].get<int64_t>(), calls);
  ASSERT_EQ(llm["scenarios"].size(), 3u);
  std::vector<std::string> names;
  std::map<std::string, double> all_served;  // scenario → cost, where every call was served
  for (const auto& s : llm["scenarios"]) {
    SCOPED_TRACE(s.dump());
    names.push_back(s["name"]);
    int64_t served = s["served"], unserved = s["unserved"], by_target = 0;
    EXPECT_EQ(served + unserved, calls);  // every call counted exactly once
    for (const auto& [k, v] : s["calls_by_target"].items()) by_target += v.get<int64_t>();
    EXPECT_EQ(by_target, served);
    double cost = 0;
    for (const auto& [k, v] : s["cost_by_target"].items()) cost += v.get<double>();
    EXPECT_NEAR(cost, s["cost_usd"].get<double>(), 0.011 * s["cost_by_target"].size());
    EXPECT_LE(s["wait_s"]["p50"].get<double>(), s["wait_s"]["p95"].get<double>());
    EXPECT_LE(s["wait_s"]["p95"].get<double>(), s["wait_s"]["p99"].get<double>());
    if (unserved == 0) all_served[s["name"]] = s["cost_usd"];
  }
  EXPECT_EQ(names, (std::vector<std::string>{"foundry", "self-hosted", "hybrid"}));
  EXPECT_EQ(llm["scenarios"][0]["gpu_node_hours"].get<double>(), 0.0);
  if (all_served.empty()) {
    EXPECT_TRUE(llm["cheapest"].is_null());
  } else {
    ASSERT_TRUE(llm["cheapest"].is_string());
    auto it = all_served.find(llm["cheapest"].get<std::string>());
    ASSERT_NE(it, all_served.end());  // it served every call
    for (const auto& [name, cost] : all_served) EXPECT_LE(it->second, cost + 0.005) << name;
  }
}

TEST(Simulate, AzureLlmTraceHasAnLlmSection) {
  std::string cmd =
      "simulate examples/recommended.yaml --trace "
      "tests/fixtures/traces/azure-llm-conv-2023-first300.csv --trace-format azure-llm --output "
      "json";
  CliRun a = run(cmd);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  auto j = json_of(a);
  ASSERT_TRUE(j.contains("llm")) << a.out;
  const auto& llm = j["llm"];
  EXPECT_EQ(llm["class"], "code-completion");  // the first served by Foundry and vllm-h100
  check_llm_section(llm, 300);
  int64_t prompt = llm["tokens"]["prompt"], completion = llm["tokens"]["completion"];
  EXPECT_GT(prompt, 0);
  EXPECT_GT(completion, 0);
  const auto& foundry = llm["scenarios"][0];
  // foundry-large ($2.50 / $10 per 1M) is the only deployment for code-completion.
  EXPECT_EQ(foundry["calls_by_target"].size(), 1u);
  EXPECT_EQ(foundry["calls_by_target"]["foundry-large"], 300);
  EXPECT_NEAR(foundry["cost_usd"].get<double>(), (prompt * 2.5 + completion * 10.0) / 1e6, 0.006);
  const auto& self_hosted = llm["scenarios"][1];
  EXPECT_EQ(self_hosted["calls_by_target"]["vllm-h100"], 300);
  EXPECT_GT(self_hosted["gpu_node_hours"].get<double>(), 0.0);
  EXPECT_GE(self_hosted["peak_nodes"].get<int64_t>(), 1);  // h100-infer: 1 to 6 nodes
  EXPECT_LE(self_hosted["peak_nodes"].get<int64_t>(), 6);
  EXPECT_GT(llm["scenarios"][2]["gpu_node_hours"].get<double>(), 0.0);

  CliRun b = run(cmd);
  EXPECT_EQ(llm.dump(), json_of(b)["llm"].dump());

  std::string dir = temp_dir("simllm");
  CliRun table =
      run("simulate examples/recommended.yaml --trace "
          "tests/fixtures/traces/azure-llm-conv-2023-first300.csv --trace-format azure-llm "
          "--strategies oracle --quiet --report " +
          dir + "/report.html");
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_NE(table.out.find("LLM calls as class code-completion: 300 calls"), std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("self-hosted"), std::string::npos) << table.out;
  std::stringstream page;
  page << std::ifstream(dir + "/report.html").rdbuf();
  EXPECT_NE(page.str().find("LLM calls as class code-completion"), std::string::npos);
  EXPECT_NE(page.str().find("<td>hybrid</td>"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Simulate, LlmRouteClassIsChecked) {
  std::string base =
      "simulate examples/recommended.yaml --trace "
      "tests/fixtures/traces/azure-llm-conv-2023-first300.csv --trace-format azure-llm "
      "--strategies oracle --quiet --output json --llm-route-class ";
  // prompt-gen has Foundry deployments and no self-hosted endpoint: the self-hosted scenario
  // serves nothing, and the hybrid routes to Foundry only.
  CliRun r = run(base + "prompt-gen");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto llm = json_of(r)["llm"];
  EXPECT_EQ(llm["class"], "prompt-gen");
  check_llm_section(llm, 300);
  EXPECT_EQ(llm["scenarios"][1]["unserved"], 300);
  EXPECT_EQ(llm["scenarios"][2]["cost_usd"], llm["scenarios"][0]["cost_usd"]);
  EXPECT_EQ(llm["cheapest"], "foundry");

  CliRun unknown = run(base + "nope");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.out.find("--llm-route-class"), std::string::npos) << unknown.out;
  EXPECT_NE(unknown.out.find("code-completion"), std::string::npos) << unknown.out;
  CliRun compute = run(base + "ci");
  EXPECT_EQ(compute.exit_code, 2);
  EXPECT_NE(compute.out.find("--llm-route-class"), std::string::npos) << compute.out;
  EXPECT_NE(compute.out.find("compute class"), std::string::npos) << compute.out;

  // Only azure-llm traces have the section.
  CliRun pods =
      run("simulate examples/recommended.yaml --trace tests/fixtures/traces/alibaba-pods-small.csv "
          "--trace-format alibaba-pods --strategies oracle --quiet --output json");
  ASSERT_EQ(pods.exit_code, 0) << pods.out;
  EXPECT_FALSE(json_of(pods).contains("llm"));
}

}  // namespace

namespace {

TEST(Plan, SeedHasPerPoolCostsAndTheSeedCheck) {
  CliRun r =
      run("plan examples/seed.yaml --synthetic tasks=2000,days=2,seed=1 --output json "
          "--ignore-validation-errors");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // The override's warning (stderr) comes first; the JSON follows.
  ASSERT_EQ(r.out.rfind("codefleet: warning: examples/seed.yaml has 8 validation errors", 0), 0u)
      << r.out;
  r.out.erase(0, r.out.find('\n') + 1);
  auto j = json_of(r);
  ASSERT_EQ(j["pools"].size(), 5u);
  for (const auto& p : j["pools"]) {
    for (const char* k : {"name", "sku", "nodes", "quota_vcpus", "monthly_cost_usd"})
      EXPECT_TRUE(p.contains(k)) << k;
    EXPECT_TRUE(p["monthly_cost_usd"].contains("codefleet"));
    EXPECT_TRUE(p["monthly_cost_usd"].contains("payg_peak_24x7"));
  }
  // 36 × $6.98 × 730 h at list price (East US standing in for West Europe).
  EXPECT_EQ(j["pools"][2]["monthly_cost_usd"]["payg_peak_24x7"], 183434.4);
  bool monthly_checked = false;
  for (const auto& c : j["seed_check"]) {
    for (const char* k : {"item", "stated", "computed", "note"}) EXPECT_TRUE(c.contains(k)) << k;
    if (c["item"] == "NCads_H100_v5 stated monthly cost") {
      monthly_checked = true;
      EXPECT_EQ(c["stated"], "$150,000.00–$200,000.00");
      EXPECT_NE(c["computed"].get<std::string>().find("$4,730,400.00 at the assumed rate"),
                std::string::npos);
      EXPECT_NE(c["computed"].get<std::string>().find("$183,434.40 at list price"),
                std::string::npos);
      EXPECT_EQ(c["consistent"], false);
    }
  }
  EXPECT_TRUE(monthly_checked) << r.out;
  EXPECT_TRUE(j["budget"].contains("fits"));
}

TEST(Plan, RecommendedFitsItsBudget) {
  CliRun r =
      run("plan examples/recommended.yaml --synthetic tasks=2000,days=2,seed=1 --output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = json_of(r);
  EXPECT_EQ(j["budget"]["monthly_usd"], 120000.0);
  EXPECT_EQ(j["budget"]["fits"], true);
  EXPECT_LE(j["budget"]["projected_usd"].get<double>(), 120000.0);
}

TEST(Plan, BadInputIsAClearError) {
  CliRun bad_trace =
      run("plan examples/recommended.yaml --workload tests/fixtures/traces/bad-azure-header.csv "
          "--trace-format azure-llm");
  EXPECT_EQ(bad_trace.exit_code, 2);
  EXPECT_NE(bad_trace.out.find("bad-azure-header.csv:1"), std::string::npos) << bad_trace.out;
  std::string dir = temp_dir("planprice");
  std::string spec = write_unpriced_spec(dir);
  CliRun no_price = run("plan " + spec);
  EXPECT_EQ(no_price.exit_code, 2);
  EXPECT_NE(no_price.out.find("import-prices"), std::string::npos) << no_price.out;
  std::filesystem::remove_all(dir);
}

}  // namespace

namespace {

TEST(Plan, AdviceNamesReservationsSpotAndSelfHosting) {
  std::string dir = temp_dir("advice");
  std::string spec = write_file(dir, "fleet.yaml", R"(version: 1
name: advice
regions: [eastus]
environments:
  - name: prod
    pools:
      - {name: cache, sku: Standard_M8ms, min_nodes: 2, max_nodes: 3, classes: [analytics]}
workload_classes:
  - {name: analytics, resources: {vcpus: 2, memory_gib: 16}, duration: 30m, preemptible: true}
)");
  CliRun r = run("plan " + spec + " --synthetic tasks=500,days=2,seed=1 --output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = json_of(r);
  bool reservation = false, spot = false;
  for (const auto& a : j["advice"]) {
    std::string text = a["text"];
    if (a["kind"] == "reservation" && text.find("1-year") != std::string::npos) {
      reservation = true;
      // 0.883562 / 1.5365 = 57.5% (the catalog's eastus rows); min_nodes 2 always run.
      EXPECT_NE(text.find("pays above 57.5% use"), std::string::npos) << text;
      EXPECT_TRUE(text.find("reserve 2 nodes") != std::string::npos ||
                  text.find("reserve 3 nodes") != std::string::npos)
          << text;
      EXPECT_GT(a["monthly_saving_usd"].get<double>(), 0.0);
    }
    if (a["kind"] == "spot" && a["target"] == "analytics") {
      spot = true;
      EXPECT_NE(text.find("no spot pool serves it"), std::string::npos) << text;
    }
  }
  EXPECT_TRUE(reservation) << r.out;
  EXPECT_TRUE(spot) << r.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
