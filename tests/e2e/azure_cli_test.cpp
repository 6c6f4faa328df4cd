// End-to-end: `codefleet azure …` and `codefleet catalog refresh` against a fake ARM,
// login and Retail Prices server on loopback — exit codes 0 / 1 (refused) / 3 (gave up) /
// 2 (usage), --dry-run sending nothing, and no secret or token in any output.
#include <httplib.h>
#include <sys/wait.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/server_thread.h"

namespace codefleet {
namespace {

using json = nlohmann::json;

constexpr const char* kSecret = "e2e-client-secret-do-not-print";
constexpr const char* kToken = "e2e.arm.access-token-do-not-print";
constexpr const char* kVm =
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/devbox";
constexpr const char* kCluster =
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks";

class FakeArm {
 public:
  FakeArm() {
    server_.set_logger([this](const httplib::Request& req, const httplib::Response&) {
      if (req.path.find("/oauth2/") != std::string::npos) return;
      std::lock_guard lock(mu_);
      requests_.push_back(req.method + " " + req.path);
    });
    server_.Post(R"(/([^/]+)/oauth2/v2.0/token)",
                 [](const httplib::Request&, httplib::Response& res) {
                   res.set_content(json{{"access_token", kToken}, {"expires_in", 3599}}.dump(),
                                   "application/json");
                 });
    server_.Get(
        "/subscriptions/s1/providers/Microsoft.Compute/locations/westeurope/usages",
        [](const httplib::Request&, httplib::Response& res) {
          res.set_content(
              R"({"value":[{"currentValue":1360,"limit":1440,"name":{"value":"standardNCadsH100v5Family","localizedValue":"Standard NCadsH100v5 Family vCPUs"}}]})",
              "application/json");
        });
    server_.Post(std::string(kVm) + "/deallocate",
                 [this](const httplib::Request&, httplib::Response& res) {
                   res.status = 202;
                   res.set_header("Location", url() + "/operations/dealloc-1");
                   res.set_header("Retry-After", "0");
                 });
    server_.Get("/operations/dealloc-1", [this](const httplib::Request&, httplib::Response& res) {
      res.status = ++polls_ < 2 ? 202 : 200;
      res.set_header("Retry-After", "0");
    });
    server_.Get(std::string(kVm) + "/instanceView", [](const httplib::Request&,
                                                       httplib::Response& res) {
      res.set_content(
          R"({"statuses":[{"code":"PowerState/deallocated"},{"code":"HibernationState/Hibernated"}]})",
          "application/json");
    });
    server_.Post(std::string(kVm) + "/start",
                 [](const httplib::Request&, httplib::Response& res) { res.status = 503; });
    server_.Get(std::string(kCluster) + "/agentPools/h100train",
                [](const httplib::Request&, httplib::Response& res) {
                  res.set_content(R"({"properties":{"count":34,"enableAutoScaling":false}})",
                                  "application/json");
                });
    server_.Put(std::string(kCluster) + "/agentPools/h100train", [](const httplib::Request&,
                                                                    httplib::Response& res) {
      res.status = 400;
      res.set_content(
          R"({"error":{"code":"QuotaExceeded","message":"Operation could not be completed as it results in exceeding approved standardNCadsH100v5Family Cores quota."}})",
          "application/json");
    });
    server_.Get(std::string(kCluster) + "/agentPools/general", [](const httplib::Request&,
                                                                  httplib::Response& res) {
      res.set_content(
          R"({"properties":{"count":2,"enableAutoScaling":false,"vmSize":"Standard_D8s_v5","provisioningState":"Succeeded"}})",
          "application/json");
    });
    server_.Put(std::string(kCluster) + "/agentPools/general",
                [this](const httplib::Request& req, httplib::Response& res) {
                  {
                    std::lock_guard lock(mu_);
                    last_put_ = req.body;
                  }
                  res.set_content(req.body, "application/json");
                });
    server_.Post(std::string(kCluster) + "/stop",
                 [this](const httplib::Request&, httplib::Response& res) {
                   res.status = 202;
                   res.set_header("Azure-AsyncOperation", url() + "/operations/stop-1");
                   res.set_header("Retry-After", "0");
                 });
    server_.Get("/operations/stop-1", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"Succeeded"})", "application/json");
    });
    server_.Post("/subscriptions/s1/providers/Microsoft.CostManagement/query", [](const httplib::
                                                                                      Request&,
                                                                                  httplib::Response&
                                                                                      res) {
      res.set_content(
          R"({"properties":{"columns":[{"name":"Cost"},{"name":"ResourceGroupName"},{"name":"Currency"}],"rows":[[5120.25,"rg-prod","USD"]]}})",
          "application/json");
    });
    // The Retail Prices API: two pages, the first pointing at the second.
    server_.Get("/api/retail/prices", [this](const httplib::Request& req, httplib::Response& res) {
      std::string dir = std::string(CODEFLEET_FIXTURES) + "/prices/";
      std::ifstream in(dir + (req.has_param("$skip") ? "page1.json" : "page0.json"));
      std::stringstream ss;
      ss << in.rdbuf();
      auto page = json::parse(ss.str());
      if (!req.has_param("$skip")) {
        page["NextPageLink"] = url() + "/api/retail/prices?$skip=100";
      } else {
        page["NextPageLink"] = nullptr;
      }
      res.set_content(page.dump(), "application/json");
    });
    thread_.start();
  }
  ~FakeArm() { thread_.stop(); }
  std::string url() const { return thread_.url(); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::string last_put() {
    std::lock_guard lock(mu_);
    return last_put_;
  }

 private:
  httplib::Server server_;
  testing::ServerThread thread_{server_};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::string last_put_;
  std::atomic<int> polls_{0};
};

