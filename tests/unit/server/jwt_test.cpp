#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include "server/jwt.h"
#include "support/test_jwt.h"

namespace codefleet {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1'767'607'200;  // 2026-01-05T10:00:00Z
const std::string kIssuer =
    "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0";
const std::string kAudience = "api://codefleet";

using testing::b64url;
using testing::signing_input;
using testing::TestKey;

// Key generation is slow: three keys for the whole run. A and B are in the set; C is not.
const TestKey& key_a() {
  static const TestKey key("key-a");
  return key;
}
const TestKey& key_b() {
  static const TestKey key("key-b");
  return key;
}
const TestKey& key_c() {
  static const TestKey key("key-c");
  return key;
}

const Jwks& jwks() {
  static const Jwks keys = [] {
    auto parsed = Jwks::parse(testing::jwks_document({&key_a(), &key_b()}).dump());
    EXPECT_TRUE(parsed) << parsed.error().message;
    return parsed ? *parsed : Jwks();
  }();
  return keys;
}

JwtPolicy policy() { return JwtPolicy{kIssuer, kAudience, 60}; }

json valid_header(const TestKey& key = key_a()) { return testing::rs256_header(key); }

json valid_payload() {
  return json{{"iss", kIssuer},
              {"aud", kAudience},
              {"sub", "subject-1"},
              {"tid", "11111111-2222-3333-4444-555555555555"},
              {"oid", "object-1"},
              {"azp", "client-1"},
              {"roles", {"Fleet.Read", "Fleet.Admin"}},
              {"scp", "fleet.read  fleet.write"},
              {"iat", kNow - 300},
              {"nbf", kNow - 300},
              {"exp", kNow + 3600}};
}

std::string sign_raw(const std::string& header_text, const std::string& payload_text,
                     const TestKey& key = key_a()) {
  return testing::sign_token_raw(header_text, payload_text, key);
}

std::string sign(const json& header, const json& payload, const TestKey& key = key_a()) {
  return testing::sign_token(header, payload, key);
}

// A valid token after `edit` changes its header and payload, signed by `key`.
std::string signed_with(const std::function<void(json& header, json& payload)>& edit,
                        const TestKey& key = key_a()) {
  json header = valid_header(key);
  json payload = valid_payload();
  edit(header, payload);
  return sign(header, payload, key);
}

std::vector<std::string> parts(const std::string& token) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = token.find('.', start);
    out.push_back(token.substr(start, dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

// ---- Accepted tokens ---------------------------------------------------------------------

TEST(Jwt, ValidTokenYieldsClaims) {
  auto claims = verify_jwt(sign(valid_header(), valid_payload()), jwks(), policy(), kNow);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->subject, "subject-1");
  EXPECT_EQ(claims->issuer, kIssuer);
  EXPECT_EQ(claims->tenant_id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(claims->object_id, "object-1");
  EXPECT_EQ(claims->app_id, "client-1");
  EXPECT_EQ(claims->audiences, std::vector<std::string>{kAudience});
  EXPECT_EQ(claims->roles, (std::vector<std::string>{"Fleet.Read", "Fleet.Admin"}));
  EXPECT_EQ(claims->scopes, (std::vector<std::string>{"fleet.read", "fleet.write"}));
  EXPECT_EQ(claims->expires_at_s, kNow + 3600);
  EXPECT_TRUE(claims->has_role("Fleet.Admin"));
  EXPECT_FALSE(claims->has_role("fleet.admin"));
  EXPECT_TRUE(claims->has_scope("fleet.write"));
}

TEST(Jwt, AudienceArrayContainingPolicyAudience) {
  auto token = signed_with([](json&, json& p) { p["aud"] = {"api://other", kAudience}; });
  auto claims = verify_jwt(token, jwks(), policy(), kNow);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->audiences, (std::vector<std::string>{"api://other", kAudience}));
}

TEST(Jwt, SelectsKeyByKid) {
  auto claims =
      verify_jwt(sign(valid_header(key_b()), valid_payload(), key_b()), jwks(), policy(), kNow);
  ASSERT_TRUE(claims) << claims.error().message;
}

TEST(Jwt, TokenWithoutKidIsTriedAgainstEveryKey) {
  auto token = signed_with([](json& h, json&) { h.erase("kid"); }, key_b());
  auto claims = verify_jwt(token, jwks(), policy(), kNow);
  ASSERT_TRUE(claims) << claims.error().message;
}

TEST(Jwt, V1TokenAppIdAndMinimalClaims) {
  auto token = signed_with([](json&, json& p) {
    p = json{{"iss", kIssuer}, {"aud", kAudience}, {"appid", "client-v1"}, {"exp", kNow + 60}};
  });
  auto claims = verify_jwt(token, jwks(), policy(), kNow);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->app_id, "client-v1");
  EXPECT_TRUE(claims->roles.empty());
  EXPECT_TRUE(claims->subject.empty());
}

TEST(Jwt, LeewayIsHonoured) {
  JwtPolicy strict = policy();
  strict.leeway_s = 0;
  // Expired 59 s ago: inside 60 s of leeway.
  auto expired = signed_with([](json&, json& p) {
    p["exp"] = kNow - 59;
    p["iat"] = kNow - 600;
  });
  auto claims = verify_jwt(expired, jwks(), policy(), kNow);
  EXPECT_TRUE(claims) << claims.error().message;
  auto rejected = verify_jwt(expired, jwks(), strict, kNow);
  ASSERT_FALSE(rejected);
  EXPECT_NE(rejected.error().message.find("token expired at 2026-01-05T09:59:01Z"),
            std::string::npos)
      << rejected.error().message;
  // Valid and issued 60 s from now: a clock 60 s ahead of ours.
  auto early = signed_with([](json&, json& p) {
    p["nbf"] = kNow + 60;
    p["iat"] = kNow + 60;
  });
  claims = verify_jwt(early, jwks(), policy(), kNow);
  EXPECT_TRUE(claims) << claims.error().message;
  rejected = verify_jwt(early, jwks(), strict, kNow);
  ASSERT_FALSE(rejected);
  EXPECT_NE(rejected.error().message.find("token not valid before 2026-01-05T10:01:00Z"),
            std::string::npos)
      << rejected.error().message;
}

TEST(Jwt, FractionalNumericDates) {
  auto token = signed_with([](json&, json& p) { p["exp"] = kNow + 10.75; });
  auto claims = verify_jwt(token, jwks(), policy(), kNow);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->expires_at_s, kNow + 10);
}

