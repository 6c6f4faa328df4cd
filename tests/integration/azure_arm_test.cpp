// Contract tests of the Azure backend against a fake ARM and login server on loopback that
// answers with the documented response shapes (azure-rest-api-specs examples): paging, a
// long-running operation polled several times, 429 + Retry-After, 500 then success,
// QuotaExceeded (no retry, infeasible), a timeout on a mutating call (no second request),
// every token provider with caching, and no secret or token in logs, errors or dry runs.
#include <httplib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "cloud/azure/aks_cloud.h"
#include "cloud/azure/arm.h"
#include "cloud/azure/operations.h"
#include "integration/test_stores.h"
#include "routing/fleet_model.h"
#include "server/controller.h"
#include "spec/spec.h"
#include "support/server_thread.h"
#include "workload/task.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using namespace std::chrono;

constexpr const char* kSecret = "s3cr3t-client-secret-value";
constexpr const char* kToken = "eyJ0eXAiOiJKV1QifQ.fake-arm-access-token.sig";
constexpr const char* kSub = "00000000-0000-0000-0000-000000000001";
constexpr const char* kVm =
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.Compute/virtualMachines/devbox-1";
constexpr const char* kCluster =
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.ContainerService/managedClusters/aks";

struct Seen {
  std::string method, path, query, body, authorization;
  steady_clock::time_point at;
};

// A fake ARM + Entra login server. Tests install handlers; every request is recorded.
class FakeAzure {
 public:
  FakeAzure() {
    // Recorded when the request arrives (its time) and completed once its body is read.
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
      std::string query;
      for (const auto& [k, v] : req.params) query += (query.empty() ? "" : "&") + k + "=" + v;
      std::lock_guard lock(mu_);
      seen_.push_back({req.method, req.path, query, "", req.get_header_value("Authorization"),
                       steady_clock::now()});
      index_[&req] = seen_.size() - 1;
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server_.set_logger([this](const httplib::Request& req, const httplib::Response&) {
      std::lock_guard lock(mu_);
      auto it = index_.find(&req);
      if (it != index_.end()) {
        seen_[it->second].body = req.body;
        index_.erase(it);
      }
    });
    server_.Post(R"(/([^/]+)/oauth2/v2.0/token)", [this](const httplib::Request& req,
                                                         httplib::Response& res) {
      ++token_requests_;
      {
        std::lock_guard lock(mu_);
        token_bodies_.push_back(req.body);
      }
      if (req.get_param_value("client_secret") == "wrong") {
        res.status = 401;
        res.set_content(
            R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"})",
            "application/json");
        return;
      }
      res.set_content(
          json{{"token_type", "Bearer"}, {"expires_in", 3599}, {"access_token", kToken}}.dump(),
          "application/json");
    });
    thread_.start();
  }
  ~FakeAzure() { thread_.stop(); }
  httplib::Server& server() { return server_; }
  std::string url() const { return thread_.url(); }
  std::vector<Seen> seen(const std::string& method_filter = "") {
    std::lock_guard lock(mu_);
    std::vector<Seen> out;
    for (const auto& s : seen_) {
      if (s.path.find("/oauth2/") != std::string::npos) continue;  // token traffic
      if (method_filter.empty() || s.method == method_filter) out.push_back(s);
    }
    return out;
  }
  std::vector<Seen> token_calls() {
    std::lock_guard lock(mu_);
    std::vector<Seen> out;
    for (const auto& s : seen_) {
      if (s.path.find("/oauth2/") != std::string::npos) out.push_back(s);
    }
    // Bodies as the handler read them (the logger may not have run yet).
    for (size_t i = 0; i < out.size() && i < token_bodies_.size(); ++i)
      out[i].body = token_bodies_[i];
    return out;
  }
  int token_requests() const { return token_requests_; }

 private:
  httplib::Server server_;
  testing::ServerThread thread_{server_};
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::map<const httplib::Request*, size_t> index_;
  std::vector<std::string> token_bodies_;
  std::atomic<int> token_requests_{0};
};

class ArmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AzureAuthConfig auth;
    auth.login_endpoint = fake_.url();
    auth.tenant_id = "tenant-1";
    auth.client_id = "app-1";
    auth.client_secret = kSecret;
    auth.az_cli.clear();
    credentials_ = std::make_unique<AzureCredentials>(auth, clock_);
    options_.endpoint = fake_.url();
    options_.base_backoff = milliseconds(10);
    options_.log = [this](const std::string& line) {
      std::lock_guard lock(log_mu_);
      log_ += line + "\n";
    };
  }
  ArmClient arm() { return ArmClient(options_, *credentials_); }

  FakeAzure fake_;
  SystemClock clock_;
  std::unique_ptr<AzureCredentials> credentials_;
  ArmOptions options_;
  std::mutex log_mu_;
  std::string log_;
};

TEST_F(ArmTest, ListsFollowNextLinkAcrossPages) {
  std::string base = std::string("/subscriptions/") + kSub +
                     "/providers/Microsoft.Compute/locations/westeurope/usages";
  fake_.server().Get(base, [&](const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("$skiptoken")) {
      res.set_content(
          R"({"value":[{"unit":"Count","currentValue":0,"limit":64,"name":{"value":"lowPriorityCores","localizedValue":"Total Regional Low-priority vCPUs"}}]})",
          "application/json");
      return;
    }
    json page{{"value",
               {{{"unit", "Count"},
                 {"currentValue", 80},
                 {"limit", 1440},
                 {"name",
                  {{"value", "standardNCadsH100v5Family"},
                   {"localizedValue", "Standard NCadsH100v5 Family vCPUs"}}}},
                {{"unit", "Count"},
                 {"currentValue", 96},
                 {"limit", 2000},
                 {"name", {{"value", "cores"}, {"localizedValue", "Total Regional vCPUs"}}}}}},
              {"nextLink", fake_.url() + base + "?api-version=2024-07-01&$skiptoken=page2"}};
    res.set_content(page.dump(), "application/json");
  });
  auto a = arm();
  auto usages = compute_usages(a, kSub, "westeurope");
  ASSERT_TRUE(usages) << usages.error().describe();
  ASSERT_EQ(usages->size(), 3u);
  EXPECT_EQ((*usages)[0].name, "standardNCadsH100v5Family");
  EXPECT_EQ((*usages)[0].used, 80);
  EXPECT_EQ((*usages)[0].limit, 1440);
  EXPECT_EQ((*usages)[2].name, "lowPriorityCores");
  auto seen = fake_.seen("GET");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0].query.find("api-version=2024-07-01"), std::string::npos);
  EXPECT_NE(seen[1].query.find("$skiptoken=page2"), std::string::npos);
  EXPECT_EQ(seen[0].authorization, std::string("Bearer ") + kToken);
}

TEST_F(ArmTest, LongRunningOperationIsPolledUntilItSucceeds) {
  std::string pool_path = std::string(kCluster) + "/agentPools/h100infer";
  json pool{{"id", std::string(kCluster) + "/agentPools/h100infer"},
            {"name", "h100infer"},
            {"properties",
             {{"count", 2},
              {"vmSize", "Standard_NC80adis_H100_v5"},
              {"enableAutoScaling", false},
              {"provisioningState", "Succeeded"},
              {"scaleDownMode", "Deallocate"}}}};
  std::atomic<int> polls{0};
  fake_.server().Get(pool_path, [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(pool.dump(), "application/json");
  });
  std::string put_body;
  fake_.server().Put(pool_path, [&](const httplib::Request& req, httplib::Response& res) {
    put_body = req.body;
    auto body = json::parse(req.body);
    pool["properties"]["count"] = body["properties"]["count"];
    res.status = 201;
    res.set_header("Azure-AsyncOperation",
                   fake_.url() +
                       "/subscriptions/x/providers/Microsoft.ContainerService/locations/"
                       "westeurope/operations/op-1?api-version=2024-09-01");
    res.set_header("Retry-After", "0");
    res.set_content(pool.dump(), "application/json");
  });
  fake_.server().Get(
      "/subscriptions/x/providers/Microsoft.ContainerService/locations/westeurope/operations/op-1",
      [&](const httplib::Request&, httplib::Response& res) {
        int n = ++polls;
        res.set_header("Retry-After", "0");
        res.set_content(json{{"name", "op-1"},
                             {"status", n < 3 ? "InProgress" : "Succeeded"},
                             {"startTime", "2026-11-27T10:00:00Z"}}
                            .dump(),
                        "application/json");
      });
  auto a = arm();
  auto r = scale_agent_pool(a, kCluster, "h100infer", 4);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(json::parse(*r)["properties"]["count"], 4);
  EXPECT_EQ(polls, 3);
  auto puts = fake_.seen("PUT");
  ASSERT_EQ(puts.size(), 1u);
  auto sent = json::parse(put_body);
  EXPECT_EQ(sent["properties"]["count"], 4);
  EXPECT_FALSE(sent["properties"].contains("provisioningState"));  // read-only, not sent
  // GET pool, PUT, 3 polls, GET the final resource.
  EXPECT_EQ(fake_.seen().size(), 6u);
}

