// Entra ID bearer tokens against the whole daemon over real HTTP on loopback, on both
// stores: app roles map to CodeFleet roles, a submitter's tenant is the token's azp,
// every kind of bad token is a 401 that never echoes the token, a custom role map, and
// API keys working alongside tokens.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cloud/http.h"
#include "integration/daemon_fixture.h"
#include "integration/test_stores.h"
#include "server/auth.h"
#include "server/jwt.h"
#include "support/test_jwt.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using testing::Reply;
using testing::TestKey;

const std::string kTenantId = "3f2a9c4e-7b1d-4e8a-9c6f-0d5e8b7a1c23";
const std::string kIssuer = "https://login.microsoftonline.com/" + kTenantId + "/v2.0";
const std::string kAudience = "api://codefleet";
constexpr const char* kAppAlpha = "6c1e0b7a-alpha-client";
constexpr const char* kAppBeta = "9d4f2e1c-beta-client";

// RSA key generation is slow: two keys for the whole run. The daemon's JWKS holds only
// the first; the second signs tokens the daemon must refuse.
const TestKey& trusted_key() {
  static const TestKey key("entra-key-1");
  return key;
}
const TestKey& stranger_key() {
  static const TestKey key("entra-key-2");
  return key;
}

int64_t now_s() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

// The daemon's Entra configuration: the JWKS holds trusted_key() only.
EntraConfig entra_config() {
  EntraConfig config;
  config.policy = JwtPolicy{kIssuer, kAudience, 60};
  auto keys = Jwks::parse(testing::jwks_document({&trusted_key()}).dump());
  EXPECT_TRUE(keys) << keys.error().message;
  if (keys) config.keys = *keys;
  return config;
}

// An app-only (client credentials) v2 access token's claims, valid for an hour from now
// by the wall clock, which is what the daemon checks against.
json claims(const std::vector<std::string>& roles, const std::string& azp = kAppAlpha) {
  int64_t now = now_s();
  json c{{"iss", kIssuer},
         {"aud", kAudience},
         {"sub", std::string("sp-") + azp},
         {"tid", kTenantId},
         {"oid", std::string("oid-") + azp},
         {"azp", azp},
         {"ver", "2.0"},
         {"iat", now - 60},
         {"nbf", now - 60},
         {"exp", now + 3600}};
  if (!roles.empty()) c["roles"] = roles;
  return c;
}

// A token for `payload`, signed by `key` with its kid in the header.
std::string token_for(const json& payload, const TestKey& key = trusted_key()) {
  return testing::sign_token(testing::rs256_header(key), payload, key);
}

std::string token(const std::vector<std::string>& roles, const std::string& azp = kAppAlpha) {
  return token_for(claims(roles, azp));
}

class EntraAuthTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    fresh_ = std::make_unique<testing::FreshStore>(GetParam());
    if (fresh_->url().empty()) GTEST_FAIL() << "no store";
    start(entra_config());
  }
  void TearDown() override {
    client_.reset();
    daemon_.reset();
    fresh_.reset();
  }

  // (Re)starts the daemon on the same store with `config`.
  void start(EntraConfig config) {
    client_.reset();
    daemon_.reset();
    daemon_ = std::make_unique<testing::Daemon>(fresh_->url(), "", std::move(config));
    client_ = std::make_unique<httplib::Client>("127.0.0.1", daemon_->port());
  }

  Reply call(const std::string& method, const std::string& path, const std::string& bearer,
             const std::string& body = "") {
    return testing::http_call(*client_, method, path, bearer, body);
  }

  // A 401 with a WWW-Authenticate challenge and a JSON error that says `why` and quotes
  // neither the token nor any sizeable part of it.
  void expect_rejected(const std::string& name, const std::string& bad_token,
                       const std::string& why) {
    SCOPED_TRACE(name);
    for (const char* path : {"/v1/pools", "/v1/tasks"}) {
      auto r = call("GET", path, bad_token);
      EXPECT_EQ(r.status, 401) << path << ": " << r.text;
      auto challenge = r.headers.find("WWW-Authenticate");
      ASSERT_NE(challenge, r.headers.end()) << path;
      EXPECT_EQ(challenge->second.rfind("Bearer", 0), 0u) << challenge->second;
      ASSERT_TRUE(r.body.is_object()) << r.text;
      EXPECT_EQ(r.body["error"]["code"], "unauthorized");
      ASSERT_TRUE(r.body["error"]["message"].is_string()) << r.text;
      std::string message = r.body["error"]["message"];
      EXPECT_NE(message.find(why), std::string::npos) << "expected '" << why << "' in: " << message;
      EXPECT_EQ(r.text.find(bad_token), std::string::npos) << "the reply quotes the token";
      size_t from = 0;
      while (from <= bad_token.size()) {
        size_t dot = bad_token.find('.', from);
        std::string part = bad_token.substr(from, dot - from);
        if (part.size() >= 8) {
          EXPECT_EQ(r.text.find(part), std::string::npos) << "the reply quotes part of the token";
        }
        if (dot == std::string::npos) break;
        from = dot + 1;
      }
    }
    // Nothing was created by the rejected caller.
    EXPECT_EQ(call("POST", "/v1/tasks", bad_token, R"({"class": "build"})").status, 401);
  }

  std::unique_ptr<testing::FreshStore> fresh_;
  std::unique_ptr<testing::Daemon> daemon_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_P(EntraAuthTest, SubmitterTokenSubmitsForItsAzpTenant) {
  std::string alpha = token({"CodeFleet.Submitter"}, kAppAlpha);
  std::string beta = token({"CodeFleet.Submitter"}, kAppBeta);
  auto a = call("POST", "/v1/tasks", alpha, R"({"class": "build"})");
  ASSERT_EQ(a.status, 201) << a.text;
  EXPECT_EQ(a.body["tenant"], kAppAlpha);
  std::string id = a.body["id"];
  auto b = call("POST", "/v1/tasks", beta, R"({"class": "build"})");
  ASSERT_EQ(b.status, 201) << b.text;
  EXPECT_EQ(b.body["tenant"], kAppBeta);
  std::string other = b.body["id"];

  // Each app sees its own task, and another app's is not there at all.
  auto own = call("GET", "/v1/tasks/" + id, alpha);
  EXPECT_EQ(own.status, 200) << own.text;
  EXPECT_EQ(own.body["tenant"], kAppAlpha);
  EXPECT_EQ(call("GET", "/v1/tasks/" + other, alpha).status, 404);
  EXPECT_EQ(call("GET", "/v1/tasks/" + id, beta).status, 404);
  EXPECT_EQ(call("DELETE", "/v1/tasks/" + id, beta).status, 404);
  auto list = call("GET", "/v1/tasks", alpha);
  ASSERT_EQ(list.status, 200) << list.text;
  ASSERT_EQ(list.body["items"].size(), 1u) << list.text;
  EXPECT_EQ(list.body["items"][0]["id"], id);
  // A submitter may not name another tenant, nor manage keys.
  EXPECT_EQ(call("POST", "/v1/tasks", alpha, json{{"class", "build"}, {"tenant", kAppBeta}}.dump())
                .status,
            403);
  EXPECT_EQ(call("GET", "/v1/tasks?tenant=" + std::string(kAppBeta), alpha).status, 403);
  EXPECT_EQ(call("GET", "/v1/keys", alpha).status, 403);
  // The stored task carries the tenant too.
  auto stored = daemon_->store().get_task(id);
  ASSERT_TRUE(stored) << stored.error().describe();
  ASSERT_TRUE(*stored);
  EXPECT_EQ((*stored)->tenant, kAppAlpha);
}