// ---- Rejected tokens ---------------------------------------------------------------------

struct RejectCase {
  const char* name;
  std::function<std::string()> token;
  std::string message;  // a substring of the error message
};

void PrintTo(const RejectCase& c, std::ostream* os) { *os << c.name; }

std::string hs256_with_public_key() {
  // The classic confusion attack: HMAC keyed with the (public) RSA key's PEM.
  json header{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "key-a"}};
  std::string input = signing_input(header.dump(), valid_payload().dump());
  std::string secret = key_a().public_pem();
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  return input + "." + b64url(std::string_view(reinterpret_cast<char*>(mac), mac_len));
}

std::string with_part(const std::string& token, size_t index, const std::string& replacement) {
  auto p = parts(token);
  p.at(index) = replacement;
  return p[0] + "." + p[1] + "." + p[2];
}

// A header whose base64url text ends in a character with non-zero leftover bits.
std::string non_canonical_header() {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  json header = valid_header();
  header["x"] = "";
  // One byte over a multiple of three: the last character carries 2 bits and 4 zero bits.
  while (header.dump().size() % 3 != 1) header["x"] = header["x"].get<std::string>() + "x";
  std::string token = sign(header, valid_payload());
  std::string h = parts(token)[0];
  h.back() = kAlphabet[kAlphabet.find(h.back()) | 1];
  return with_part(token, 0, h);
}