TEST_F(ArmTest, FailedOperationIsClassifiedByItsErrorCode) {
  fake_.server().Post(std::string(kVm) + "/start",
                      [&](const httplib::Request&, httplib::Response& res) {
                        res.status = 202;
                        res.set_header("Azure-AsyncOperation", fake_.url() + "/operations/op-2");
                        res.set_header("Retry-After", "0");
                      });
  fake_.server().Get("/operations/op-2", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        R"({"status":"Failed","error":{"code":"AllocationFailed","message":"Allocation failed. We do not have sufficient capacity for the requested VM size in this region."}})",
        "application/json");
  });
  auto a = arm();
  auto r = vm_action(a, kVm, VmAction::kStart);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("AllocationFailed"), std::string::npos);
}

TEST_F(ArmTest, ThrottlingHonoursRetryAfterThenSucceeds) {
  std::atomic<int> calls{0};
  fake_.server().Get(std::string(kVm) + "/instanceView", [&](const httplib::Request&,
                                                             httplib::Response& res) {
    if (++calls == 1) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_header("x-ms-ratelimit-remaining-subscription-reads", "0");
      res.set_content(
          R"({"error":{"code":"TooManyRequests","message":"The request is being throttled."}})",
          "application/json");
      return;
    }
    res.set_content(
        R"({"statuses":[{"code":"ProvisioningState/succeeded","level":"Info"},{"code":"PowerState/deallocated","level":"Info"},{"code":"HibernationState/Hibernated","level":"Info"}]})",
        "application/json");
  });
  auto a = arm();
  auto s = vm_status(a, kVm);
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ(s->power, "deallocated");
  EXPECT_EQ(s->hibernation, "Hibernated");
  auto seen = fake_.seen("GET");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_GE(seen[1].at - seen[0].at, milliseconds(1000));  // the wait was honoured
  EXPECT_NE(log_.find("subscription-reads 0"), std::string::npos) << log_;
}

TEST_F(ArmTest, ServerErrorIsRetriedForIdempotentRequests) {
  std::atomic<int> calls{0};
  fake_.server().Get(
      std::string(kVm) + "/instanceView", [&](const httplib::Request&, httplib::Response& res) {
        if (++calls == 1) {
          res.status = 500;
          res.set_content(
              R"({"error":{"code":"InternalServerError","message":"An internal error occurred."}})",
              "application/json");
          return;
        }
        res.set_content(R"({"statuses":[{"code":"PowerState/running"}]})", "application/json");
      });
  auto a = arm();
  auto s = vm_status(a, kVm);
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ(s->power, "running");
  EXPECT_EQ(fake_.seen("GET").size(), 2u);
}

TEST_F(ArmTest, QuotaExceededIsInfeasibleAndNotRetried) {
  std::string pool_path = std::string(kCluster) + "/agentPools/h100train";
  fake_.server().Get(pool_path, [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"properties":{"count":30,"enableAutoScaling":false}})", "application/json");
  });
  fake_.server().Put(pool_path, [&](const httplib::Request&, httplib::Response& res) {
    res.status = 400;
    res.set_content(
        R"({"error":{"code":"QuotaExceeded","message":"Provisioning of resource(s) for container service aks in resource group rg failed. Message: Operation could not be completed as it results in exceeding approved standardNCadsH100v5Family Cores quota. Current Limit: 1440, Current Usage: 1440, Additional Required: 40"}})",
        "application/json");
  });
  auto a = arm();
  auto r = scale_agent_pool(a, kCluster, "h100train", 37);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInfeasible);
  EXPECT_EQ(r.error().location, "QuotaExceeded");
  EXPECT_NE(r.error().message.find("Current Limit: 1440"), std::string::npos);
  EXPECT_EQ(fake_.seen("PUT").size(), 1u);  // not retried
}

