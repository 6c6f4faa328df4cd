// Who is calling: API keys (`Authorization: Bearer cfk_…`, stored as SHA-256 hashes) and
// Entra ID bearer tokens (RS256 JWTs checked against a JWKS). Roles are ordered —
// viewer < submitter < operator < admin — and a principal with a tenant sees only that
// tenant's tasks.
//
//   Authenticator auth(store, entra_config);           // entra_config optional
//   Result<Principal> p = auth.authenticate(req.get_header_value("Authorization"), now_s);
//   if (!p) → 401;  if (!p->at_least(Role::kSubmitter)) → 403
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "server/jwt.h"
#include "store/store.h"

namespace codefleet {

struct Principal {
  std::string id;  // API key id, or the token's oid/sub
  Role role = Role::kViewer;
  std::string tenant;  // "" = every tenant
  std::string via;     // "api-key" | "entra"
  LlmLimits llm;       // the API key's LLM limits; none for Entra principals
  bool at_least(Role r) const { return static_cast<int>(role) >= static_cast<int>(r); }
  bool sees_tenant(const std::string& t) const { return tenant.empty() || tenant == t; }
};

struct EntraConfig {
  JwtPolicy policy;
  Jwks keys;
  // App role value in the token's `roles` claim → CodeFleet role. The highest wins.
  std::map<std::string, Role> role_map{{"CodeFleet.Viewer", Role::kViewer},
                                       {"CodeFleet.Submitter", Role::kSubmitter},
                                       {"CodeFleet.Operator", Role::kOperator},
                                       {"CodeFleet.Admin", Role::kAdmin}};
  // Which claim names a submitter's tenant: "azp" (the calling app, default), "oid", "tid".
  std::string tenant_claim = "azp";
};

std::string sha256_hex(std::string_view data);
// A new secret: "cfk_" + 43 characters (256 random bits, base64url).
std::string new_api_key_secret();
// A new public id: "key-" + 16 hex characters.
std::string new_key_id();

struct AuthOptions {
  // How long an API key read from the store is trusted before it is read again: a key
  // revoked (or changed) on another replica works here for at most this long.
  std::chrono::milliseconds key_cache_for{10'000};
};

class Authenticator {
 public:
  Authenticator(Store& store, std::optional<EntraConfig> entra, AuthOptions options = {})
      : store_(store), entra_(std::move(entra)), options_(options) {}

  // kInvalidInput (→ 401) with a message that never repeats the credential; kInfeasible
  // (→ 403) for a valid token that grants no CodeFleet role, or a submitter (a role scoped
  // to a tenant: an API key or a token) that names no tenant — never "every tenant".
  Result<Principal> authenticate(const std::string& authorization, int64_t now_s);
  void forget(const std::string& key_id);  // a key was revoked
  // New signing keys (a refreshed JWKS document); no-op without Entra configured.
  void set_keys(Jwks keys);

 private:
  Result<Principal> from_key(const std::string& secret);
  Result<Principal> from_token(const std::string& token, int64_t now_s);

  Store& store_;
  std::optional<EntraConfig> entra_;  // keys guarded by mu_
  AuthOptions options_;
  std::mutex mu_;
  struct Cached {
    ApiKey key;
    std::chrono::steady_clock::time_point until;
  };
  std::map<std::string, Cached> cache_;  // by hash
  uint64_t generation_ = 0;              // bumped by forget()
};

// Keeps an Authenticator's Entra signing keys fresh: reads the JWKS (`fetch`) again every
// `every` on its own thread and hands the new set over; a failed read keeps the keys in
// hand and goes to `on_failure`. Entra rotates its keys: a token signed by a new key is
// accepted after the next refresh, one signed by a key the set dropped is refused.
//
//   JwksRefresher refresher([&] { return fetch_jwks(config); }, auth);   // every hour
//   refresher.refresh_now();   // also at any time
class JwksRefresher {
 public:
  using Fetch = std::function<Result<Jwks>()>;
  using OnFailure = std::function<void(const Error&)>;
  JwksRefresher(Fetch fetch, Authenticator& auth,
                std::chrono::milliseconds every = std::chrono::hours(1),
                OnFailure on_failure = nullptr);
  ~JwksRefresher();  // stops and joins the thread
  JwksRefresher(const JwksRefresher&) = delete;
  JwksRefresher& operator=(const JwksRefresher&) = delete;

  // Reads the keys now and hands them over; the error (keys unchanged) when the read failed.
  Result<void> refresh_now();

 private:
  Fetch fetch_;
  Authenticator& auth_;
  OnFailure on_failure_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace codefleet