const RejectCase kRejectCases[] = {
    {"expired", [] { return signed_with([](json&, json& p) { p["exp"] = kNow - 61; }); },
     "token expired at 2026-01-05T09:58:59Z (now 2026-01-05T10:00:00Z, leeway 60s)"},
    {"expired_at_leeway_edge",
     [] { return signed_with([](json&, json& p) { p["exp"] = kNow - 60; }); }, "token expired at"},
    {"not_yet_valid", [] { return signed_with([](json&, json& p) { p["nbf"] = kNow + 61; }); },
     "token not valid before 2026-01-05T10:01:01Z"},
    {"issued_in_future", [] { return signed_with([](json&, json& p) { p["iat"] = kNow + 600; }); },
     "token issued in the future"},
    {"issued_after_expiry",
     [] {
       return signed_with([](json&, json& p) {
         p["iat"] = kNow + 30;
         p["exp"] = kNow + 20;
       });
     },
     "token issued after it expires (iat > exp)"},
    {"no_exp", [] { return signed_with([](json&, json& p) { p.erase("exp"); }); },
     "token has no 'exp' claim"},
    {"exp_not_number", [] { return signed_with([](json&, json& p) { p["exp"] = "tomorrow"; }); },
     "malformed token: claim 'exp' is not a number"},
    {"wrong_issuer",
     [] { return signed_with([](json&, json& p) { p["iss"] = "https://sts.windows.net/x/"; }); },
     "issuer mismatch: token is from 'https://sts.windows.net/x/'"},
    {"no_issuer", [] { return signed_with([](json&, json& p) { p.erase("iss"); }); },
     "token has no 'iss' claim"},
    {"wrong_audience", [] { return signed_with([](json&, json& p) { p["aud"] = "api://other"; }); },
     "audience mismatch: token is for 'api://other', expected 'api://codefleet'"},
    {"wrong_audience_array",
     [] { return signed_with([](json&, json& p) {
            p["aud"] = {"api://a", "api://b"};
          }); },
     "audience mismatch: token is for 'api://a', 'api://b'"},
    {"audience_array_not_strings",
     [] { return signed_with([](json&, json& p) {
            p["aud"] = {kAudience, 7};
          }); },
     "malformed token: claim 'aud' holds a value that is not a string"},
    {"no_audience", [] { return signed_with([](json&, json& p) { p.erase("aud"); }); },
     "token has no 'aud' claim"},
    {"tampered_payload",
     [] {
       json admin = valid_payload();
       admin["roles"] = {"Fleet.Admin", "Fleet.Owner"};
       return with_part(sign(valid_header(), valid_payload()), 1, b64url(admin.dump()));
     },
     "bad signature"},
    {"signed_by_another_key", [] { return sign(valid_header(key_a()), valid_payload(), key_c()); },
     "bad signature"},
    {"signed_by_another_key_without_kid",
     [] { return signed_with([](json& h, json&) { h.erase("kid"); }, key_c()); }, "bad signature"},
    {"truncated_signature",
     [] {
       std::string token = sign(valid_header(), valid_payload());
       return token.substr(0, token.size() - 2);  // 340 characters: 255 bytes
     },
     "bad signature"},
    {"unknown_kid", [] { return signed_with([](json& h, json&) { h["kid"] = "nope"; }); },
     "unknown key id 'nope'"},
    {"kid_not_string", [] { return signed_with([](json& h, json&) { h["kid"] = 1; }); },
     "malformed token: header 'kid' is not a string"},
    {"alg_none",
     [] {
       json header{{"alg", "none"}, {"typ", "JWT"}};
       return signing_input(header.dump(), valid_payload().dump()) + ".";
     },
     "unsupported alg 'none' (only RS256 is accepted)"},
    {"alg_none_with_rsa_signature",
     [] { return signed_with([](json& h, json&) { h["alg"] = "none"; }); },
     "unsupported alg 'none'"},
    {"alg_hs256_public_key_as_secret", hs256_with_public_key, "unsupported alg 'HS256'"},
    {"alg_rs512", [] { return signed_with([](json& h, json&) { h["alg"] = "RS512"; }); },
     "unsupported alg 'RS512'"},
    {"alg_lowercase", [] { return signed_with([](json& h, json&) { h["alg"] = "rs256"; }); },
     "unsupported alg 'rs256'"},
    {"no_alg", [] { return signed_with([](json& h, json&) { h.erase("alg"); }); },
     "malformed token: header has no 'alg' string"},
    {"crit_header", [] { return signed_with([](json& h, json&) { h["crit"] = {"exp"}; }); },
     "unsupported critical header extension"},
    {"roles_not_array",
     [] { return signed_with([](json&, json& p) { p["roles"] = "Fleet.Admin"; }); },
     "malformed token: claim 'roles' is not an array"},
    {"tid_not_string", [] { return signed_with([](json&, json& p) { p["tid"] = 42; }); },
     "malformed token: claim 'tid' is not a string"},
    {"invalid_base64_character",
     [] {
       std::string token = sign(valid_header(), valid_payload());
       token[3] = '*';
       return token;
     },
     "malformed token: header: invalid base64url character at offset 3"},
    {"standard_base64_alphabet",
     [] {
       std::string token = sign(valid_header(), valid_payload());
       std::string payload = parts(token)[1];
       payload[0] = '+';
       payload[1] = '/';
       return with_part(token, 1, payload);
     },
     "malformed token: payload: invalid base64url character at offset 0"},
    {"padded_base64",
     [] {
       std::string token = sign(valid_header(), valid_payload());
       return with_part(token, 0, parts(token)[0] + "==");
     },
     "malformed token: header: base64url padding ('=') is not allowed"},
    {"impossible_base64_length",
     [] {
       std::string token = sign(valid_header(), valid_payload());
       std::string h = parts(token)[0];
       while (h.size() % 4 != 1) h += "A";
       return with_part(token, 0, h);
     },
     "malformed token: header: impossible base64url length"},
    {"non_canonical_base64", non_canonical_header,
     "malformed token: header: non-canonical base64url ending"},
    {"invalid_base64_signature",
     [] {
       std::string token = sign(valid_header(), valid_payload());
       token.back() = '!';
       return token;
     },
     "malformed token: signature: invalid base64url character"},
    {"empty_signature",
     [] {
       std::string token = sign(valid_header(), valid_payload());
       return token.substr(0, token.rfind('.') + 1);
     },
     "malformed token: signature is empty"},
    {"empty", [] { return std::string(); }, "malformed token: empty"},
    {"one_part", [] { return parts(sign(valid_header(), valid_payload()))[0]; },
     "malformed token: expected 3 dot-separated parts, got 1"},
    {"two_parts",
     [] {
       std::string token = sign(valid_header(), valid_payload());
       return token.substr(0, token.rfind('.'));
     },
     "malformed token: expected 3 dot-separated parts, got 2"},
    {"five_parts_jwe", [] { return sign(valid_header(), valid_payload()) + ".AAAA.BBBB"; },
     "malformed token: expected 3 dot-separated parts, got 5"},
    {"empty_header", [] { return "." + parts(sign(valid_header(), valid_payload()))[1] + ".AAAA"; },
     "malformed token: header is empty"},
    {"header_not_json", [] { return sign_raw("not json", valid_payload().dump()); },
     "malformed token: header is not a JSON object"},
    {"payload_not_json", [] { return sign_raw(valid_header().dump(), "{\"iss\": oops"); },
     "malformed token: payload is not a JSON object"},
    {"payload_not_object", [] { return sign_raw(valid_header().dump(), "[1,2,3]"); },
     "malformed token: payload is not a JSON object"},
    {"payload_invalid_utf8",
     [] { return sign_raw(valid_header().dump(), "{\"sub\":\"\xff\xfe\"}"); },
     "malformed token: payload is not a JSON object"},
    {"oversized",
     [] {
       return signed_with([](json&, json& p) { p["padding"] = std::string(kMaxJwtBytes, 'x'); });
     },
     "at most 16384 are accepted"},
};

