#include "server/jwt.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <nlohmann/json.hpp>

namespace codefleet {

namespace {

using nlohmann::json;

constexpr size_t kMaxJwksBytes = 1024 * 1024;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr size_t kMaxQuoted = 128;  // longest claim value echoed in a message

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;

tl::unexpected<Error> invalid(std::string message, std::string location = {}) {
  return make_error(ErrorCode::kInvalidInput, std::move(message), std::move(location));
}

tl::unexpected<Error> malformed(const std::string& why) {
  return invalid("malformed token: " + why);
}

// A value from the token, made safe to put in a message: single-quoted, printable ASCII
// only, cut at kMaxQuoted bytes.
std::string quote_value(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxQuoted; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  out += s.size() > kMaxQuoted ? "...'" : "'";
  return out;
}

// "2026-01-05T10:00:00Z"; seconds since the epoch outside years 1..9999.
std::string format_time(int64_t s) {
  using namespace std::chrono;
  constexpr int64_t kMin = -62'135'596'800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMax = 253'402'300'799;  // 9999-12-31T23:59:59Z
  if (s < kMin || s > kMax) return fmt::format("{}s since the epoch", s);
  int64_t day = s / 86400;
  int64_t sec = s % 86400;
  if (sec < 0) {
    sec += 86400;
    --day;
  }
  year_month_day ymd{sys_days{days{day}}};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     sec / 3600, sec / 60 % 60, sec % 60);
}

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

// Base64url (RFC 4648 §5) without padding. Rejects any other character, an impossible
// length and non-zero leftover bits, so each byte string has exactly one encoding.
// On failure returns the reason.
Result<std::string> base64url_decode(std::string_view in) {
  static constexpr std::array<int8_t, 256> kTable = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 64; ++i) {
      t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    }
    return t;
  }();
  std::string out;
  out.reserve(in.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    int v = kTable[static_cast<unsigned char>(in[i])];
    if (v < 0) {
      if (in[i] == '=') return invalid("base64url padding ('=') is not allowed");
      return invalid(fmt::format("invalid base64url character at offset {}", i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
      acc &= (1u << bits) - 1;
    }
  }
  if (in.size() % 4 == 1) return invalid("impossible base64url length");
  if (acc != 0) return invalid("non-canonical base64url ending");
  return out;
}

// ---- Key set ---------------------------------------------------------------------------

struct RsaKey {
  std::string kid;
  bool has_kid = false;
  PkeyPtr pkey;
  size_t signature_bytes = 0;  // the modulus size: every RS256 signature is this long
};

// JWK numbers are big-endian base64url; a few publishers pad them, so '=' is tolerated here
// (never in tokens).
Result<std::string> jwk_number(const json& key, const char* name) {
  auto it = key.find(name);
  if (it == key.end()) return invalid(fmt::format("RSA key has no '{}'", name));
  if (!it->is_string()) return invalid(fmt::format("'{}' is not a string", name));
  std::string_view text = it->get_ref<const std::string&>();
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  auto bytes = base64url_decode(text);
  if (!bytes) return invalid(fmt::format("'{}' is not base64url: {}", name, bytes.error().message));
  if (bytes->empty()) return invalid(fmt::format("'{}' is empty", name));
  return bytes;
}

Result<PkeyPtr> rsa_public_key(const std::string& n_bytes, const std::string& e_bytes,
                               const std::string& where) {
  auto to_bn = [](const std::string& b) {
    return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(b.data()),
                           static_cast<int>(b.size()), nullptr));
  };
  BnPtr n = to_bn(n_bytes);
  BnPtr e = to_bn(e_bytes);
  if (!n || !e) return make_error(ErrorCode::kInternal, "OpenSSL could not allocate a BIGNUM");
  int n_bits = BN_num_bits(n.get());
  if (n_bits < kMinRsaBits || n_bits > kMaxRsaBits) {
    return invalid(fmt::format("RSA modulus is {} bits; {} to {} are accepted", n_bits, kMinRsaBits,
                               kMaxRsaBits),
                   where + ".n");
  }
  if (!BN_is_odd(n.get())) return invalid("RSA modulus is even", where + ".n");
  if (BN_num_bits(e.get()) > 64 || !BN_is_odd(e.get()) || BN_is_one(e.get())) {
    return invalid("RSA exponent must be odd, greater than 1 and at most 64 bits", where + ".e");
  }

  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::kInternal, "OpenSSL could not build RSA key parameters", where);
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    EVP_PKEY_free(raw);
    return invalid("OpenSSL rejected the RSA public key", where);
  }
  return PkeyPtr(raw);
}

