// The JWT verifier and the JWKS parser. The first byte picks what the rest is:
//   0: a bearer token, verified as it is against a fixed key set;
//   1: a JWKS document;
//   2: "header JSON\npayload JSON", signed with the set's key, so that the claim checks
//      past the signature are reached as well.
#include <memory>
#include <string>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.h"
#include "server/jwt.h"

namespace {

using namespace codefleet;

std::string b64url(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

struct Key {
  EVP_PKEY* pkey = EVP_RSA_gen(2048);
  Jwks jwks;

  Key() {
    if (!pkey) fuzz::setup_failed("EVP_RSA_gen");
    auto param = [&](const char* name) {
      BIGNUM* bn = nullptr;
      if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) fuzz::setup_failed(name);
      std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
      BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
      BN_free(bn);
      return b64url(out);
    };
    nlohmann::json doc{{"keys",
                        {{{"kty", "RSA"},
                          {"use", "sig"},
                          {"kid", "k1"},
                          {"n", param(OSSL_PKEY_PARAM_RSA_N)},
                          {"e", param(OSSL_PKEY_PARAM_RSA_E)}}}}};
    auto parsed = Jwks::parse(doc.dump());
    if (!parsed) fuzz::setup_failed(parsed.error().message);
    jwks = *parsed;
  }

  std::string sign(const std::string& input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t len = 0;
    auto bytes = reinterpret_cast<const unsigned char*>(input.data());
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, bytes, input.size()) != 1) {
      fuzz::setup_failed("EVP_DigestSign");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, bytes,
                       input.size()) != 1) {
      fuzz::setup_failed("EVP_DigestSign");
    }
    sig.resize(len);
    return sig;
  }
};

const Key& key() {
  static const Key k;
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string rest = fuzz::text(data + 1, size - 1);
  const JwtPolicy policy{"https://login.microsoftonline.com/t/v2.0", "api://codefleet", 60};
  const int64_t now_s = 1'800'000'000;
  switch (data[0] % 3) {
    case 0:
      (void)verify_jwt(rest, key().jwks, policy, now_s);
      break;
    case 1:
      if (auto set = Jwks::parse(rest)) {
        (void)set->key_ids();
        (void)verify_jwt("e30.e30.e30", *set, policy, now_s);
      }
      break;
    default: {
      size_t nl = rest.find('\n');
      std::string header = rest.substr(0, nl);
      std::string payload = nl == std::string::npos ? std::string() : rest.substr(nl + 1);
      std::string input = b64url(header) + "." + b64url(payload);
      auto claims = verify_jwt(input + "." + b64url(key().sign(input)), key().jwks, policy, now_s);
      if (claims) {
        (void)claims->has_role("Fleet.Admin");
        (void)claims->has_scope("tasks.write");
      }
    }
  }
  return 0;
}