TEST_F(ArmTest, TimeoutOnAMutatingCallIsNeverSentTwice) {
  fake_.server().Post(std::string(kVm) + "/deallocate",
                      [&](const httplib::Request&, httplib::Response& res) {
                        std::this_thread::sleep_for(milliseconds(1500));
                        res.status = 202;
                      });
  options_.request_timeout = milliseconds(300);
  auto a = arm();
  auto r = vm_action(a, kVm, VmAction::kHibernate);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("not sent again"), std::string::npos) << r.error().message;
  std::this_thread::sleep_for(milliseconds(1800));  // anything resent would have arrived
  auto posts = fake_.seen("POST");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_NE(posts[0].query.find("hibernate=true"), std::string::npos);
}

TEST_F(ArmTest, ServerErrorOnAnActionIsNotResent) {
  fake_.server().Post(std::string(kVm) + "/start",
                      [&](const httplib::Request&, httplib::Response& res) { res.status = 503; });
  auto a = arm();
  auto r = vm_action(a, kVm, VmAction::kStart);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(fake_.seen("POST").size(), 1u);
}

TEST_F(ArmTest, CostQueryAndBudgets) {
  std::string scope = std::string("/subscriptions/") + kSub;
  fake_.server().Post(scope + "/providers/Microsoft.CostManagement/query", [&](const httplib::
                                                                                   Request& req,
                                                                               httplib::Response&
                                                                                   res) {
    auto q = json::parse(req.body);
    EXPECT_EQ(q["timeframe"], "MonthToDate");
    res.set_content(
        R"({"properties":{"columns":[{"name":"Cost","type":"Number"},{"name":"ResourceGroupName","type":"String"},{"name":"Currency","type":"String"}],"rows":[[1234.5678,"rg-prod","USD"],[0.01,"rg-dev","USD"]]}})",
        "application/json");
  });
  std::string budget = scope + "/providers/Microsoft.Consumption/budgets/monthly";
  std::string budget_body;
  fake_.server().Put(budget, [&](const httplib::Request& req, httplib::Response& res) {
    budget_body = req.body;
    res.status = 201;
    res.set_content(req.body, "application/json");
  });
  auto a = arm();
  auto rows = month_to_date_cost(a, scope);
  ASSERT_TRUE(rows) << rows.error().describe();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].cost, *Money::parse("1234.5678"));
  EXPECT_EQ((*rows)[0].group, "rg-prod");
  auto b = put_budget(a, scope, "monthly", Money::from_usd(120000), {50, 80, 100},
                      {"finops@example.com"}, "2026-11-01T00:00:00Z");
  ASSERT_TRUE(b) << b.error().describe();
  auto sent = json::parse(budget_body);
  EXPECT_EQ(sent["properties"]["amount"], 120000);
  EXPECT_EQ(sent["properties"]["notifications"]["actual_80"]["threshold"], 80);
}