// Whether a key that parsed as JSON is one we verify with; if not, it is skipped.
Result<bool> usable(const json& key, const std::string& where) {
  auto kty = key.find("kty");
  if (kty == key.end() || !kty->is_string()) {
    return invalid("key has no 'kty' string", where + ".kty");
  }
  if (*kty != "RSA") return false;
  for (const char* field : {"use", "alg", "kid"}) {
    auto it = key.find(field);
    if (it != key.end() && !it->is_string()) {
      return invalid(fmt::format("'{}' is not a string", field), where + "." + field);
    }
  }
  auto use = key.find("use");
  if (use != key.end() && *use != "sig") return false;
  auto alg = key.find("alg");
  if (alg != key.end() && *alg != "RS256") return false;
  return true;
}

// ---- Token -------------------------------------------------------------------------------

std::optional<json> parse_object(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// A string claim; "" when absent.
Result<std::string> string_claim(const json& payload, const char* name) {
  auto it = payload.find(name);
  if (it == payload.end() || it->is_null()) return std::string();
  if (!it->is_string()) return malformed(fmt::format("claim '{}' is not a string", name));
  return it->get<std::string>();
}

// An array of strings; empty when absent.
Result<std::vector<std::string>> string_array_claim(const json& payload, const char* name) {
  std::vector<std::string> out;
  auto it = payload.find(name);
  if (it == payload.end() || it->is_null()) return out;
  if (!it->is_array()) return malformed(fmt::format("claim '{}' is not an array", name));
  for (const auto& v : *it) {
    if (!v.is_string()) {
      return malformed(fmt::format("claim '{}' holds a value that is not a string", name));
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

// A NumericDate (RFC 7519: seconds since the epoch, possibly fractional), floored and
// clamped to int64; nullopt when absent.
Result<std::optional<int64_t>> numeric_date_claim(const json& payload, const char* name) {
  auto it = payload.find(name);
  if (it == payload.end()) return std::optional<int64_t>();
  if (it->is_number_integer() && !it->is_number_unsigned()) {
    return std::optional<int64_t>(it->get<int64_t>());
  }
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    return std::optional<int64_t>(static_cast<int64_t>(std::min(v, kMax)));
  }
  if (it->is_number_float()) {
    double v = it->get<double>();
    if (!std::isfinite(v)) return malformed(fmt::format("claim '{}' is not finite", name));
    v = std::floor(v);
    if (v >= 9.2e18) return std::optional<int64_t>(std::numeric_limits<int64_t>::max());
    if (v <= -9.2e18) return std::optional<int64_t>(std::numeric_limits<int64_t>::min());
    return std::optional<int64_t>(static_cast<int64_t>(v));
  }
  return malformed(fmt::format("claim '{}' is not a number", name));
}

// 1: verified; 0: wrong signature; -1: OpenSSL failed to set up.
int verify_rs256(const RsaKey& key, std::string_view signing_input, const std::string& sig) {
  if (sig.size() != key.signature_bytes) return 0;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx ||
      EVP_DigestVerifyInit_ex(ctx.get(), &pctx, "SHA256", nullptr, nullptr, key.pkey.get(),
                              nullptr) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    ERR_clear_error();
    return -1;
  }
  int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
      reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
  ERR_clear_error();
  return rc == 1 ? 1 : 0;
}

std::string list_quoted(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size() && i < 4; ++i) {
    if (i > 0) out += ", ";
    out += quote_value(values[i]);
  }
  if (values.size() > 4) out += fmt::format(" and {} more", values.size() - 4);
  return out;
}

std::vector<std::string> split_spaces(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(' ', i);
    if (j == std::string::npos) j = text.size();
    if (j > i) out.push_back(text.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

struct Jwks::Impl {
  std::vector<RsaKey> keys;
};

bool JwtClaims::has_role(const std::string& role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool JwtClaims::has_scope(const std::string& scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

size_t Jwks::size() const { return impl_ ? impl_->keys.size() : 0; }

bool Jwks::contains(const std::string& kid) const {
  if (!impl_) return false;
  return std::any_of(impl_->keys.begin(), impl_->keys.end(),
                     [&](const RsaKey& k) { return k.has_kid && k.kid == kid; });
}

std::vector<std::string> Jwks::key_ids() const {
  std::vector<std::string> out;
  if (impl_) {
    for (const auto& k : impl_->keys) out.push_back(k.kid);
  }
  return out;
}

Result<Jwks> Jwks::parse(const std::string& text) {
  try {
    if (text.size() > kMaxJwksBytes) {
      return invalid(
          fmt::format("JWKS is {} bytes; at most {} are accepted", text.size(), kMaxJwksBytes));
    }
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::exception& e) {
      return invalid(fmt::format("JWKS is not valid JSON: {}", e.what()));
    }
    if (!doc.is_object()) return invalid("JWKS is not a JSON object");
    auto keys = doc.find("keys");
    if (keys == doc.end() || !keys->is_array()) {
      return invalid("JWKS has no 'keys' array", "keys");
    }
    auto impl = std::make_shared<Impl>();
    size_t skipped = 0;
    for (size_t i = 0; i < keys->size(); ++i) {
      const json& key = (*keys)[i];
      std::string where = fmt::format("keys[{}]", i);
      if (!key.is_object()) return invalid("key is not a JSON object", where);
      auto use = usable(key, where);
      if (!use) return tl::unexpected(use.error());
      if (!*use) {
        ++skipped;
        continue;
      }
      auto n = jwk_number(key, "n");
      if (!n) return invalid(n.error().message, where + ".n");
      auto e = jwk_number(key, "e");
      if (!e) return invalid(e.error().message, where + ".e");
      auto pkey = rsa_public_key(*n, *e, where);
      if (!pkey) return tl::unexpected(pkey.error());
      RsaKey rsa;
      auto kid = key.find("kid");
      rsa.has_kid = kid != key.end();
      if (rsa.has_kid) rsa.kid = kid->get<std::string>();
      rsa.signature_bytes = static_cast<size_t>(EVP_PKEY_get_size(pkey->get()));
      rsa.pkey = std::move(*pkey);
      impl->keys.push_back(std::move(rsa));
    }
    if (impl->keys.empty()) {
      return invalid(fmt::format("JWKS has no usable RSA signing key ({} key{} skipped)", skipped,
                                 skipped == 1 ? "" : "s"),
                     "keys");
    }
    return Jwks(std::move(impl));
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, fmt::format("JWKS parsing failed: {}", e.what()));
  }
}

Result<JwtClaims> verify_jwt(const std::string& token, const Jwks& keys, const JwtPolicy& policy,
                             int64_t now_s) {
  try {
    if (policy.issuer.empty()) return invalid("JWT policy has no issuer", "policy.issuer");
    if (policy.audience.empty()) return invalid("JWT policy has no audience", "policy.audience");
    if (policy.leeway_s < 0) return invalid("JWT policy leeway is negative", "policy.leeway_s");

    // Structure: header.payload.signature, each base64url; header and payload JSON objects.
    if (token.empty()) return malformed("empty");
    if (token.size() > kMaxJwtBytes) {
      return malformed(
          fmt::format("{} bytes long; at most {} are accepted", token.size(), kMaxJwtBytes));
    }
    size_t dots = static_cast<size_t>(std::count(token.begin(), token.end(), '.'));
    if (dots != 2) {
      return malformed(fmt::format("expected 3 dot-separated parts, got {}", dots + 1));
    }
    size_t dot1 = token.find('.');
    size_t dot2 = token.find('.', dot1 + 1);
    std::string_view view(token);
    std::string_view header_b64 = view.substr(0, dot1);
    std::string_view payload_b64 = view.substr(dot1 + 1, dot2 - dot1 - 1);
    std::string_view signature_b64 = view.substr(dot2 + 1);
    std::string_view signing_input = view.substr(0, dot2);
    if (header_b64.empty()) return malformed("header is empty");
    if (payload_b64.empty()) return malformed("payload is empty");

    auto header_text = base64url_decode(header_b64);
    if (!header_text) return malformed("header: " + header_text.error().message);
    auto header = parse_object(*header_text);
    if (!header) return malformed("header is not a JSON object");
    auto payload_text = base64url_decode(payload_b64);
    if (!payload_text) return malformed("payload: " + payload_text.error().message);
    auto payload = parse_object(*payload_text);
    if (!payload) return malformed("payload is not a JSON object");

    // Header: RS256 only, and no extensions we would have to understand.
    auto alg = header->find("alg");
    if (alg == header->end() || !alg->is_string()) return malformed("header has no 'alg' string");
    const std::string& alg_name = alg->get_ref<const std::string&>();
    if (alg_name != "RS256") {
      return invalid(
          fmt::format("unsupported alg {} (only RS256 is accepted)", quote_value(alg_name)));
    }
    if (header->contains("crit")) return invalid("unsupported critical header extension ('crit')");

    // Key: by kid, or every key when the token names none.
    if (keys.empty()) return invalid("no signing keys loaded");
    std::vector<const RsaKey*> candidates;
    auto kid = header->find("kid");
    if (kid != header->end()) {
      if (!kid->is_string()) return malformed("header 'kid' is not a string");
      const std::string& kid_name = kid->get_ref<const std::string&>();
      for (const auto& k : keys.impl_->keys) {
        if (k.has_kid && k.kid == kid_name) candidates.push_back(&k);
      }
      if (candidates.empty()) {
        return invalid(fmt::format("unknown key id {}", quote_value(kid_name)));
      }
    } else {
      for (const auto& k : keys.impl_->keys) candidates.push_back(&k);
    }

    // Signature.
    if (signature_b64.empty()) return malformed("signature is empty");
    auto signature = base64url_decode(signature_b64);
    if (!signature) return malformed("signature: " + signature.error().message);
    bool verified = false;
    for (const RsaKey* k : candidates) {
      int rc = verify_rs256(*k, signing_input, *signature);
      if (rc < 0) return make_error(ErrorCode::kInternal, "OpenSSL could not verify RS256");
      if (rc == 1) {
        verified = true;
        break;
      }
    }
    if (!verified) return invalid("bad signature");

    // Claims the policy checks.
    JwtClaims claims;
    auto iss = payload->find("iss");
    if (iss == payload->end() || !iss->is_string()) return invalid("token has no 'iss' claim");
    claims.issuer = iss->get<std::string>();
    if (claims.issuer != policy.issuer) {
      return invalid(fmt::format("issuer mismatch: token is from {}, expected {}",
                                 quote_value(claims.issuer), quote_value(policy.issuer)));
    }

    auto aud = payload->find("aud");
    if (aud == payload->end()) return invalid("token has no 'aud' claim");
    if (aud->is_string()) {
      claims.audiences.push_back(aud->get<std::string>());
    } else {
      auto list = string_array_claim(*payload, "aud");
      if (!list) return tl::unexpected(list.error());
      claims.audiences = std::move(*list);
    }
    if (std::find(claims.audiences.begin(), claims.audiences.end(), policy.audience) ==
        claims.audiences.end()) {
      return invalid(
          fmt::format("audience mismatch: token is for {}, expected {}",
                      claims.audiences.empty() ? "no audience" : list_quoted(claims.audiences),
                      quote_value(policy.audience)));
    }

    auto exp = numeric_date_claim(*payload, "exp");
    if (!exp) return tl::unexpected(exp.error());
    auto nbf = numeric_date_claim(*payload, "nbf");
    if (!nbf) return tl::unexpected(nbf.error());
    auto iat = numeric_date_claim(*payload, "iat");
    if (!iat) return tl::unexpected(iat.error());
    auto when = [&] {
      return fmt::format("(now {}, leeway {}s)", format_time(now_s), policy.leeway_s);
    };
    if (!*exp) return invalid("token has no 'exp' claim");
    if (**exp <= saturating_add(now_s, -policy.leeway_s)) {
      return invalid(fmt::format("token expired at {} {}", format_time(**exp), when()));
    }
    int64_t latest = saturating_add(now_s, policy.leeway_s);
    if (*nbf && **nbf > latest) {
      return invalid(fmt::format("token not valid before {} {}", format_time(**nbf), when()));
    }
    if (*iat && **iat > latest) {
      return invalid(
          fmt::format("token issued in the future, at {} {}", format_time(**iat), when()));
    }
    if (*iat && **iat > **exp) return invalid("token issued after it expires (iat > exp)");
    claims.expires_at_s = **exp;

    // Claims handed to the caller.
    struct Field {
      const char* name;
      std::string* into;
    };
    for (Field f : {Field{"sub", &claims.subject}, Field{"tid", &claims.tenant_id},
                    Field{"oid", &claims.object_id}, Field{"azp", &claims.app_id}}) {
      auto value = string_claim(*payload, f.name);
      if (!value) return tl::unexpected(value.error());
      *f.into = std::move(*value);
    }
    if (claims.app_id.empty()) {
      auto appid = string_claim(*payload, "appid");
      if (!appid) return tl::unexpected(appid.error());
      claims.app_id = std::move(*appid);
    }
    auto roles = string_array_claim(*payload, "roles");
    if (!roles) return tl::unexpected(roles.error());
    claims.roles = std::move(*roles);
    auto scp = string_claim(*payload, "scp");
    if (!scp) return tl::unexpected(scp.error());
    claims.scopes = split_spaces(*scp);
    return claims;
  } catch (const std::exception&) {
    // Not e.what(): it might quote the token.
    return make_error(ErrorCode::kInternal, "JWT verification failed unexpectedly");
  }
}

}  // namespace codefleet
