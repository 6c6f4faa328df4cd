// Length limits on the API's free-text fields, with the daemon's default 1 MiB body limit
// (so a 1 MB field reaches the handler): a worker event's message, a key's name, the task
// JSON's strings and a budget string answer 400 naming the field, and nothing is stored;
// an event's message is stored once. Also the tenant check on a worker's `started` event.
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/daemon_fixture.h"
#include "integration/test_stores.h"
#include "server/limits.h"
#include "workload/task.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using namespace std::chrono;
using testing::Reply;

constexpr const char* kAdmin = testing::kAdminKey;
const std::string kOneMb(1'000'000, 'x');

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

class ApiLimitsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    fresh_ = std::make_unique<testing::FreshStore>(GetParam());
    if (fresh_->url().empty()) GTEST_FAIL() << "no store";
    testing::DaemonOptions options;
    options.max_body_bytes = 1 << 20;  // the daemon's default
    daemon_ = std::make_unique<testing::Daemon>(
        fresh_->url(), "", std::nullopt, std::string(CODEFLEET_FIXTURES) + "/serve/small.yaml",
        std::nullopt, options);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", daemon_->port());
    acme_ = make_key("acme");
    globex_ = make_key("globex");
  }
  void TearDown() override {
    client_.reset();
    daemon_.reset();
    fresh_.reset();
  }
  Reply call(const std::string& method, const std::string& path, const std::string& key,
             const std::string& body = "") {
    return testing::http_call(*client_, method, path, key, body);
  }
  std::string make_key(const std::string& tenant) {
    auto r = call("POST", "/v1/keys", kAdmin,
                  json{{"name", "ci"}, {"role", "submitter"}, {"tenant", tenant}}.dump());
    EXPECT_EQ(r.status, 201) << r.text;
    return r.body.value("secret", "");
  }
  // A task of acme's, once the reconcile loop admitted it.
  std::string admitted_task() {
    auto r = call("POST", "/v1/tasks", acme_, R"({"class": "build", "duration_s": 3600000})");
    EXPECT_EQ(r.status, 201) << r.text;
    std::string id = r.body.value("id", "");
    for (int i = 0; i < 200; ++i) {
      if (call("GET", "/v1/tasks/" + id, kAdmin).body["state"] == "admitted") return id;
      std::this_thread::sleep_for(milliseconds(50));
    }
    ADD_FAILURE() << "task " << id << " was never admitted";
    return id;
  }
  // A 400 naming `field`, whose body does not echo a sizeable value back.
  void expect_refused(const Reply& r, const std::string& field, const std::string& context) {
    EXPECT_EQ(r.status, 400) << context << ": " << r.text.substr(0, 300);
    EXPECT_EQ(r.body["error"]["field"], field) << context << ": " << r.text.substr(0, 300);
    EXPECT_LT(r.text.size(), 1000u) << context;
  }

  std::unique_ptr<testing::FreshStore> fresh_;
  std::unique_ptr<testing::Daemon> daemon_;
  std::unique_ptr<httplib::Client> client_;
  std::string acme_, globex_;
};

TEST_P(ApiLimitsTest, AWorkerEventMessageIsCappedAndStoredOnce) {
  std::string id = admitted_task();
  auto huge = call("POST", "/v1/tasks/" + id + "/events", acme_,
                   json{{"type", "failed"}, {"message", kOneMb}}.dump());
  expect_refused(huge, "message", "a 1 MB message");
  auto over = call("POST", "/v1/tasks/" + id + "/events", acme_,
                   json{{"type", "started"}, {"message", std::string(4097, 's')}}.dump());
  expect_refused(over, "message", "4097 bytes");
  auto task = call("GET", "/v1/tasks/" + id, acme_);
  EXPECT_EQ(task.body["state"], "admitted");
  EXPECT_LT(task.text.size(), 4096u) << "something of the refused messages was stored";
  // At the limit: accepted, and each message appears once in the task (started: in its
  // event; failed: as the task's reason, not again in the event).
  const std::string started(kMaxEventMessageBytes, 's'), failed(kMaxEventMessageBytes, 'f');
  ASSERT_EQ(call("POST", "/v1/tasks/" + id + "/events", acme_,
                 json{{"type", "started"}, {"message", started}}.dump())
                .status,
            200);
  auto end = call("POST", "/v1/tasks/" + id + "/events", acme_,
                  json{{"type", "failed"}, {"message", failed}}.dump());
  ASSERT_EQ(end.status, 200) << end.text.substr(0, 300);
  auto read = call("GET", "/v1/tasks/" + id, acme_);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.body["reason"], failed);
  EXPECT_EQ(occurrences(read.text, started), 1u);
  EXPECT_EQ(occurrences(read.text, failed), 1u);
  EXPECT_LT(read.text.size(), 3 * kMaxEventMessageBytes);
  for (const auto& e : read.body["events"]) {
    if (e["kind"] == "failed") {
      EXPECT_FALSE(e["detail"].contains("message")) << e.dump().substr(0, 200);
      EXPECT_TRUE(e["detail"]["by"].is_string());
    }
    if (e["kind"] == "started") {
      EXPECT_EQ(e["detail"]["message"], started);
    }
  }
}