// A submitter token whose tenant claim and `sub` are both empty (or absent) names no
// tenant. It must be refused, never read as "every tenant" (which is what no tenant means
// for an admin).
TEST_P(EntraAuthTest, SubmitterTokenWithoutATenantIsRefused) {
  std::string alpha = token({"CodeFleet.Submitter"}, kAppAlpha);
  auto a = call("POST", "/v1/tasks", alpha, R"({"class": "build"})");
  ASSERT_EQ(a.status, 201) << a.text;
  std::string id = a.body["id"];
  json empty = claims({"CodeFleet.Submitter"});
  empty["azp"] = "";
  empty["sub"] = "";
  json absent = claims({"CodeFleet.Submitter"});
  absent.erase("azp");
  absent.erase("sub");
  for (const auto& [name, c] : {std::pair{"empty", empty}, std::pair{"absent", absent}}) {
    SCOPED_TRACE(name);
    std::string t = token_for(c);
    auto list = call("GET", "/v1/tasks", t);
    EXPECT_EQ(list.status, 403) << list.text;
    EXPECT_EQ(list.body["error"]["code"], "forbidden") << list.text;
    std::string message = list.body["error"]["message"].is_string()
                              ? list.body["error"]["message"].get<std::string>()
                              : "";
    EXPECT_NE(message.find("names no tenant"), std::string::npos) << message;
    EXPECT_EQ(list.body["items"], json()) << "listed tasks: " << list.text;
    EXPECT_EQ(call("GET", "/v1/tasks/" + id, t).status, 403);
    EXPECT_EQ(call("DELETE", "/v1/tasks/" + id, t).status, 403);
    EXPECT_EQ(call("POST", "/v1/tasks/" + id + "/events", t, R"({"type": "failed"})").status, 403);
    EXPECT_EQ(call("POST", "/v1/tasks", t, R"({"class": "build"})").status, 403);
    EXPECT_EQ(call("GET", "/v1/llm/usage", t).status, 403);
  }
  // The task is untouched (neither cancelled nor failed by the refused calls).
  auto own = call("GET", "/v1/tasks/" + id, alpha);
  ASSERT_EQ(own.status, 200) << own.text;
  EXPECT_TRUE(own.body["state"] == "pending" || own.body["state"] == "admitted") << own.text;
  // An admin token without azp and sub still works (it has no tenant by design), and so
  // does a submitter whose tenant comes from `sub` alone.
  json admin = absent;
  admin["roles"] = {"CodeFleet.Admin"};
  EXPECT_EQ(call("GET", "/v1/tasks", token_for(admin)).status, 200);
  json by_sub = claims({"CodeFleet.Submitter"});
  by_sub.erase("azp");
  auto mine = call("POST", "/v1/tasks", token_for(by_sub), R"({"class": "build"})");
  ASSERT_EQ(mine.status, 201) << mine.text;
  EXPECT_EQ(mine.body["tenant"], by_sub["sub"]);
}

// The same with `tenant_claim: tid`: a token without `tid` and `sub` is refused.
TEST_P(EntraAuthTest, SubmitterTokenWithoutTheConfiguredTenantClaimIsRefused) {
  EntraConfig config = entra_config();
  config.tenant_claim = "tid";
  start(std::move(config));
  json c = claims({"CodeFleet.Submitter"});
  c.erase("tid");
  c["sub"] = "";
  auto r = call("GET", "/v1/tasks", token_for(c));
  EXPECT_EQ(r.status, 403) << r.text;
  EXPECT_NE(r.text.find("'tid' claim"), std::string::npos) << r.text;
  EXPECT_EQ(call("GET", "/v1/tasks", token({"CodeFleet.Submitter"})).status, 200);
}

// A submitter API key without a tenant cannot be created through the API; one that is in
// the store all the same is refused, not given every tenant.
TEST_P(EntraAuthTest, SubmitterKeyWithoutATenantIsRefused) {
  const std::string secret = "cfk_submitter_without_a_tenant_0123456789";
  ApiKey k{"key-no-tenant", "broken", sha256_hex(secret), Role::kSubmitter, "", 0, false, {}};
  ASSERT_TRUE(daemon_->store().put_api_key(k));
  auto r = call("GET", "/v1/tasks", secret);
  EXPECT_EQ(r.status, 403) << r.text;
  EXPECT_NE(r.text.find("without a tenant"), std::string::npos) << r.text;
  EXPECT_EQ(call("POST", "/v1/tasks", secret, R"({"class": "build"})").status, 403);
}