TEST_F(ArmTest, DryRunSendsNothingAndRedactsTheToken) {
  std::string printed;
  options_.dry_run = true;
  options_.print = [&](const std::string& text) { printed += text; };
  auto a = arm();
  ASSERT_TRUE(vm_action(a, kVm, VmAction::kHibernate));
  EXPECT_TRUE(fake_.seen().empty());
  EXPECT_EQ(fake_.token_requests(), 0);
  EXPECT_NE(printed.find("POST " + fake_.url() + kVm + "/deallocate?hibernate=true"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("Bearer <redacted>"), std::string::npos);
  EXPECT_EQ(printed.find(kToken), std::string::npos);
}

TEST_F(ArmTest, LogsAndErrorsNeverCarrySecrets) {
  fake_.server().Get(std::string(kVm) + "/instanceView",
                     [&](const httplib::Request&, httplib::Response& res) {
                       res.set_content(R"({"statuses":[]})", "application/json");
                     });
  auto a = arm();
  ASSERT_TRUE(vm_status(a, kVm));
  EXPECT_FALSE(log_.empty());
  EXPECT_EQ(log_.find(kToken), std::string::npos);
  EXPECT_EQ(log_.find(kSecret), std::string::npos);
  // Refused credentials: the AADSTS code, never the secret.
  AzureAuthConfig bad;
  bad.login_endpoint = fake_.url();
  bad.tenant_id = "tenant-1";
  bad.client_id = "app-1";
  bad.client_secret = "wrong";
  AzureCredentials refused(bad, clock_);
  auto t = refused.token("https://management.azure.com/.default");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(t.error().message.find("AADSTS7000215"), std::string::npos) << t.error().message;
  EXPECT_EQ(t.error().message.find("wrong"), std::string::npos);
}

// --- token providers

class TokenTest : public ::testing::Test {
 protected:
  FakeAzure fake_;
  SimulatedClock clock_{*parse_rfc3339("2026-11-27T10:00:00Z")};
  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / ("cf_tokens_" + std::to_string(::getpid()));
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
};

TEST_F(TokenTest, ClientSecretIsCachedUntilNearExpiry) {
  AzureAuthConfig c;
  c.login_endpoint = fake_.url();
  c.tenant_id = "tenant-1";
  c.client_id = "app-1";
  c.client_secret = kSecret;
  AzureCredentials creds(c, clock_);
  EXPECT_EQ(creds.provider(), "client-secret");
  auto a = creds.token("https://management.azure.com/.default");
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->value, kToken);
  clock_.advance(minutes(50));  // 3599 s token: still more than 5 minutes left
  ASSERT_TRUE(creds.token("https://management.azure.com/.default"));
  EXPECT_EQ(creds.fetches(), 1);
  clock_.advance(minutes(6));  // now within 5 minutes of expiry: refreshed
  ASSERT_TRUE(creds.token("https://management.azure.com/.default"));
  EXPECT_EQ(creds.fetches(), 2);
  auto calls = fake_.token_calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].path, "/tenant-1/oauth2/v2.0/token");
  EXPECT_NE(calls[0].body.find("grant_type=client_credentials"), std::string::npos);
  EXPECT_NE(calls[0].body.find("scope=https%3A%2F%2Fmanagement.azure.com%2F.default"),
            std::string::npos);
}

TEST_F(TokenTest, WorkloadIdentitySendsTheFederatedToken) {
  auto file = dir_ / "token";
  std::ofstream(file) << "federated.jwt.value\n";
  AzureAuthConfig c;
  c.login_endpoint = fake_.url();
  c.tenant_id = "tenant-1";
  c.client_id = "app-1";
  c.federated_token_file = file.string();
  AzureCredentials creds(c, clock_);
  EXPECT_EQ(creds.provider(), "workload-identity");
  ASSERT_TRUE(creds.token("https://management.azure.com/.default"));
  auto body = fake_.token_calls().at(0).body;
  EXPECT_NE(body.find("client_assertion=federated.jwt.value"), std::string::npos) << body;
  EXPECT_NE(
      body.find(
          "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"),
      std::string::npos);
}

TEST_F(TokenTest, ManagedIdentityOnlyWhenConfigured) {
  std::string seen_metadata, seen_resource;
  fake_.server().Get("/metadata/identity/oauth2/token", [&](const httplib::Request& req,
                                                            httplib::Response& res) {
    seen_metadata = req.get_header_value("Metadata");
    seen_resource = req.get_param_value("resource");
    res.set_content(
        R"({"access_token":"mi-token","expires_on":"1795780800","expires_in":"3599","token_type":"Bearer"})",
        "application/json");
  });
  AzureAuthConfig none;
  none.az_cli.clear();
  EXPECT_EQ(AzureCredentials(none, clock_).provider(), "");  // nothing probed by default
  auto t = AzureCredentials(none, clock_).token("https://management.azure.com/.default");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kInvalidInput);
  AzureAuthConfig c;
  c.az_cli.clear();
  c.managed_identity_endpoint = fake_.url() + "/metadata/identity/oauth2/token";
  AzureCredentials creds(c, clock_);
  auto mi = creds.token("https://management.azure.com/.default");
  ASSERT_TRUE(mi) << mi.error().describe();
  EXPECT_EQ(mi->value, "mi-token");
  EXPECT_EQ(mi->expires_at_s, 1795780800);
  EXPECT_EQ(seen_metadata, "true");
  EXPECT_EQ(seen_resource, "https://management.azure.com");
}