class JwtReject : public ::testing::TestWithParam<RejectCase> {};

TEST_P(JwtReject, FailsWithReasonAndWithoutTheToken) {
  const RejectCase& c = GetParam();
  std::string token = c.token();
  auto claims = verify_jwt(token, jwks(), policy(), kNow);
  ASSERT_FALSE(claims) << c.name << " was accepted";
  const Error& error = claims.error();
  EXPECT_EQ(error.code, ErrorCode::kInvalidInput);
  EXPECT_NE(error.message.find(c.message), std::string::npos)
      << "expected '" << c.message << "' in: " << error.message;
  std::string described = error.describe();
  if (!token.empty()) {
    EXPECT_EQ(described.find(token), std::string::npos) << "the message quotes the token";
  }
  for (const std::string& part : parts(token)) {
    if (part.size() < 8) continue;
    EXPECT_EQ(described.find(part), std::string::npos) << "the message quotes part of the token";
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, JwtReject, ::testing::ValuesIn(kRejectCases),
                         [](const ::testing::TestParamInfo<RejectCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(Jwt, LongClaimValuesAreCutInMessages) {
  std::string long_issuer = "https://evil.example/" + std::string(500, 'a') + "\n\x01";
  auto token = signed_with([&](json&, json& p) { p["iss"] = long_issuer; });
  auto claims = verify_jwt(token, jwks(), policy(), kNow);
  ASSERT_FALSE(claims);
  EXPECT_EQ(claims.error().message.find(long_issuer), std::string::npos);
  EXPECT_NE(claims.error().message.find("aaa...'"), std::string::npos) << claims.error().message;
  EXPECT_LT(claims.error().message.size(), 400u);
}

TEST(Jwt, PolicyMustNameIssuerAndAudience) {
  std::string token = sign(valid_header(), valid_payload());
  for (JwtPolicy bad : {JwtPolicy{"", kAudience, 60}, JwtPolicy{kIssuer, "", 60},
                        JwtPolicy{kIssuer, kAudience, -1}}) {
    auto claims = verify_jwt(token, jwks(), bad, kNow);
    ASSERT_FALSE(claims);
    EXPECT_EQ(claims.error().code, ErrorCode::kInvalidInput);
  }
}

TEST(Jwt, EmptyKeySetVerifiesNothing) {
  auto claims = verify_jwt(sign(valid_header(), valid_payload()), Jwks(), policy(), kNow);
  ASSERT_FALSE(claims);
  EXPECT_EQ(claims.error().message, "no signing keys loaded");
}

TEST(Jwt, ExtremeNumericDatesDoNotOverflow) {
  auto far = signed_with([](json&, json& p) {
    p["exp"] = 1e300;
    p["iat"] = -1e300;
    p["nbf"] = std::numeric_limits<uint64_t>::max();
  });
  auto claims = verify_jwt(far, jwks(), policy(), kNow);
  ASSERT_FALSE(claims);
  EXPECT_NE(claims.error().message.find("not valid before"), std::string::npos)
      << claims.error().message;
  auto ancient =
      signed_with([](json&, json& p) { p["exp"] = std::numeric_limits<int64_t>::min(); });
  auto old = verify_jwt(ancient, jwks(), policy(), std::numeric_limits<int64_t>::min() + 5);
  ASSERT_FALSE(old);
  EXPECT_NE(old.error().message.find("token expired at"), std::string::npos) << old.error().message;
}

// ---- Key sets ----------------------------------------------------------------------------

TEST(Jwks, SkipsKeysItDoesNotVerifyWith) {
  json enc = key_b().jwk();
  enc["use"] = "enc";
  json rs512 = key_c().jwk();
  rs512["alg"] = "RS512";
  json rs256 = key_b().jwk();
  rs256["kid"] = "key-b-rs256";
  rs256["alg"] = "RS256";
  json no_use = key_c().jwk();
  no_use.erase("use");
  no_use["kid"] = "key-c-no-use";
  json doc{{"keys",
            {key_a().jwk(),
             {{"kty", "EC"}, {"crv", "P-256"}, {"x", "AA"}, {"y", "AA"}},
             enc,
             rs512,
             rs256,
             no_use}}};
  auto keys = Jwks::parse(doc.dump());
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_EQ(keys->size(), 3u);
  EXPECT_EQ(keys->key_ids(), (std::vector<std::string>{"key-a", "key-b-rs256", "key-c-no-use"}));
  EXPECT_TRUE(keys->contains("key-a"));
  EXPECT_FALSE(keys->contains("key-b"));
}

TEST(Jwks, CopiesShareKeysAndOutliveTheOriginal) {
  Jwks copy;
  {
    auto parsed = Jwks::parse(json{{"keys", {key_a().jwk()}}}.dump());
    ASSERT_TRUE(parsed) << parsed.error().message;
    copy = *parsed;
  }
  auto claims = verify_jwt(sign(valid_header(), valid_payload()), copy, policy(), kNow);
  EXPECT_TRUE(claims) << claims.error().message;
}

TEST(Jwks, ConcurrentVerification) {
  const std::string good = sign(valid_header(key_b()), valid_payload(), key_b());
  const std::string bad = sign(valid_header(key_a()), valid_payload(), key_c());
  Jwks shared = jwks();
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Jwks mine = shared;  // copies in threads share the same key material
      for (int i = 0; i < 100; ++i) {
        if (!verify_jwt(good, mine, policy(), kNow)) ++failures[t];
        if (verify_jwt(bad, mine, policy(), kNow)) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

struct JwksErrorCase {
  const char* name;
  std::function<std::string()> json_text;
  std::string message;
  std::string location;
};

void PrintTo(const JwksErrorCase& c, std::ostream* os) { *os << c.name; }

json rsa_jwk_with(const char* field, json value) {
  json key = key_a().jwk();
  if (value.is_null()) {
    key.erase(field);
  } else {
    key[field] = std::move(value);
  }
  return json{{"keys", {key}}};
}

const JwksErrorCase kJwksErrorCases[] = {
    {"not_json", [] { return std::string("{\"keys\": ["); }, "JWKS is not valid JSON", ""},
    {"not_object", [] { return std::string("[]"); }, "JWKS is not a JSON object", ""},
    {"no_keys", [] { return std::string("{}"); }, "JWKS has no 'keys' array", "keys"},
    {"keys_not_array", [] { return std::string("{\"keys\": {}}"); }, "JWKS has no 'keys' array",
     "keys"},
    {"empty_keys", [] { return std::string("{\"keys\": []}"); },
     "JWKS has no usable RSA signing key (0 keys skipped)", "keys"},
    {"only_unusable_keys",
     [] {
       json enc = key_a().jwk();
       enc["use"] = "enc";
       return json{{"keys", {{{"kty", "EC"}, {"crv", "P-256"}}, {{"kty", "oct"}}, enc}}}.dump();
     },
     "JWKS has no usable RSA signing key (3 keys skipped)", "keys"},
    {"key_not_object", [] { return std::string("{\"keys\": [\"RSA\"]}"); },
     "key is not a JSON object", "keys[0]"},
    {"no_kty", [] { return rsa_jwk_with("kty", nullptr).dump(); }, "key has no 'kty' string",
     "keys[0].kty"},
    {"kid_not_string", [] { return rsa_jwk_with("kid", 5).dump(); }, "'kid' is not a string",
     "keys[0].kid"},
    {"bad_n_character", [] { return rsa_jwk_with("n", "AB*D").dump(); },
     "'n' is not base64url: invalid base64url character at offset 2", "keys[0].n"},
    {"n_not_string", [] { return rsa_jwk_with("n", 12345).dump(); }, "'n' is not a string",
     "keys[0].n"},
    {"empty_n", [] { return rsa_jwk_with("n", "").dump(); }, "'n' is empty", "keys[0].n"},
    {"no_n", [] { return rsa_jwk_with("n", nullptr).dump(); }, "RSA key has no 'n'", "keys[0].n"},
    {"short_n", [] { return rsa_jwk_with("n", b64url(std::string(63, '\xc3') + "\x01")).dump(); },
     "RSA modulus is 512 bits; 2048 to 8192 are accepted", "keys[0].n"},
    {"even_n", [] { return rsa_jwk_with("n", b64url(std::string(255, '\xc3') + "\x02")).dump(); },
     "RSA modulus is even", "keys[0].n"},
    {"no_e", [] { return rsa_jwk_with("e", nullptr).dump(); }, "RSA key has no 'e'", "keys[0].e"},
    {"e_is_one", [] { return rsa_jwk_with("e", "AQ").dump(); }, "RSA exponent must be odd",
     "keys[0].e"},
    {"bad_key_among_good",
     [] {
       json bad = key_b().jwk();
       bad["n"] = "@@@@";
       return json{{"keys", {key_a().jwk(), bad}}}.dump();
     },
     "'n' is not base64url", "keys[1].n"},
};

class JwksParseError : public ::testing::TestWithParam<JwksErrorCase> {};

TEST_P(JwksParseError, NamesWhatIsWrong) {
  const JwksErrorCase& c = GetParam();
  auto keys = Jwks::parse(c.json_text());
  ASSERT_FALSE(keys) << c.name << " parsed";
  EXPECT_EQ(keys.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(keys.error().message.find(c.message), std::string::npos)
      << "expected '" << c.message << "' in: " << keys.error().message;
  EXPECT_EQ(keys.error().location, c.location);
}

INSTANTIATE_TEST_SUITE_P(Cases, JwksParseError, ::testing::ValuesIn(kJwksErrorCases),
                         [](const ::testing::TestParamInfo<JwksErrorCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(Jwks, PaddedNumbersAreTolerated) {
  json key = key_a().jwk();
  std::string n = key["n"];
  while (n.size() % 4 != 0) n += "=";
  key["n"] = n;
  auto keys = Jwks::parse(json{{"keys", {key}}}.dump());
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_TRUE(verify_jwt(sign(valid_header(), valid_payload()), *keys, policy(), kNow));
}

TEST(Jwks, OversizedDocumentIsRejected) {
  auto keys = Jwks::parse("{\"keys\": [], \"pad\": \"" + std::string(1024 * 1024, 'x') + "\"}");
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().message.find("at most"), std::string::npos) << keys.error().message;
}

}  // namespace
}  // namespace codefleet