TEST_P(EntraAuthTest, ViewerTokenReadsButDoesNotSubmit) {
  std::string viewer = token({"CodeFleet.Viewer"});
  auto pools = call("GET", "/v1/pools", viewer);
  EXPECT_EQ(pools.status, 200) << pools.text;
  EXPECT_TRUE(pools.body["items"].is_array()) << pools.text;
  EXPECT_EQ(call("GET", "/v1/tasks", viewer).status, 200);
  auto submit = call("POST", "/v1/tasks", viewer, R"({"class": "build"})");
  EXPECT_EQ(submit.status, 403) << submit.text;
  EXPECT_EQ(submit.body["error"]["code"], "forbidden");
  EXPECT_EQ(call("GET", "/v1/keys", viewer).status, 403);
}

TEST_P(EntraAuthTest, HighestMappedRoleWins) {
  std::string both = token({"CodeFleet.Viewer", "Some.Other.Role", "CodeFleet.Submitter"});
  auto r = call("POST", "/v1/tasks", both, R"({"class": "build"})");
  EXPECT_EQ(r.status, 201) << r.text;
  EXPECT_EQ(r.body["tenant"], kAppAlpha);
}

TEST_P(EntraAuthTest, AdminTokenManagesKeys) {
  std::string admin = token({"CodeFleet.Admin"});
  auto keys = call("GET", "/v1/keys", admin);
  ASSERT_EQ(keys.status, 200) << keys.text;
  EXPECT_EQ(keys.body["items"].size(), 1u) << keys.text;  // the daemon's own admin key
  auto made = call("POST", "/v1/keys", admin, R"({"name": "ci", "role": "viewer"})");
  ASSERT_EQ(made.status, 201) << made.text;
  std::string secret = made.body["secret"];
  EXPECT_EQ(call("GET", "/v1/pools", secret).status, 200);
  // An admin has no tenant: it sees and submits for any.
  auto t = call("POST", "/v1/tasks", admin, R"({"class": "build", "tenant": "anyone"})");
  EXPECT_EQ(t.status, 201) << t.text;
  EXPECT_EQ(t.body["tenant"], "anyone");
}

TEST_P(EntraAuthTest, TokenWithoutACodeFleetRoleIsForbidden) {
  for (const auto& roles : std::vector<std::vector<std::string>>{
           {}, {"Fleet.Admin"}, {"codefleet.admin"}, {"CodeFleet.Owner"}}) {
    std::string t = token(roles);
    for (const char* path : {"/v1/pools", "/v1/tasks"}) {
      auto r = call("GET", path, t);
      EXPECT_EQ(r.status, 403) << path << " roles=" << json(roles).dump() << ": " << r.text;
      EXPECT_EQ(r.body["error"]["code"], "forbidden") << r.text;
      EXPECT_EQ(r.text.find(t), std::string::npos);
    }
    EXPECT_EQ(call("POST", "/v1/tasks", t, R"({"class": "build"})").status, 403);
  }
}