TEST_F(TokenTest, AzureCliAsTheLastResort) {
  auto az = dir_ / "az";
  std::ofstream(az) << "#!/bin/sh\n"
                       "echo \"$@\" > "
                    << (dir_ / "args").string()
                    << "\n"
                       "echo '{\"accessToken\": \"cli-token\", \"expires_on\": 1795780800, "
                       "\"tokenType\": \"Bearer\"}'\n";
  ::chmod(az.c_str(), 0755);
  AzureAuthConfig c;
  c.az_cli = {az.string()};
  AzureCredentials creds(c, clock_);
  EXPECT_EQ(creds.provider(), "azure-cli");
  auto t = creds.token("https://management.azure.com/.default");
  ASSERT_TRUE(t) << t.error().describe();
  EXPECT_EQ(t->value, "cli-token");
  std::ifstream args(dir_ / "args");
  std::string line;
  std::getline(args, line);
  EXPECT_EQ(line,
            "account get-access-token --scope https://management.azure.com/.default --output json");
  c.az_cli = {(dir_ / "missing-az").string()};
  auto missing = AzureCredentials(c, clock_).token("https://management.azure.com/.default");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("az login"), std::string::npos);
}

// --- the daemon on a real AKS cluster: node decisions become agent pool counts

class AksMirrorTest : public ArmTest {
 protected:
  void SetUp() override {
    ArmTest::SetUp();
    parsed_ = std::make_unique<ParsedSpec>(
        *parse_spec_file(std::string(CODEFLEET_FIXTURES) + "/serve/small.yaml"));
    FleetModelOptions mo;
    mo.price_fallback_region = "eastus";
    model_ = std::make_unique<FleetModel>(
        *build_fleet_model(parsed_->spec, *Catalog::load_default(), mo));
    fresh_ = std::make_unique<testing::FreshStore>("sqlite");
    store_ = std::move(*open_store(fresh_->url()));
    fake_.server().Get(pool_path_, [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(pool_mu_);
      if (unreadable_) {
        res.set_content(R"({"properties": {"count": "three"}})", "application/json");
        return;
      }
      res.set_content(
          json{{"properties", {{"count", count_}, {"enableAutoScaling", false}}}}.dump(),
          "application/json");
    });
    fake_.server().Put(pool_path_, [this](const httplib::Request& req, httplib::Response& res) {
      int64_t want = json::parse(req.body)["properties"]["count"];
      std::lock_guard lock(pool_mu_);
      puts_.push_back(want);
      if (want > limit_) {
        res.status = 400;
        res.set_content(
            R"({"error":{"code":"QuotaExceeded","message":"Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota."}})",
            "application/json");
        return;
      }
      count_ = want;
      res.set_content(json{{"properties", {{"count", count_}}}}.dump(), "application/json");
    });
  }
  void submit(int n) {
    for (int i = 0; i < n; ++i) {
      StoredTask t;
      t.id = "t" + std::to_string(i);
      t.tenant = "default";
      t.class_name = "build";
      t.body_json = R"({"class": "build"})";
      t.created_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
      ASSERT_TRUE(store_->create_task({t, ""}));
    }
  }
  int64_t azure_count() {
    std::lock_guard lock(pool_mu_);
    return count_;
  }
  // The daemon's loop on the mirror: the cluster autoscaler's policy (a node unneeded for
  // 10 minutes goes), 10 simulated minutes a second, workers outside (tasks run until told).
  static ControllerOptions mirrored(AksCloud& aks) {
    ControllerOptions co;
    co.strategy = "cluster-autoscaler";
    co.simulate_workers = false;
    co.speed = 600;
    co.mirror = &aks;
    return co;
  }
  std::string pool_path_ = std::string(kCluster) + "/agentPools/cpupool";
  std::unique_ptr<ParsedSpec> parsed_;
  std::unique_ptr<FleetModel> model_;
  std::unique_ptr<testing::FreshStore> fresh_;
  std::unique_ptr<Store> store_;
  std::mutex pool_mu_;
  int64_t count_ = 0, limit_ = 100;
  bool unreadable_ = false;  // GET answers a count that is not a number
  std::vector<int64_t> puts_;
};

