// Entra-style RS256 tokens made inside a test: base64url, an RSA key pair generated for
// the run (with its JWK), and signing a header and payload into a compact JWS.
//
//   testing::TestKey key("key-a");                      // slow: share one per test binary
//   auto keys = Jwks::parse(testing::jwks_document({&key}).dump());
//   std::string token = testing::sign_token(testing::rs256_header(key), payload, key);
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <nlohmann/json.hpp>

namespace codefleet::testing {

// base64url without padding (RFC 7515 §2).
inline std::string b64url(std::string_view bytes) {
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

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

// An RSA-2048 key pair made for the test run, with its JWK and an RS256 signer.
// Generating one is slow (tens to hundreds of milliseconds): make a few per binary.
class TestKey {
 public:
  explicit TestKey(std::string kid) : kid_(std::move(kid)), pkey_(EVP_RSA_gen(2048)) {}

  const std::string& kid() const { return kid_; }

  // The public key as a JWKS entry: {"kty": "RSA", "use": "sig", "kid", "n", "e", ...}.
  nlohmann::json jwk() const {
    return nlohmann::json{{"kty", "RSA"},
                          {"use", "sig"},
                          {"kid", kid_},
                          {"x5t", kid_},
                          {"n", b64url(bn_param(OSSL_PKEY_PARAM_RSA_N))},
                          {"e", b64url(bn_param(OSSL_PKEY_PARAM_RSA_E))}};
  }

  // The raw RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature of `input`.
  std::string sign(std::string_view input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t len = 0;
    auto data = reinterpret_cast<const unsigned char*>(input.data());
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
      ADD_FAILURE() << "EVP_DigestSign setup failed";
      return {};
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                       input.size()) != 1) {
      ADD_FAILURE() << "EVP_DigestSign failed";
      return {};
    }
    sig.resize(len);
    return sig;
  }

  // The public key as PEM (SubjectPublicKeyInfo).
  std::string public_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), pkey_.get());
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(len));
  }

 private:
  std::string bn_param(const char* name) const {
    BIGNUM* bn = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(pkey_.get(), name, &bn), 1);
    std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }

  std::string kid_;
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey_;
};

// {"keys": [the JWK of each key]}: the document Jwks::parse reads.
inline nlohmann::json jwks_document(std::initializer_list<const TestKey*> keys) {
  nlohmann::json doc{{"keys", nlohmann::json::array()}};
  for (const TestKey* key : keys) doc["keys"].push_back(key->jwk());
  return doc;
}

// {"alg": "RS256", "typ": "JWT", "kid": key's kid}.
inline nlohmann::json rs256_header(const TestKey& key) {
  return nlohmann::json{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", key.kid()}};
}

// base64url(header) "." base64url(payload): what the signature covers.
inline std::string signing_input(const std::string& header_text, const std::string& payload_text) {
  return b64url(header_text) + "." + b64url(payload_text);
}

// A compact JWS of the header and payload texts as given, signed by `key`.
inline std::string sign_token_raw(const std::string& header_text, const std::string& payload_text,
                                  const TestKey& key) {
  std::string input = signing_input(header_text, payload_text);
  return input + "." + b64url(key.sign(input));
}

// A compact JWS of the header and payload, signed by `key` (whatever the header's alg says).
inline std::string sign_token(const nlohmann::json& header, const nlohmann::json& payload,
                              const TestKey& key) {
  return sign_token_raw(header.dump(), payload.dump(), key);
}

}  // namespace codefleet::testing