TEST_P(EntraAuthTest, InvalidTokensAreUnauthorized) {
  // Even the highest role gets nowhere with a bad token.
  const std::vector<std::string> admin{"CodeFleet.Admin"};
  int64_t now = now_s();

  json expired = claims(admin);
  expired["iat"] = now - 7200;
  expired["nbf"] = now - 7200;
  expired["exp"] = now - 3600;
  expect_rejected("expired", token_for(expired), "token expired at");

  json audience = claims(admin);
  audience["aud"] = "api://someone-else";
  expect_rejected("wrong audience", token_for(audience), "audience mismatch");

  json issuer = claims(admin);
  issuer["iss"] = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0";
  expect_rejected("wrong issuer", token_for(issuer), "issuer mismatch");

  // A key the JWKS does not have: by its own kid, and posing as the trusted key's kid.
  expect_rejected("unknown key", token_for(claims(admin), stranger_key()),
                  "unknown key id 'entra-key-2'");
  json posing = testing::rs256_header(trusted_key());
  expect_rejected("key not in the set", testing::sign_token(posing, claims(admin), stranger_key()),
                  "bad signature");

  // alg "none": unsigned, with an empty and with a copied signature.
  json none{{"alg", "none"}, {"typ", "JWT"}};
  std::string unsigned_token = testing::signing_input(none.dump(), claims(admin).dump()) + ".";
  expect_rejected("alg none", unsigned_token, "unsupported alg 'none'");
  json none_kid{{"alg", "none"}, {"typ", "JWT"}, {"kid", trusted_key().kid()}};
  expect_rejected("alg none signed", testing::sign_token(none_kid, claims(admin), trusted_key()),
                  "unsupported alg 'none'");

  // The same claims, properly signed, get in.
  EXPECT_EQ(call("GET", "/v1/keys", token(admin)).status, 200);
}

TEST_P(EntraAuthTest, CustomRoleMap) {
  EntraConfig config = entra_config();
  config.role_map = {{"Fleet.Ops", Role::kOperator}};
  start(std::move(config));
  std::string ops = token({"Fleet.Ops"});
  auto t = call("POST", "/v1/tasks", ops, R"({"class": "build", "tenant": "team-x"})");
  ASSERT_EQ(t.status, 201) << t.text;
  EXPECT_EQ(t.body["tenant"], "team-x");  // an operator has no tenant of its own
  EXPECT_EQ(call("GET", "/v1/tasks/" + std::string(t.body["id"]), ops).status, 200);
  EXPECT_EQ(call("GET", "/v1/pools", ops).status, 200);
  EXPECT_EQ(call("GET", "/v1/keys", ops).status, 403);  // operator < admin
  // The default role names mean nothing under a custom map.
  EXPECT_EQ(call("GET", "/v1/pools", token({"CodeFleet.Admin"})).status, 403);
  EXPECT_EQ(call("GET", "/v1/pools", token({"fleet.ops"})).status, 403);
}

TEST_P(EntraAuthTest, ApiKeysStillWorkAlongsideTokens) {
  const std::string admin_key = testing::kAdminKey;
  EXPECT_EQ(call("GET", "/v1/keys", admin_key).status, 200);
  auto made = call("POST", "/v1/keys", admin_key,
                   json{{"name", "alpha ci"}, {"role", "submitter"}, {"tenant", kAppAlpha}}.dump());
  ASSERT_EQ(made.status, 201) << made.text;
  std::string key = made.body["secret"];
  auto by_key = call("POST", "/v1/tasks", key, R"({"class": "build"})");
  ASSERT_EQ(by_key.status, 201) << by_key.text;
  EXPECT_EQ(by_key.body["tenant"], kAppAlpha);
  // Tenants are one namespace: the app's token and the key for its tenant see each
  // other's tasks, and another app sees neither.
  std::string alpha = token({"CodeFleet.Submitter"}, kAppAlpha);
  auto by_token = call("POST", "/v1/tasks", alpha, R"({"class": "build"})");
  ASSERT_EQ(by_token.status, 201) << by_token.text;
  EXPECT_EQ(call("GET", "/v1/tasks/" + std::string(by_key.body["id"]), alpha).status, 200);
  EXPECT_EQ(call("GET", "/v1/tasks/" + std::string(by_token.body["id"]), key).status, 200);
  std::string beta = token({"CodeFleet.Submitter"}, kAppBeta);
  EXPECT_EQ(call("GET", "/v1/tasks/" + std::string(by_key.body["id"]), beta).status, 404);
  // Bad API keys are still 401s.
  auto bad = call("GET", "/v1/pools", "cfk_not_a_real_key");
  EXPECT_EQ(bad.status, 401) << bad.text;
  EXPECT_NE(bad.headers.find("WWW-Authenticate"), bad.headers.end());
  EXPECT_EQ(call("GET", "/v1/pools", "").status, 401);
}

