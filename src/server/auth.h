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
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

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

class Authenticator {
 public:
  Authenticator(Store& store, std::optional<EntraConfig> entra)
      : store_(store), entra_(std::move(entra)) {}

  // kInvalidInput (→ 401) with a message that never repeats the credential.
  Result<Principal> authenticate(const std::string& authorization, int64_t now_s);
  void forget(const std::string& key_id);  // a key was revoked
  // New signing keys (a refreshed JWKS document); no-op without Entra configured.
  void set_keys(Jwks keys);

 private:
  Store& store_;
  std::optional<EntraConfig> entra_;  // keys guarded by mu_
  std::mutex mu_;
  struct Cached {
    ApiKey key;
    std::chrono::steady_clock::time_point until;
  };
  std::map<std::string, Cached> cache_;  // by hash
  uint64_t generation_ = 0;              // bumped by forget()
};

}  // namespace codefleet
