// The daemon's HTTP API over real HTTP on loopback, against both stores: every endpoint,
// every role (401, 403, tenant isolation), the task lifecycle, alerts to a webhook, and
// bad input that must get a clean 4xx while the daemon keeps serving.
#include <httplib.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/daemon_fixture.h"
#include "integration/test_stores.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using namespace std::chrono;

constexpr const char* kAdmin = testing::kAdminKey;

using testing::Daemon;
using testing::Reply;
using testing::Webhook;

class ApiTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    fresh_ = std::make_unique<testing::FreshStore>(GetParam());
    if (fresh_->url().empty()) GTEST_FAIL() << "no store";
    daemon_ = std::make_unique<Daemon>(fresh_->url(), webhook_.url());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", daemon_->port());
    viewer_ = make_key("viewer", "");
    submitter_a_ = make_key("submitter", "acme");
    submitter_b_ = make_key("submitter", "globex");
    operator_ = make_key("operator", "");
  }
  void TearDown() override {
    client_.reset();
    daemon_.reset();
    fresh_.reset();
  }

  Reply call(const std::string& method, const std::string& path, const std::string& key,
             const std::string& body = "", httplib::Headers headers = {}) {
    return testing::http_call(*client_, method, path, key, body, std::move(headers));
  }
  std::string make_key(const std::string& role, const std::string& tenant) {
    json body{{"name", role + " " + tenant}, {"role", role}};
    if (!tenant.empty()) body["tenant"] = tenant;
    auto r = call("POST", "/v1/keys", kAdmin, body.dump());
    EXPECT_EQ(r.status, 201) << r.text;
    return r.body.value("secret", "");
  }
  // Polls until the task reaches `state` (or gives up after 10 s).
  json wait_for(const std::string& id, const std::string& state) {
    json last;
    for (int i = 0; i < 200; ++i) {
      auto r = call("GET", "/v1/tasks/" + id, operator_);
      last = r.body;
      if (r.status == 200 && last["state"] == state) return last;
      std::this_thread::sleep_for(milliseconds(50));
    }
    ADD_FAILURE() << "task " << id << " never became " << state << ": " << last.dump();
    return last;
  }

  Webhook webhook_;
  std::unique_ptr<testing::FreshStore> fresh_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<httplib::Client> client_;
  std::string viewer_, submitter_a_, submitter_b_, operator_;
};

