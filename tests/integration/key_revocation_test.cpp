// Two replicas (each an Authenticator and an ApiServer of its own) on one PostgreSQL
// store: a key revoked through one stops working on the other within the key cache's
// lifetime (AuthOptions::key_cache_for, short here so that the test need not wait 10 s).
//
//   eval "$(bash scripts/pg.sh start)"   # sets CODEFLEET_TEST_POSTGRES_URL
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/daemon_fixture.h"
#include "integration/test_stores.h"

namespace codefleet {
namespace {

using namespace std::chrono;
using testing::kAdminKey;

constexpr auto kCacheFor = milliseconds(300);

class KeyRevocationAcrossReplicas : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string admin = testing::postgres_admin_url();
    if (admin.empty()) {
      GTEST_SKIP() << "CODEFLEET_TEST_POSTGRES_URL is not set: run `eval \"$(bash "
                      "scripts/pg.sh start)\"` to test revocation across replicas";
    }
    if (std::string err = testing::postgres_exec(admin, "SET application_name = 'cf_probe'");
        !err.empty()) {
      GTEST_SKIP() << "PostgreSQL at CODEFLEET_TEST_POSTGRES_URL cannot be reached: " << err;
    }
    fresh_ = std::make_unique<testing::FreshStore>("postgres");
    testing::DaemonOptions options;
    options.auth.key_cache_for = kCacheFor;
    for (auto* slot : {&a_, &b_}) {
      *slot = std::make_unique<testing::Daemon>(
          fresh_->url(), "", std::nullopt, std::string(CODEFLEET_FIXTURES) + "/serve/small.yaml",
          std::nullopt, options);
    }
    client_a_ = std::make_unique<httplib::Client>("127.0.0.1", a_->port());
    client_b_ = std::make_unique<httplib::Client>("127.0.0.1", b_->port());
  }
  void TearDown() override {
    client_a_.reset();
    client_b_.reset();
    a_.reset();
    b_.reset();
    fresh_.reset();
  }

  std::unique_ptr<testing::FreshStore> fresh_;
  std::unique_ptr<testing::Daemon> a_, b_;
  std::unique_ptr<httplib::Client> client_a_, client_b_;
};

TEST_F(KeyRevocationAcrossReplicas, ARevokedKeyStopsWorkingOnTheOtherReplicaWithinTheCacheTime) {
  auto made = testing::http_call(*client_a_, "POST", "/v1/keys", kAdminKey,
                                 R"({"name": "ci", "role": "viewer"})");
  ASSERT_EQ(made.status, 201) << made.text;
  std::string id = made.body["id"], secret = made.body["secret"];
  // Both replicas accept it; B now holds it in its cache.
  ASSERT_EQ(testing::http_call(*client_a_, "GET", "/v1/pools", secret).status, 200);
  ASSERT_EQ(testing::http_call(*client_b_, "GET", "/v1/pools", secret).status, 200);

  auto revoked = testing::http_call(*client_a_, "DELETE", "/v1/keys/" + id, kAdminKey);
  ASSERT_EQ(revoked.status, 200) << revoked.text;
  auto at = steady_clock::now();
  // The replica that revoked it refuses it at once.
  EXPECT_EQ(testing::http_call(*client_a_, "GET", "/v1/pools", secret).status, 401);
  // The other one within the cache time (plus the time a request takes here).
  int status = 200;
  while (status == 200 && steady_clock::now() - at < seconds(10)) {
    status = testing::http_call(*client_b_, "GET", "/v1/pools", secret).status;
    if (status == 200) std::this_thread::sleep_for(milliseconds(20));
  }
  auto took = duration_cast<milliseconds>(steady_clock::now() - at);
  EXPECT_EQ(status, 401) << "replica B still accepts a key revoked " << took.count() << " ms ago";
  EXPECT_LT(took, kCacheFor + seconds(2));
  // And keeps refusing it.
  std::this_thread::sleep_for(kCacheFor);
  EXPECT_EQ(testing::http_call(*client_b_, "GET", "/v1/pools", secret).status, 401);
  EXPECT_EQ(testing::http_call(*client_b_, "GET", "/v1/pools", kAdminKey).status, 200);
}

TEST(AuthOptions, KeysAreCachedForTenSecondsByDefault) {
  EXPECT_EQ(AuthOptions{}.key_cache_for, seconds(10));
}

}  // namespace
}  // namespace codefleet