TEST_P(ApiLimitsTest, AKeyNameIsCappedInCharacters) {
  auto huge = call("POST", "/v1/keys", kAdmin, json{{"name", kOneMb}, {"role", "viewer"}}.dump());
  expect_refused(huge, "name", "a 1 MB name");
  // 256 characters of two bytes each are fine; 257 are not.
  std::string name;
  for (size_t i = 0; i < kMaxKeyNameChars; ++i) name += "\xc3\xa9";  // é
  auto ok = call("POST", "/v1/keys", kAdmin, json{{"name", name}, {"role", "viewer"}}.dump());
  ASSERT_EQ(ok.status, 201) << ok.text;
  EXPECT_EQ(ok.body["name"], name);
  auto over =
      call("POST", "/v1/keys", kAdmin, json{{"name", name + "e"}, {"role", "viewer"}}.dump());
  expect_refused(over, "name", "257 characters");
  auto keys = call("GET", "/v1/keys", kAdmin);
  EXPECT_EQ(keys.body["items"].size(), 4u);  // admin, acme, globex and the 256-character one
}

TEST_P(ApiLimitsTest, TaskStringsAreCapped) {
  struct Case {
    std::string field;
    json value;
  };
  for (const auto& c : std::vector<Case>{{"id", std::string(kMaxTaskNameBytes + 1, 'i')},
                                         {"class", kOneMb},
                                         {"environment", kOneMb},
                                         {"tenant", kOneMb},
                                         {"deadline", kOneMb},
                                         {"deadline", "2026-01-05T10:00:00" + std::string(60, '0')},
                                         {"submitted_at", kOneMb}}) {
    json task{{"class", "build"}};
    task[c.field] = c.value;
    for (const char* path : {"/v1/tasks", "/v1/route"}) {
      auto r = call("POST", path, kAdmin, task.dump());
      std::string context = std::string(path) + " " + c.field;
      expect_refused(r, c.field, context);
      std::string message = r.body["error"]["message"].is_string()
                                ? r.body["error"]["message"].get<std::string>()
                                : "";
      EXPECT_NE(message.find("'" + c.field + "'"), std::string::npos) << context << ": " << message;
    }
  }
  // An unknown field's name is not echoed whole either.
  auto unknown = call("POST", "/v1/tasks", kAdmin, json{{"class", "build"}, {kOneMb, 1}}.dump());
  expect_refused(unknown, kOneMb.substr(0, 61) + "...", "an unknown 1 MB field name");
  EXPECT_EQ(call("GET", "/v1/tasks", kAdmin).body["items"].size(), 0u);
  // At the limits, accepted.
  auto ok = call("POST", "/v1/tasks", kAdmin,
                 json{{"class", "build"},
                      {"id", std::string(kMaxTaskNameBytes, 'i')},
                      {"tenant", std::string(kMaxTaskNameBytes, 't')}}
                     .dump());
  EXPECT_EQ(ok.status, 201) << ok.text;
}

TEST_P(ApiLimitsTest, ABudgetStringIsExactAndShort) {
  for (const std::string& budget : {std::string("0.00000051"), std::string("50.0000001"),
                                    std::string("4,50"), std::string(40, '1'), kOneMb}) {
    auto r = call("POST", "/v1/keys", kAdmin,
                  json{{"name", "x"},
                       {"role", "submitter"},
                       {"tenant", "acme"},
                       {"llm", {{"budget_usd_month", budget}}}}
                      .dump());
    expect_refused(r, "llm.budget_usd_month", budget.substr(0, 20));
  }
  auto exact = call("POST", "/v1/keys", kAdmin,
                    R"({"name":"x","role":"submitter","tenant":"acme",
                        "llm":{"budget_usd_month":"0.000001"}})");
  ASSERT_EQ(exact.status, 201) << exact.text;
  EXPECT_EQ(exact.body["llm"]["budget_usd_month"], 0.000001);
}

// Only `failed` was tested across tenants: `started` on another tenant's task must be a
// 404 too, and leave the task as it was.
TEST_P(ApiLimitsTest, AWorkerOfAnotherTenantCannotStartATask) {
  std::string id = admitted_task();
  auto r = call("POST", "/v1/tasks/" + id + "/events", globex_, R"({"type": "started"})");
  EXPECT_EQ(r.status, 404) << r.text;
  EXPECT_EQ(r.body["error"]["code"], "not_found");
  auto task = call("GET", "/v1/tasks/" + id, acme_);
  EXPECT_EQ(task.body["state"], "admitted");
  EXPECT_EQ(task.body["events"].size(), 2u) << task.text;  // submitted, admitted
  EXPECT_EQ(call("POST", "/v1/tasks/" + id + "/events", acme_, R"({"type": "started"})").status,
            200);
}

INSTANTIATE_TEST_SUITE_P(Stores, ApiLimitsTest, ::testing::ValuesIn(testing::store_kinds()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace codefleet