TEST_P(ApiTest, HealthAndReadinessAreOpenEverythingElseNeedsAKey) {
  EXPECT_EQ(call("GET", "/healthz", "").status, 200);
  Reply ready;
  for (int i = 0; i < 100 && ready.status != 200; ++i) {
    ready = call("GET", "/readyz", "");
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(ready.status, 200) << ready.text;
  EXPECT_EQ(ready.body["store"], GetParam());
  for (auto [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/metrics"},
                                                        {"GET", "/v1/openapi.json"},
                                                        {"POST", "/v1/tasks"},
                                                        {"GET", "/v1/tasks"},
                                                        {"GET", "/v1/tasks/x"},
                                                        {"DELETE", "/v1/tasks/x"},
                                                        {"POST", "/v1/tasks/x/events"},
                                                        {"POST", "/v1/route"},
                                                        {"GET", "/v1/pools"},
                                                        {"GET", "/v1/quotas"},
                                                        {"GET", "/v1/costs"},
                                                        {"GET", "/v1/budgets"},
                                                        {"GET", "/v1/alerts"},
                                                        {"GET", "/v1/keys"},
                                                        {"POST", "/v1/keys"},
                                                        {"PATCH", "/v1/keys/x"},
                                                        {"DELETE", "/v1/keys/x"},
                                                        {"GET", "/v1/llm/usage"}}) {
    auto r = call(method, path, "", "{}");
    EXPECT_EQ(r.status, 401) << method << " " << path;
    EXPECT_EQ(r.body["error"]["code"], "unauthorized") << method << " " << path;
    auto bad = call(method, path, "cfk_not_a_real_key", "{}");
    EXPECT_EQ(bad.status, 401) << method << " " << path;
    auto jwt = call(method, path, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "{}");
    EXPECT_EQ(jwt.status, 401) << method << " " << path;
  }
}

TEST_P(ApiTest, RolesAreEnforced) {
  std::string task = R"({"class": "build"})";
  // viewer: reads only
  for (const char* path : {"/v1/pools", "/v1/quotas", "/v1/budgets", "/v1/costs", "/v1/alerts",
                           "/v1/tasks", "/metrics", "/v1/openapi.json", "/v1/llm/usage"}) {
    EXPECT_EQ(call("GET", path, viewer_).status, 200) << path;
  }
  EXPECT_EQ(call("POST", "/v1/tasks", viewer_, task).status, 403);
  EXPECT_EQ(call("POST", "/v1/route", viewer_, task).status, 403);
  EXPECT_EQ(call("GET", "/v1/keys", viewer_).status, 403);
  // submitter: tasks and dry runs, no keys
  EXPECT_EQ(call("POST", "/v1/tasks", submitter_a_, task).status, 201);
  EXPECT_EQ(call("POST", "/v1/route", submitter_a_, task).status, 200);
  EXPECT_EQ(call("GET", "/v1/keys", submitter_a_).status, 403);
  EXPECT_EQ(call("POST", "/v1/keys", submitter_a_, R"({"role":"admin"})").status, 403);
  // operator: everything but keys
  EXPECT_EQ(call("POST", "/v1/tasks", operator_, task).status, 201);
  EXPECT_EQ(call("GET", "/v1/keys", operator_).status, 403);
  // admin: keys
  auto keys = call("GET", "/v1/keys", kAdmin);
  ASSERT_EQ(keys.status, 200);
  EXPECT_EQ(keys.body["items"].size(), 5u);
  for (const auto& k : keys.body["items"]) EXPECT_FALSE(k.contains("secret"));
  EXPECT_EQ(keys.text.find(submitter_a_), std::string::npos);
}

TEST_P(ApiTest, TenantsSeeOnlyTheirOwnTasks) {
  auto a = call("POST", "/v1/tasks", submitter_a_, R"({"class": "build"})");
  ASSERT_EQ(a.status, 201) << a.text;
  EXPECT_EQ(a.body["tenant"], "acme");
  std::string id = a.body["id"];
  EXPECT_EQ(call("GET", "/v1/tasks/" + id, submitter_a_).status, 200);
  EXPECT_EQ(call("GET", "/v1/tasks/" + id, submitter_b_).status, 404);
  EXPECT_EQ(call("DELETE", "/v1/tasks/" + id, submitter_b_).status, 404);
  EXPECT_EQ(
      call("POST", "/v1/tasks/" + id + "/events", submitter_b_, R"({"type":"failed"})").status,
      404);
  auto list_b = call("GET", "/v1/tasks", submitter_b_);
  EXPECT_EQ(list_b.body["items"].size(), 0u);
  EXPECT_EQ(call("GET", "/v1/tasks?tenant=acme", submitter_b_).status, 403);
  EXPECT_EQ(call("POST", "/v1/tasks", submitter_b_, R"({"class":"build","tenant":"acme"})").status,
            403);
  // Viewers and operators without a tenant see every tenant.
  EXPECT_EQ(call("GET", "/v1/tasks/" + id, viewer_).status, 200);
  EXPECT_EQ(call("GET", "/v1/tasks?tenant=acme", viewer_).body["items"].size(), 1u);
}

TEST_P(ApiTest, IdempotencyKeyNeverCreatesASecondTask) {
  httplib::Headers h{{"Idempotency-Key", "job-42"}};
  auto first = call("POST", "/v1/tasks", submitter_a_, R"({"class": "build"})", h);
  auto again = call("POST", "/v1/tasks", submitter_a_, R"({"class": "build"})", h);
  ASSERT_EQ(first.status, 201);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(first.body["id"], again.body["id"]);
  EXPECT_EQ(again.headers.find("Idempotent-Replayed")->second, "true");
  auto different =
      call("POST", "/v1/tasks", submitter_a_, R"({"class": "build", "priority": 99})", h);
  EXPECT_EQ(different.status, 422);
  // Another tenant's identical key is its own.
  EXPECT_EQ(call("POST", "/v1/tasks", submitter_b_, R"({"class": "build"})", h).status, 201);
  EXPECT_EQ(call("GET", "/v1/tasks?tenant=acme", operator_).body["items"].size(), 1u);
  // A duplicate explicit id without a key is a conflict.
  EXPECT_EQ(call("POST", "/v1/tasks", submitter_a_, R"({"class":"build","id":"fixed"})").status,
            201);
  EXPECT_EQ(call("POST", "/v1/tasks", submitter_a_, R"({"class":"build","id":"fixed"})").status,
            409);
}

TEST_P(ApiTest, TaskLifecycleThroughTheReconcileLoopAndWorkers) {
  auto r = call("POST", "/v1/tasks", submitter_a_, R"({"class": "build", "duration_s": 3600000})");
  ASSERT_EQ(r.status, 201) << r.text;
  std::string id = r.body["id"];
  EXPECT_EQ(r.headers.find("Location")->second, "/v1/tasks/" + id);
  json admitted = wait_for(id, "admitted");
  EXPECT_EQ(admitted["pool"], "cpu");
  // A worker reports: started, then finished.
  EXPECT_EQ(
      call("POST", "/v1/tasks/" + id + "/events", submitter_a_, R"({"type":"started"})").status,
      200);
  auto done = call("POST", "/v1/tasks/" + id + "/events", operator_,
                   R"({"type":"finished","message":"exit 0"})");
  EXPECT_EQ(done.status, 200) << done.text;
  EXPECT_EQ(done.body["state"], "completed");
  EXPECT_EQ(call("POST", "/v1/tasks/" + id + "/events", operator_, R"({"type":"failed"})").status,
            409);
  EXPECT_EQ(call("DELETE", "/v1/tasks/" + id, submitter_a_).status, 409);
  auto got = call("GET", "/v1/tasks/" + id, viewer_);
  std::vector<std::string> kinds;
  for (const auto& e : got.body["events"]) kinds.push_back(e["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"submitted", "admitted", "started", "finished"}));
  // Cancelling a pending or admitted task.
  auto c = call("POST", "/v1/tasks", submitter_a_, R"({"class": "build"})");
  auto cancelled = call("DELETE", "/v1/tasks/" + std::string(c.body["id"]), submitter_a_);
  EXPECT_EQ(cancelled.status, 200);
  EXPECT_EQ(cancelled.body["state"], "cancelled");
  // Paging and filters.
  auto page = call("GET", "/v1/tasks?limit=1&state=completed", viewer_);
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.body["items"].size(), 1u);
  auto next = page.body["next_page_token"];
  ASSERT_TRUE(next.is_string());
  auto page2 =
      call("GET", "/v1/tasks?limit=1&state=completed&page_token=" + std::string(next), viewer_);
  EXPECT_EQ(page2.body["items"].size(), 0u);
  EXPECT_TRUE(page2.body["next_page_token"].is_null());
}

TEST_P(ApiTest, FleetCostBudgetAndRouteEndpoints) {
  auto route = call("POST", "/v1/route", submitter_a_, R"({"class": "build"})");
  ASSERT_EQ(route.status, 200) << route.text;
  EXPECT_EQ(route.body["decision"]["target"]["name"], "cpu");
  auto pools = call("GET", "/v1/pools", viewer_);
  ASSERT_EQ(pools.body["items"].size(), 1u);
  EXPECT_EQ(pools.body["items"][0]["sku"], "Standard_D4s_v5");
  EXPECT_FALSE(pools.body["items"][0]["price_source"].get<std::string>().empty());
  auto quotas = call("GET", "/v1/quotas", viewer_);
  bool family = false;
  for (const auto& q : quotas.body["items"]) {
    if (q["name"] == "standardDSv5Family") family = q["limit_vcpus"] == 16;
  }
  EXPECT_TRUE(family) << quotas.text;
  auto budgets = call("GET", "/v1/budgets", viewer_);
  ASSERT_EQ(budgets.body["items"].size(), 1u);
  EXPECT_EQ(budgets.body["items"][0]["amount_usd"], 5);
  // Run a task so cost accrues, then read it back.
  auto t = call("POST", "/v1/tasks", submitter_a_, R"({"class": "build"})");
  wait_for(t.body["id"], "admitted");
  json costs;
  for (int i = 0; i < 100; ++i) {
    costs = call("GET", "/v1/costs", viewer_).body;
    if (costs["total_usd"].is_number() && costs["total_usd"].get<double>() > 0) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_GT(costs["total_usd"].get<double>(), 0) << costs.dump();
  EXPECT_TRUE(costs["by_pool"].contains("cpu"));
  EXPECT_EQ(call("GET", "/v1/costs?from=yesterday", viewer_).status, 400);
  EXPECT_EQ(
      call("GET", "/v1/costs?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", viewer_).status,
      400);
  auto openapi = call("GET", "/v1/openapi.json", viewer_);
  EXPECT_EQ(openapi.body["openapi"].get<std::string>().substr(0, 2), "3.");
}

TEST_P(ApiTest, QuotaAlertsFireAndReachTheWebhook) {
  // Four 4-vCPU tasks fill the 16-vCPU family: 80, 90 and 100% fire.
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(call("POST", "/v1/tasks", submitter_a_, R"({"class": "build"})").status, 201);
  }
  json alerts;
  for (int i = 0; i < 200; ++i) {
    alerts = call("GET", "/v1/alerts?state=firing", viewer_).body;
    if (alerts["items"].size() >= 3) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  std::set<std::string> keys;
  for (const auto& a : alerts["items"]) keys.insert(a["key"]);
  EXPECT_TRUE(keys.count("quota:westeurope:standardDSv5Family:100")) << alerts.dump();
  EXPECT_TRUE(keys.count("quota:westeurope:standardDSv5Family:80"));
  EXPECT_EQ(call("GET", "/v1/alerts?state=bogus", viewer_).status, 400);
  bool delivered = false;
  for (int i = 0; i < 100 && !delivered; ++i) {
    for (const auto& b : webhook_.bodies()) {
      delivered = delivered || (b["schemaId"] == "azureMonitorCommonAlertSchema" &&
                                b["data"]["essentials"]["monitorCondition"] == "Fired" &&
                                b["data"]["essentials"]["originAlertId"] ==
                                    "quota:westeurope:standardDSv5Family:100");
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(delivered);
  auto metrics = call("GET", "/metrics", viewer_);
  EXPECT_NE(
      metrics.text.find("codefleet_alert_firing{alert=\"quota:westeurope:standardDSv5Family:100\""),
      std::string::npos);
}

TEST_P(ApiTest, KeysAreCreatedListedAndRevoked) {
  auto k = call("POST", "/v1/keys", kAdmin, R"({"name":"temp","role":"viewer"})");
  ASSERT_EQ(k.status, 201);
  std::string secret = k.body["secret"];
  EXPECT_EQ(secret.substr(0, 4), "cfk_");
  EXPECT_EQ(call("GET", "/v1/pools", secret).status, 200);
  EXPECT_EQ(call("DELETE", "/v1/keys/" + std::string(k.body["id"]), kAdmin).status, 200);
  EXPECT_EQ(call("GET", "/v1/pools", secret).status, 401);
  EXPECT_EQ(call("DELETE", "/v1/keys/key-admin", kAdmin).status, 409);
  EXPECT_EQ(call("DELETE", "/v1/keys/nope", kAdmin).status, 404);
  EXPECT_EQ(call("POST", "/v1/keys", kAdmin, R"({"name":"x","role":"root"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/keys", kAdmin, R"({"name":"x","role":"submitter"})").status, 400);
  // Operator and admin keys are never tenant-scoped (no scoped admin can mint a global key).
  EXPECT_EQ(call("POST", "/v1/keys", kAdmin, R"({"name":"x","role":"admin","tenant":"a"})").status,
            400);
  EXPECT_EQ(
      call("POST", "/v1/keys", kAdmin, R"({"name":"x","role":"operator","tenant":"a"})").status,
      400);
}

TEST_P(ApiTest, KeysCarryLlmLimitsThatAdminsChange) {
  auto k = call("POST", "/v1/keys", kAdmin,
                R"({"name":"agent","role":"submitter","tenant":"acme",
                    "llm":{"budget_usd_month":"50.00","rpm":60,"tpm":100000}})");
  ASSERT_EQ(k.status, 201) << k.text;
  EXPECT_EQ(k.body["llm"], json::parse(R"({"budget_usd_month":50,"rpm":60,"tpm":100000})"));
  std::string id = k.body["id"];
  auto find = [&](const std::string& key_id) {
    auto keys = call("GET", "/v1/keys", kAdmin);
    for (const auto& item : keys.body["items"]) {
      if (item["id"] == key_id) return item;
    }
    return json();
  };
  EXPECT_EQ(find(id)["llm"], k.body["llm"]);
  // Keys made without limits have none (0 = no limit).
  EXPECT_EQ(find("key-admin")["llm"], json::parse(R"({"budget_usd_month":0,"rpm":0,"tpm":0})"));
  // PATCH changes the fields it names; the others stay.
  auto patched = call("PATCH", "/v1/keys/" + id, kAdmin,
                      R"({"llm":{"rpm":10,"budget_usd_month":"0.000300"}})");
  ASSERT_EQ(patched.status, 200) << patched.text;
  EXPECT_EQ(patched.body["id"], id);
  EXPECT_EQ(patched.body["tenant"], "acme");
  EXPECT_EQ(patched.body["llm"],
            json::parse(R"({"budget_usd_month":0.0003,"rpm":10,"tpm":100000})"));
  EXPECT_EQ(find(id)["llm"], patched.body["llm"]);
  auto cleared = call("PATCH", "/v1/keys/" + id, kAdmin,
                      R"({"llm":{"rpm":0,"tpm":0,"budget_usd_month":"0"}})");
  ASSERT_EQ(cleared.status, 200) << cleared.text;
  EXPECT_EQ(cleared.body["llm"], json::parse(R"({"budget_usd_month":0,"rpm":0,"tpm":0})"));
  EXPECT_EQ(call("PATCH", "/v1/keys/key-nope", kAdmin, R"({"llm":{"rpm":1}})").status, 404);
  // Admins only.
  for (const auto& who : {viewer_, submitter_a_, operator_}) {
    EXPECT_EQ(call("PATCH", "/v1/keys/" + id, who, R"({"llm":{"rpm":1}})").status, 403);
  }
  // Bad limits, on creation and on change: 400 naming the field.
  struct Case {
    std::string llm, field;
  };
  for (const auto& c :
       std::vector<Case>{{R"({"rpm":-1})", "llm.rpm"},
                         {R"({"rpm":1.5})", "llm.rpm"},
                         {R"({"rpm":"60"})", "llm.rpm"},
                         {R"({"tpm":1000000001})", "llm.tpm"},
                         {R"({"tpm":18446744073709551615})", "llm.tpm"},
                         {R"({"budget_usd_month":50})", "llm.budget_usd_month"},
                         {R"({"budget_usd_month":"-1"})", "llm.budget_usd_month"},
                         {R"({"budget_usd_month":"lots"})", "llm.budget_usd_month"},
                         {R"({"budget_usd_month":"0.0000004"})", "llm.budget_usd_month"},
                         {R"({"burst":5})", "llm.burst"},
                         {R"([60])", "llm"},
                         {R"("60 rpm")", "llm"}}) {
    auto created = call("POST", "/v1/keys", kAdmin,
                        R"({"name":"x","role":"submitter","tenant":"acme","llm":)" + c.llm + "}");
    EXPECT_EQ(created.status, 400) << c.llm << " → " << created.text;
    EXPECT_EQ(created.body["error"]["field"], c.field) << c.llm;
    auto changed = call("PATCH", "/v1/keys/" + id, kAdmin, R"({"llm":)" + c.llm + "}");
    EXPECT_EQ(changed.status, 400) << c.llm << " → " << changed.text;
    EXPECT_EQ(changed.body["error"]["field"], c.field) << c.llm;
    if (c.field == "llm.burst") {
      EXPECT_NE(changed.body["error"]["message"].get<std::string>().find("llm.burst"),
                std::string::npos);
    }
  }
  EXPECT_EQ(call("PATCH", "/v1/keys/" + id, kAdmin, R"({})").body["error"]["field"], "llm");
  auto renamed = call("PATCH", "/v1/keys/" + id, kAdmin, R"({"name":"y","llm":{}})");
  EXPECT_EQ(renamed.status, 400);
  EXPECT_EQ(renamed.body["error"]["field"], "name");
  EXPECT_EQ(call("PATCH", "/v1/keys/" + id, kAdmin, "{not json").status, 400);
  // An unknown field on creation (a typo would otherwise make a key without its limits).
  auto typo = call("POST", "/v1/keys", kAdmin,
                   R"({"name":"x","role":"submitter","tenant":"acme","llm_limits":{"rpm":1}})");
  EXPECT_EQ(typo.status, 400) << typo.text;
  EXPECT_EQ(typo.body["error"]["field"], "llm_limits");
  // Nothing changed by the refused requests.
  EXPECT_EQ(find(id)["llm"], cleared.body["llm"]);
}

TEST_P(ApiTest, LlmUsageByTenantKeyAndDeployment) {
  auto hour = [](const char* at) { return unix_ms(*parse_rfc3339(at)); };
  ASSERT_TRUE(daemon_->store().add_llm_usage(
      {{hour("2026-01-05T10:00:00Z"), "acme", "key-a", "cheap", 1, 1'000, 200, 0, 270},
       {hour("2026-01-05T11:00:00Z"), "acme", "key-a", "cheap", 2, 80, 6, 40, 16},
       {hour("2026-01-05T11:00:00Z"), "acme", "key-a", "vllm", 1, 500, 50, 0, 0},
       {hour("2026-01-06T09:00:00Z"), "globex", "key-g", "dear", 1, 1'000, 200, 0, 4'500},
       {hour("2026-02-02T00:00:00Z"), "globex", "key-g", "dear", 1, 1, 1, 0, 1}}));
  const std::string jan = "/v1/llm/usage?from=2026-01-01T00:00:00Z&to=2026-01-31T23:59:59Z";
  auto all = call("GET", jan, viewer_);
  ASSERT_EQ(all.status, 200) << all.text;
  EXPECT_EQ(all.body["from"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(all.body["to"], "2026-01-31T23:59:59Z");
  EXPECT_EQ(all.body["usage"], json::parse(R"([
    {"tenant":"acme","key":"key-a","deployment":"cheap","requests":3,"prompt_tokens":1080,
     "completion_tokens":206,"cached_tokens":40,"cost_usd":0.000286},
    {"tenant":"acme","key":"key-a","deployment":"vllm","requests":1,"prompt_tokens":500,
     "completion_tokens":50,"cached_tokens":0,"cost_usd":0},
    {"tenant":"globex","key":"key-g","deployment":"dear","requests":1,"prompt_tokens":1000,
     "completion_tokens":200,"cached_tokens":0,"cost_usd":0.0045}])"));
  // Filters: tenant, key, and the window's hours.
  EXPECT_EQ(call("GET", jan + "&tenant=acme", viewer_).body["usage"].size(), 2u);
  auto by_key = call("GET", jan + "&key=key-g", operator_);
  ASSERT_EQ(by_key.body["usage"].size(), 1u);
  EXPECT_EQ(by_key.body["usage"][0]["tenant"], "globex");
  auto one_hour =
      call("GET", "/v1/llm/usage?from=2026-01-05T10:30:00Z&to=2026-01-05T10:59:59Z", viewer_);
  ASSERT_EQ(one_hour.body["usage"].size(), 1u);
  EXPECT_EQ(one_hour.body["usage"][0]["requests"], 1);
  EXPECT_EQ(one_hour.body["usage"][0]["cost_usd"], 0.00027);
  EXPECT_TRUE(
      call("GET", "/v1/llm/usage?from=2025-01-01T00:00:00Z&to=2025-12-31T00:00:00Z", viewer_)
          .body["usage"]
          .empty());
  // A tenant's key sees its tenant only, and may not ask for another.
  auto mine = call("GET", jan, submitter_a_);
  ASSERT_EQ(mine.status, 200);
  ASSERT_EQ(mine.body["usage"].size(), 2u);
  for (const auto& u : mine.body["usage"]) EXPECT_EQ(u["tenant"], "acme");
  EXPECT_FALSE(call("GET", jan + "&key=key-g", submitter_b_).body["usage"].empty());
  EXPECT_TRUE(call("GET", jan + "&key=key-a", submitter_b_).body["usage"].empty());
  auto other = call("GET", jan + "&tenant=globex", submitter_a_);
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(other.body["error"]["field"], "tenant");
  // The ledger holds the same cost (under llm:<deployment>).
  auto costs = call("GET", "/v1/costs?from=2026-01-01T00:00:00Z&to=2026-01-31T23:59:59Z", viewer_);
  EXPECT_EQ(costs.body["by_pool"]["llm:cheap"], 0.000286);
  EXPECT_EQ(costs.body["by_pool"]["llm:dear"], 0.0045);
  EXPECT_FALSE(costs.body["by_pool"].contains("llm:vllm"));
  // The window is parsed as for /v1/costs.
  auto bad = call("GET", "/v1/llm/usage?from=yesterday", viewer_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["field"], "from");
  EXPECT_EQ(call("GET", "/v1/llm/usage?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", viewer_)
                .status,
            400);
  // The default window (this month, daemon time) answers too.
  auto now = call("GET", "/v1/llm/usage", viewer_);
  EXPECT_EQ(now.status, 200);
  EXPECT_TRUE(now.body["usage"].is_array());
}

// A task body's 400 names the offending field (its JSON path) and, for a typo, the field
// meant: `gpu` is `resources.gpus`.
TEST_P(ApiTest, TaskErrorsNameTheFieldAndTheClosestValidOne) {
  struct Case {
    std::string body, field, message;
  };
  for (const auto& c : {
           Case{R"({"class": "build", "gpu": 1})", "gpu",
                "unknown field 'gpu' (did you mean 'resources.gpus'?)"},
           Case{R"({"class": "build", "resources": {"vcpus": "four"}})", "resources.vcpus",
                "field 'resources.vcpus': must be a whole number"},
           Case{R"({"class": "buidl"})", "class", "did you mean 'build'?"},
       }) {
    for (const char* path : {"/v1/tasks", "/v1/route"}) {
      auto r = call("POST", path, operator_, c.body);
      EXPECT_EQ(r.status, 400) << path << " " << c.body << " → " << r.text;
      EXPECT_EQ(r.body["error"]["field"], c.field) << path << " " << c.body << " → " << r.text;
      std::string message = r.body["error"].value("message", "");
      EXPECT_NE(message.find(c.message), std::string::npos) << path << ": " << message;
    }
  }
  // A worker event's typo too.
  auto event = call("POST", "/v1/tasks/x/events", operator_,
                    R"({"type": "failed", "mesage": "out of memory"})");
  EXPECT_EQ(event.status, 400) << event.text;
  EXPECT_EQ(event.body["error"]["field"], "mesage") << event.text;
  EXPECT_NE(event.body["error"].value("message", "").find("did you mean 'message'?"),
            std::string::npos)
      << event.text;
}

TEST_P(ApiTest, BadInputGetsACleanJsonErrorAndTheDaemonKeepsServing) {
  struct Case {
    std::string method, path, body;
    int status;
  };
  std::vector<Case> cases{
      {"POST", "/v1/tasks", "{not json", 400},
      {"POST", "/v1/tasks", "[1, 2]", 400},
      {"POST", "/v1/tasks", R"({"class": 7})", 400},
      {"POST", "/v1/tasks", R"({"class": "nope"})", 400},
      {"POST", "/v1/tasks", R"({"class": "build", "resources": {"vcpus": "four"}})", 400},
      {"POST", "/v1/tasks", R"({"class": "build", "resources": {"vcpus": 64}})", 422},
      {"POST", "/v1/tasks", std::string(100 * 1024, ' '), 413},
      {"POST", "/v1/tasks/x/events", R"({"type": "exploded"})", 400},
      {"POST", "/v1/tasks/x/events", R"({"type": "started"})", 404},
      {"POST", "/v1/route", "{", 400},
      {"GET", "/v1/tasks?state=sleeping", "", 400},
      {"GET", "/v1/tasks?limit=0", "", 400},
      {"GET", "/v1/tasks?limit=abc", "", 400},
      {"GET", "/v1/tasks?page_token=-1", "", 400},
      {"GET", "/v1/nothing-here", "", 404},
      {"GET", "/v1/tasks/does-not-exist", "", 404},
  };
  for (const auto& c : cases) {
    auto r = call(c.method, c.path, operator_, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body.substr(0, 60)
                                  << " → " << r.text;
    ASSERT_TRUE(r.body.is_object()) << c.path << ": " << r.text;
    EXPECT_TRUE(r.body["error"]["message"].is_string()) << c.path;
    EXPECT_TRUE(r.body["request_id"].is_string()) << c.path;
  }
  // Wrong content type.
  auto wrong = client_->Post("/v1/tasks", {{"Authorization", "Bearer " + operator_}},
                             R"({"class":"build"})", "text/plain");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 415);
  // Bytes that are not UTF-8 in the path or query, with or without a key: a 400, not a
  // crash (the error body and the log line echo the path).
  client_->set_url_encode(false);
  for (const char* path :
       {"/%FF", "/v1/tasks/%FF", "/v1/tasks?state=%FF", "/v1/costs?from=%C0%AF"}) {
    auto r = client_->Get(path, {{"Authorization", "Bearer " + operator_}});
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 400) << path;
    EXPECT_TRUE(json::parse(r->body, nullptr, false).is_object()) << path;
    auto anonymous = client_->Get(path);
    ASSERT_TRUE(anonymous) << path;
    EXPECT_EQ(anonymous->status, 400) << path;
  }
  client_->set_url_encode(true);
  // Deep nesting (within the 64 KiB body limit) is refused before anything walks it.
  std::string deep = R"({"class": "build", "duration_s": )" + std::string(30'000, '[') +
                     std::string(30'000, ']') + "}";
  for (const char* path : {"/v1/tasks", "/v1/route"}) {
    auto r = call("POST", path, operator_, deep);
    EXPECT_EQ(r.status, 400) << path << ": " << r.text.substr(0, 200);
  }
  // Ids and tenants that could not be a path segment, and unprintable idempotency keys.
  EXPECT_EQ(call("POST", "/v1/tasks", operator_, R"({"class": "build", "id": "a/b"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/tasks", operator_, R"({"class": "build", "tenant": "x y"})").status,
            400);
  EXPECT_EQ(
      call("POST", "/v1/tasks", operator_, R"({"class": "build"})", {{"Idempotency-Key", "a\tb"}})
          .status,
      400);
  // A client-chosen request id is echoed.
  auto rid = client_->Get("/healthz", {{"X-Request-Id", "req-abc-123"}});
  EXPECT_EQ(rid->get_header_value("X-Request-Id"), "req-abc-123");
  EXPECT_EQ(call("GET", "/healthz", "").status, 200);
  EXPECT_EQ(call("POST", "/v1/tasks", operator_, R"({"class": "build"})").status, 201);
}

INSTANTIATE_TEST_SUITE_P(Stores, ApiTest, ::testing::ValuesIn(testing::store_kinds()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace codefleet