// A JWKS endpoint on loopback serving whichever keys it is given, and a refresher reading
// it as `codefleet serve` does (GET, then Jwks::parse).
class JwksRotation : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/keys", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.status = status_;
      res.set_content(document_, "application/json");
    });
    thread_.start();
    serve({&trusted_key()});
    fresh_ = std::make_unique<testing::FreshStore>("sqlite");
    auto store = open_store(fresh_->url());
    ASSERT_TRUE(store) << store.error().describe();
    store_ = std::move(*store);
    auth_ = std::make_unique<Authenticator>(*store_, entra_config());
  }
  void serve(std::initializer_list<const TestKey*> keys, int status = 200) {
    std::lock_guard lock(mu_);
    document_ = testing::jwks_document(keys).dump();
    status_ = status;
  }
  Result<Jwks> fetch() {
    HttpClient http;
    auto r = http.send({"GET", thread_.url() + "/keys", {}, "", std::chrono::seconds(5)});
    if (!r) return tl::unexpected(r.error().error);
    if (r->status != 200) {
      return tl::unexpected(
          Error{ErrorCode::kUnavailable, "JWKS answered " + std::to_string(r->status)});
    }
    return Jwks::parse(r->body);
  }
  // "" when an admin token signed by `key` is accepted; otherwise why not.
  std::string check(const TestKey& key) {
    auto p = auth_->authenticate("Bearer " + token_for(claims({"CodeFleet.Admin"}), key), now_s());
    return p ? "" : p.error().message;
  }

  httplib::Server server_;
  testing::ServerThread thread_{server_};
  std::mutex mu_;
  std::string document_;
  int status_ = 200;
  std::unique_ptr<testing::FreshStore> fresh_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(JwksRotation, ANewKeyIsAcceptedAfterARefreshAndARemovedOneRefused) {
  JwksRefresher refresher([this] { return fetch(); }, *auth_, std::chrono::hours(1));
  EXPECT_EQ(check(trusted_key()), "");
  EXPECT_NE(check(stranger_key()).find("unknown key id 'entra-key-2'"), std::string::npos);
  // Entra publishes the next key next to the current one, then drops the old one.
  serve({&trusted_key(), &stranger_key()});
  ASSERT_TRUE(refresher.refresh_now());
  EXPECT_EQ(check(stranger_key()), "");
  EXPECT_EQ(check(trusted_key()), "");
  serve({&stranger_key()});
  ASSERT_TRUE(refresher.refresh_now());
  EXPECT_EQ(check(stranger_key()), "");
  EXPECT_NE(check(trusted_key()).find("unknown key id 'entra-key-1'"), std::string::npos);
  // A failed read keeps the keys in hand.
  serve({&trusted_key()}, 500);
  EXPECT_FALSE(refresher.refresh_now());
  EXPECT_EQ(check(stranger_key()), "");
  EXPECT_NE(check(trusted_key()), "");
}

TEST_F(JwksRotation, TheRefresherReadsTheKeysAgainOnItsOwn) {
  std::atomic<int> failures{0};
  serve({&stranger_key()}, 503);
  JwksRefresher refresher([this] { return fetch(); }, *auth_, std::chrono::milliseconds(50),
                          [&](const Error&) { ++failures; });
  for (int i = 0; i < 200 && failures == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(failures.load(), 1);
  EXPECT_EQ(check(trusted_key()), "");  // kept through the failures
  serve({&stranger_key()});
  std::string stranger = "not yet";
  for (int i = 0; i < 200 && !stranger.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    stranger = check(stranger_key());
  }
  EXPECT_EQ(stranger, "") << "the new key was never taken up";
  EXPECT_NE(check(trusted_key()).find("unknown key id 'entra-key-1'"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Stores, EntraAuthTest, ::testing::ValuesIn(testing::store_kinds()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace codefleet