struct CliResult {
  int exit_code = -1;
  std::string out;
};

class AzureCli : public ::testing::Test {
 protected:
  CliResult run(const std::string& args) {
    std::string cmd =
        "AZURE_TENANT_ID=t1 AZURE_CLIENT_ID=app AZURE_CLIENT_SECRET=" + std::string(kSecret) +
        " '" + CODEFLEET_BINARY + "' " + args + " --arm-endpoint " + fake_.url() +
        " --login-endpoint " + fake_.url() + " 2>&1";
    CliResult r;
    FILE* p = popen(cmd.c_str(), "r");
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    EXPECT_EQ(r.out.find(kSecret), std::string::npos) << "the secret was printed: " << r.out;
    EXPECT_EQ(r.out.find(kToken), std::string::npos) << "the token was printed: " << r.out;
    return r;
  }
  FakeArm fake_;
};

TEST_F(AzureCli, QuotaAsTableAndJson) {
  auto t = run("azure quota --subscription s1 --region westeurope");
  EXPECT_EQ(t.exit_code, 0) << t.out;
  EXPECT_NE(t.out.find("standardNCadsH100v5Family"), std::string::npos);
  EXPECT_NE(t.out.find("94%"), std::string::npos) << t.out;
  auto j = run("azure quota --subscription s1 --region westeurope --output json");
  ASSERT_EQ(j.exit_code, 0) << j.out;
  auto doc = json::parse(j.out);
  EXPECT_EQ(doc["usages"][0]["used"], 1360);
  EXPECT_EQ(doc["usages"][0]["limit"], 1440);
}

TEST_F(AzureCli, HibernateWaitsForTheOperationAndReportsTheState) {
  auto r = run(std::string("azure vm hibernate ") + kVm + " -v");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("hibernation state Hibernated"), std::string::npos) << r.out;
  auto seen = fake_.requests();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), std::string("POST ") + kVm + "/deallocate"), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), std::string("GET /operations/dealloc-1")), 2);
}

TEST_F(AzureCli, ExitCodesSayRefusedGaveUpOrUsage) {
  auto quota = run(std::string("azure pool scale ") + kCluster + " h100train --count 37");
  EXPECT_EQ(quota.exit_code, 1) << quota.out;  // QuotaExceeded: Azure refused
  EXPECT_NE(quota.out.find("QuotaExceeded"), std::string::npos);
  auto outage = run(std::string("azure vm start ") + kVm);
  EXPECT_EQ(outage.exit_code, 3) << outage.out;  // 503 on an action: gave up, not resent
  auto seen = fake_.requests();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), std::string("POST ") + kVm + "/start"), 1);
  EXPECT_EQ(run("azure vm reboot " + std::string(kVm)).exit_code, 2);
  EXPECT_EQ(run("azure quota --region westeurope").exit_code, 2);
}

TEST_F(AzureCli, DryRunPrintsTheRequestsAndSendsNothing) {
  auto r = run(std::string("azure vm deallocate ") + kVm + " --dry-run");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("POST " + fake_.url() + kVm + "/deallocate?api-version=2024-07-01"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Authorization: Bearer <redacted>"), std::string::npos);
  EXPECT_TRUE(fake_.requests().empty());
}

TEST_F(AzureCli, PoolAutoscalerBoundsAndScaleDownMode) {
  auto r = run(std::string("azure pool scale ") + kCluster +
               " general --autoscale true --min 1 --max 6 --scale-down-mode Deallocate");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto sent = json::parse(fake_.last_put());
  EXPECT_EQ(sent["properties"]["enableAutoScaling"], true);
  EXPECT_EQ(sent["properties"]["minCount"], 1);
  EXPECT_EQ(sent["properties"]["maxCount"], 6);
  EXPECT_EQ(sent["properties"]["scaleDownMode"], "Deallocate");
  EXPECT_FALSE(sent["properties"].contains("provisioningState"));
  EXPECT_NE(r.out.find("autoscaling 1–6, scale-down Deallocate"), std::string::npos) << r.out;
  // The count must sit inside the bounds, checked before anything is sent.
  auto outside = run(std::string("azure pool scale ") + kCluster +
                     " general --autoscale true --min 1 --max 6 --count 9");
  EXPECT_EQ(outside.exit_code, 1) << outside.out;
  EXPECT_EQ(run(std::string("azure pool scale ") + kCluster + " general").exit_code, 2);
}

TEST_F(AzureCli, ClusterStopWaitsForTheOperation) {
  auto r = run(std::string("azure cluster stop ") + kCluster);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto seen = fake_.requests();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), std::string("POST ") + kCluster + "/stop"), 1);
}

TEST_F(AzureCli, CostByResourceGroup) {
  auto r = run("azure cost --subscription s1 --output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto doc = json::parse(r.out);
  EXPECT_EQ(doc["total"], 5120.25);
  EXPECT_EQ(doc["by_resource_group"][0]["resource_group"], "rg-prod");
}

TEST_F(AzureCli, CatalogRefreshPagesThroughTheRetailPricesApi) {
  auto dir = std::filesystem::temp_directory_path() / ("cf_refresh_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::string cmd = std::string("'") + CODEFLEET_BINARY + "' catalog refresh --region westeurope " +
                    "--prices-endpoint " + fake_.url() + " --catalog " + dir.string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("from 2 pages"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::exists(dir / "vm-prices.csv"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace codefleet