TEST_F(AksMirrorTest, NodeDecisionsBecomeAgentPoolCounts) {
  AksCloudOptions ao{kCluster, {{"cpu", "cpupool"}}, milliseconds(50)};
  ASSERT_TRUE(AksCloud::check(*model_, ao));
  auto a = arm();
  AksCloud aks(a, ao);
  Controller controller(*model_, *store_, mirrored(aks));
  ASSERT_TRUE(controller.start());
  submit(3);  // three 4-vCPU tasks, one per D4s_v5 node
  controller.notify();
  for (int i = 0; i < 200 && azure_count() != 3; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(azure_count(), 3);
  EXPECT_EQ(aks.applied().at("cpupool"), 3);
  EXPECT_EQ(aks.failures(), 0);
  controller.stop();
}

TEST_F(AksMirrorTest, ADaemonTakingOverAdoptsTheNodesThePoolHas) {
  count_ = 3;  // the agent pool already runs three nodes (an earlier daemon's)
  AksCloudOptions ao{kCluster, {{"cpu", "cpupool"}}, milliseconds(50)};
  auto a = arm();
  AksCloud aks(a, ao);
  Controller controller(*model_, *store_, mirrored(aks));
  ASSERT_TRUE(controller.start());
  std::this_thread::sleep_for(200ms);  // two simulated minutes
  {
    std::lock_guard lock(pool_mu_);
    EXPECT_TRUE(puts_.empty()) << "the pool was rescaled at start: " << puts_.front();
  }
  EXPECT_EQ(aks.applied().at("cpupool"), 3);
  // Two tasks land on adopted nodes (no scale-up); the third node, idle, goes after ten
  // minutes, and only it.
  submit(2);
  controller.notify();
  for (int i = 0; i < 300 && azure_count() != 2; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(azure_count(), 2);
  {
    std::lock_guard lock(pool_mu_);
    EXPECT_EQ(puts_, std::vector<int64_t>{2});
  }
  EXPECT_EQ(aks.failures(), 0);
  controller.stop();
}

TEST_F(AksMirrorTest, ANodeCountAzureCannotReadKeepsTheDaemonFromLeading) {
  AksCloudOptions ao{kCluster, {{"cpu", "cpupool"}}, milliseconds(50)};
  auto a = arm();
  AksCloud aks(a, ao);
  {
    std::lock_guard lock(pool_mu_);
    unreadable_ = true;
  }
  auto existing = aks.existing_nodes();
  ASSERT_FALSE(existing);
  EXPECT_NE(existing.error().message.find("cpupool"), std::string::npos)
      << existing.error().message;
  // The daemon does not lead (nor touch the pool) until it can read it.
  Controller controller(*model_, *store_, mirrored(aks));
  ASSERT_TRUE(controller.start());
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(controller.snapshot().leading);
  {
    std::lock_guard lock(pool_mu_);
    EXPECT_TRUE(puts_.empty());
  }
  {
    std::lock_guard lock(pool_mu_);
    unreadable_ = false;  // readable again: it leads
  }
  for (int i = 0; i < 300 && !controller.snapshot().leading; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(controller.snapshot().leading);
  EXPECT_EQ(aks.applied().at("cpupool"), 0);  // read: nothing to adopt, nothing rescaled
  controller.stop();
}

TEST_F(AksMirrorTest, NoCountIsSentWhileATakeoverAdoptsNorWhenItCannotReadThePools) {
  count_ = 3;
  AksCloudOptions ao{kCluster, {{"cpu", "cpupool"}}, milliseconds(50)};
  auto a = arm();
  AksCloud aks(a, ao);
  auto existing = aks.existing_nodes();
  ASSERT_TRUE(existing) << existing.error().describe();
  EXPECT_EQ(existing->at("cpu"), 3);
  const PoolModel& cpu = model_->pools.at(0);
  TimePoint now = TimePoint{} + hours(1);
  aks.adopt_vm(cpu, 1, now);  // one adopted so far: the worker must not send 1
  std::this_thread::sleep_for(200ms);
  aks.adopt_vm(cpu, 2, now);
  aks.adopt_vm(cpu, 3, now);
  aks.adoption_done();
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard lock(pool_mu_);
    EXPECT_TRUE(puts_.empty()) << "sent " << puts_.front();
    unreadable_ = true;
  }
  // A takeover that cannot read the pools changes nothing: no count goes out.
  EXPECT_FALSE(aks.existing_nodes());
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard lock(pool_mu_);
    EXPECT_TRUE(puts_.empty()) << "sent " << puts_.front();
  }
  EXPECT_EQ(aks.applied().at("cpupool"), 3);
  // Once the nodes come and go as the daemon decides, counts go out again.
  aks.delete_vm(cpu, 3, now);
  for (int i = 0; i < 100 && azure_count() != 2; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(azure_count(), 2);
}

TEST_F(AksMirrorTest, EachAgentPoolBelongsToOneSpecPool) {
  auto extra =
      AksCloud::check(*model_, AksCloudOptions{kCluster, {{"cpu", "cpupool"}, {"gpu", "gpupool"}}});
  ASSERT_FALSE(extra);
  EXPECT_NE(extra.error().message.find("'gpu' is not a pool of the spec"), std::string::npos)
      << extra.error().message;
  auto parsed =
      parse_spec_file(std::string(CODEFLEET_FIXTURES) + "/../../examples/recommended.yaml");
  ASSERT_TRUE(parsed);
  FleetModelOptions mo;
  mo.price_fallback_region = "eastus";
  auto model = build_fleet_model(parsed->spec, *Catalog::load_default(), mo);
  ASSERT_TRUE(model);
  AksCloudOptions twice{kCluster, {}};
  for (const auto& p : model->pools) twice.agent_pools[p.name] = "pool" + std::to_string(p.index);
  EXPECT_TRUE(AksCloud::check(*model, twice));
  twice.agent_pools["general"] = twice.agent_pools["ci"];
  auto dup = AksCloud::check(*model, twice);
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("mapped to both"), std::string::npos) << dup.error().message;
  // A pool the cluster autoscaler sizes is the autoscaler's alone: mapping it is refused,
  // and leaving it out is what is asked.
  for (const auto& p : model->pools) twice.agent_pools[p.name] = "pool" + std::to_string(p.index);
  model->pools[0].autoscaled = true;
  auto shared = AksCloud::check(*model, twice);
  ASSERT_FALSE(shared);
  EXPECT_NE(shared.error().message.find("sized by the AKS cluster autoscaler"), std::string::npos)
      << shared.error().message;
  EXPECT_EQ(shared.error().location, "cloud.pools." + model->pools[0].name);
  twice.agent_pools.erase(model->pools[0].name);
  EXPECT_TRUE(AksCloud::check(*model, twice));
}

TEST_F(AksMirrorTest, ARefusedScaleUpLosesTheNodesAndRequeuesTheirTasks) {
  limit_ = 2;  // Azure holds at most two nodes (QuotaExceeded beyond)
  AksCloudOptions ao{kCluster, {{"cpu", "cpupool"}}, milliseconds(50)};
  auto a = arm();
  AksCloud aks(a, ao);
  Controller controller(*model_, *store_, mirrored(aks));
  ASSERT_TRUE(controller.start());
  submit(4);
  controller.notify();
  bool lost = false;
  for (int i = 0; i < 300 && !lost; ++i) {
    std::this_thread::sleep_for(20ms);
    for (int t = 0; t < 4 && !lost; ++t) {
      auto events = store_->task_events("t" + std::to_string(t));
      for (const auto& e : *events) lost = lost || e.kind == "node_lost";
    }
  }
  std::string history;
  for (int t = 0; t < 4; ++t) {
    history += "t" + std::to_string(t) + ":";
    auto events = store_->task_events("t" + std::to_string(t));
    for (const auto& e : *events) history += " " + e.kind;
    history += "\n";
  }
  EXPECT_TRUE(lost) << "no task was requeued after the refused scale-up\n" << history;
  EXPECT_GE(aks.failures(), 1);
  EXPECT_NE(aks.last_error().find("QuotaExceeded"), std::string::npos);
  EXPECT_LE(azure_count(), 2);
  controller.stop();
  auto missing = AksCloud::check(*model_, AksCloudOptions{kCluster, {}, milliseconds(50)});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cpu"), std::string::npos);
}

}  // namespace
}  // namespace codefleet
