// Entra ID (Azure AD) bearer tokens for the daemon's HTTP API: a JSON Web Key Set and an
// RS256 JWT verifier.
//
// Keys come from the tenant's JWKS document (`.../discovery/v2.0/keys`); fetching and
// refreshing it is the caller's job. Verification never reads the wall clock (pass
// `now_s`), never fetches anything a token points at (`jku`, `x5u`, `jwk` are ignored),
// and accepts RS256 only: "none", HS256 and every other alg are rejected.
//
//   Result<Jwks> keys = Jwks::parse(jwks_json);
//   JwtPolicy policy{"https://login.microsoftonline.com/<tenant>/v2.0", "api://codefleet"};
//   Result<JwtClaims> claims = verify_jwt(bearer, *keys, policy, now_seconds);
//   if (!claims) return unauthorized(claims.error().message);  // never contains the token
//   bool admin = claims->has_role("Fleet.Admin");
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace codefleet {

// What a verified token says. Absent string claims are empty.
struct JwtClaims {
  std::string subject;                 // sub
  std::string issuer;                  // iss
  std::string tenant_id;               // tid
  std::string object_id;               // oid: the user or service principal
  std::string app_id;                  // azp (v2 tokens) or appid (v1 tokens): the calling client
  std::vector<std::string> audiences;  // aud, a string or an array in the token
  std::vector<std::string> roles;      // roles: app roles granted to the caller
  std::vector<std::string> scopes;     // scp, split on spaces (delegated tokens only)
  int64_t expires_at_s = 0;            // exp, seconds since the Unix epoch

  bool has_role(const std::string& role) const;
  bool has_scope(const std::string& scope) const;
};

// What a token must say to be accepted.
struct JwtPolicy {
  // Compared exactly. Entra v2 tokens: "https://login.microsoftonline.com/<tid>/v2.0";
  // v1 tokens: "https://sts.windows.net/<tid>/".
  std::string issuer;
  // Must be one of the token's `aud` values ("api://codefleet" or the app's client id).
  std::string audience;
  // Clock skew allowed on exp, nbf and iat, in seconds (>= 0).
  int64_t leeway_s = 60;
};

// A JSON Web Key Set: the RSA signing keys, by kid. Copies share the (immutable) key
// material, so a copy is cheap, and one set may serve concurrent verify_jwt calls.
// A default-constructed set has no keys and verifies nothing.
class Jwks {
 public:
  Jwks() = default;

  // Parses {"keys": [{"kty": "RSA", "kid": ..., "n": ..., "e": ...}, ...]}. Keys whose kty
  // is not RSA, whose use is not "sig", or whose alg is not RS256 are skipped; a malformed
  // RSA key, or a set with no usable key, is an error (kInvalidInput; `location` names the
  // key, e.g. "keys[2].n").
  static Result<Jwks> parse(const std::string& json);

  size_t size() const;
  bool empty() const { return size() == 0; }
  bool contains(const std::string& kid) const;
  // The kid of every usable key in document order ("" for a key without one).
  std::vector<std::string> key_ids() const;

 private:
  struct Impl;
  explicit Jwks(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

  friend Result<JwtClaims> verify_jwt(const std::string& token, const Jwks& keys,
                                      const JwtPolicy& policy, int64_t now_s);

  std::shared_ptr<const Impl> impl_;
};

// The largest token verify_jwt looks at, in bytes.
inline constexpr size_t kMaxJwtBytes = 16 * 1024;

// Verifies a compact JWS (the text after "Bearer "): structure, alg == RS256, the key (by
// kid; a token without kid is tried against every key), the signature, then iss ==
// policy.issuer, policy.audience in aud, exp > now - leeway, nbf <= now + leeway and
// iat <= now + leeway. Returns the claims, or an Error (kInvalidInput; kInternal only if
// OpenSSL itself fails) whose message says why: "token expired at ...", "audience
// mismatch: ...", "unknown key id 'x'", "bad signature", "malformed token: ...".
// The message never contains the token. Never throws.
Result<JwtClaims> verify_jwt(const std::string& token, const Jwks& keys, const JwtPolicy& policy,
                             int64_t now_s);

}  // namespace codefleet
