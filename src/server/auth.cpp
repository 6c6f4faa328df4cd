#include "server/auth.h"

#include <algorithm>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fmt/format.h>

namespace codefleet {

namespace {

Error unauthorized(std::string message) {
  return Error{ErrorCode::kInvalidInput, std::move(message), "Authorization"};
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::abort();  // no randomness: never hand out a guessable key
  }
  return out;
}

// The claim `tenant_claim` reads ("azp" for any setting but "oid" and "tid").
const char* tenant_claim_name(const std::string& setting) {
  return setting == "oid" ? "oid" : setting == "tid" ? "tid" : "azp";
}

// A principal from a key. A submitter works for one tenant: a submitter key without one
// (the API refuses to create it, but a store row may say so) is refused, never "all tenants".
Result<Principal> key_principal(const ApiKey& k) {
  if (k.revoked) return tl::unexpected(unauthorized("the API key was revoked"));
  if (k.role == Role::kSubmitter && k.tenant.empty()) {
    return tl::unexpected(Error{ErrorCode::kInfeasible,
                                "API key '" + k.id + "' is a submitter key without a tenant",
                                "tenant"});
  }
  return Principal{k.id, k.role, k.tenant, "api-key", k.llm};
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

std::string new_api_key_secret() {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string bytes = random_bytes(32);
  std::string out = "cfk_";
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      out += kAlphabet[(acc >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::string new_key_id() {
  std::string bytes = random_bytes(8);
  std::string out = "key-";
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

Result<Principal> Authenticator::authenticate(const std::string& authorization, int64_t now_s) {
  if (authorization.empty()) return tl::unexpected(unauthorized("missing Authorization header"));
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      authorization.compare(0, kBearer.size(), kBearer) != 0) {
    return tl::unexpected(unauthorized("Authorization must be 'Bearer <API key or token>'"));
  }
  std::string credential = authorization.substr(kBearer.size());
  // A JWT has three dot-separated parts; anything else is an API key.
  if (std::count(credential.begin(), credential.end(), '.') != 2) return from_key(credential);
  return from_token(credential, now_s);
}

Result<Principal> Authenticator::from_key(const std::string& secret) {
  std::string hash = sha256_hex(secret);
  auto now = std::chrono::steady_clock::now();
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(hash);
    if (it != cache_.end() && it->second.until > now) return key_principal(it->second.key);
    generation = generation_;
  }
  auto found = store_.find_api_key(hash);
  if (!found) return tl::unexpected(found.error());  // store trouble: not the caller's fault
  if (!*found) return tl::unexpected(unauthorized("unknown API key"));
  ApiKey k = **found;
  {
    // A revocation that ran while we read (forget() bumps the generation) must not be
    // undone by caching what we read before it.
    std::lock_guard lock(mu_);
    if (generation == generation_) {
      if (cache_.size() > 100'000) cache_.clear();
      cache_[hash] = {k, now + options_.key_cache_for};
    }
  }
  return key_principal(k);
}

Result<Principal> Authenticator::from_token(const std::string& token, int64_t now_s) {
  if (!entra_) {
    return tl::unexpected(
        unauthorized("not an API key, and Entra ID tokens are not configured (entra: in the "
                     "config)"));
  }
  Jwks keys;
  {
    std::lock_guard lock(mu_);
    keys = entra_->keys;  // shares the key material; a refresh may swap it meanwhile
  }
  auto claims = verify_jwt(token, keys, entra_->policy, now_s);
  if (!claims) return tl::unexpected(unauthorized("invalid token: " + claims.error().message));
  std::optional<Role> role;
  for (const auto& r : claims->roles) {
    auto it = entra_->role_map.find(r);
    if (it != entra_->role_map.end() && (!role || it->second > *role)) role = it->second;
  }
  if (!role) {
    return tl::unexpected(
        Error{ErrorCode::kInfeasible, "the token grants no CodeFleet role", "roles"});
  }
  std::string id = claims->object_id.empty() ? claims->subject : claims->object_id;
  if (id.empty()) {
    return tl::unexpected(Error{ErrorCode::kInfeasible,
                                "the token names no caller: its 'oid' and 'sub' claims are empty",
                                "sub"});
  }
  std::string tenant;
  if (*role == Role::kSubmitter) {
    const char* claim = tenant_claim_name(entra_->tenant_claim);
    const std::string& t = std::string_view(claim) == "oid"   ? claims->object_id
                           : std::string_view(claim) == "tid" ? claims->tenant_id
                                                              : claims->app_id;
    tenant = t.empty() ? claims->subject : t;
    // No tenant would read as "every tenant": a submitter token must name one.
    if (tenant.empty()) {
      return tl::unexpected(Error{
          ErrorCode::kInfeasible,
          fmt::format("the token names no tenant: its '{}' claim and its 'sub' claim are empty",
                      claim),
          "tenant"});
    }
  }
  return Principal{id, *role, tenant, "entra", {}};
}

void Authenticator::set_keys(Jwks keys) {
  std::lock_guard lock(mu_);
  if (entra_) entra_->keys = std::move(keys);
}

JwksRefresher::JwksRefresher(Fetch fetch, Authenticator& auth, std::chrono::milliseconds every,
                             OnFailure on_failure)
    : fetch_(std::move(fetch)), auth_(auth), on_failure_(std::move(on_failure)) {
  thread_ = std::thread([this, every] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, every, [&] { return stop_; })) {
      lock.unlock();
      auto r = refresh_now();
      if (!r && on_failure_) on_failure_(r.error());
      lock.lock();
    }
  });
}

JwksRefresher::~JwksRefresher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Result<void> JwksRefresher::refresh_now() {
  auto keys = fetch_();
  if (!keys) return tl::unexpected(keys.error());
  auth_.set_keys(std::move(*keys));
  return {};
}

void Authenticator::forget(const std::string& key_id) {
  std::lock_guard lock(mu_);
  ++generation_;
  for (auto it = cache_.begin(); it != cache_.end();) {
    it = it->second.key.id == key_id ? cache_.erase(it) : std::next(it);
  }
}

}  // namespace codefleet
