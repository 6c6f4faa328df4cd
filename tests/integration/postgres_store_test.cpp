// What only the PostgreSQL store does: several stores (replicas) on one database. The
// behaviour both stores share is in the typed store suite.
//
//   eval "$(bash scripts/pg.sh start)"   # sets CODEFLEET_TEST_POSTGRES_URL
//   ./build/tests/postgres_store_tests
//
// Each test works in a schema of its own (cf_test_<name>), dropped and created afresh, so
// reruns start clean and tests may run side by side.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres_store.h"

namespace codefleet {
namespace {

void ignore_notice(void*, const char*) {}  // "schema … does not exist, skipping"

// Runs `sql` on a connection of the test's own and returns the first value ("" if none).
std::string admin_query(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect to " << url << ": " << PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    auto status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(res);
    } else if (PQntuples(res) > 0) {
      out = PQgetvalue(res, 0, 0);
    }
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

StoredTask pending_task(const std::string& id, const std::string& tenant = "acme") {
  StoredTask t;
  t.id = id;
  t.tenant = tenant;
  t.class_name = "train";
  t.environment = "prod";
  t.body_json = "{}";
  t.created_ms = 1'000;
  return t;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("CODEFLEET_TEST_POSTGRES_URL");
    if (url == nullptr || *url == '\0') {
      FAIL() << "CODEFLEET_TEST_POSTGRES_URL is not set: start the test database with "
                "`bash scripts/pg.sh start` and export the line it prints";
    }
    base_url_ = url;
    // Lower case, and short of PostgreSQL's 63-byte names even with a suffix.
    schema_ = "cf_test_";
    for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
      schema_ += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    schema_.resize(std::min<size_t>(schema_.size(), 48));
    admin_query(base_url_,
                "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE; CREATE SCHEMA " + schema_);
    // The stores work in the fresh schema; application_name lets a test find their sessions.
    bool is_url =
        base_url_.rfind("postgres://", 0) == 0 || base_url_.rfind("postgresql://", 0) == 0;
    if (is_url) {
      url_ = base_url_ + (base_url_.find('?') == std::string::npos ? "?" : "&") +
             "options=-csearch_path%3D" + schema_ + "&application_name=" + schema_;
    } else {
      url_ = base_url_ + " options='-csearch_path=" + schema_ + "' application_name=" + schema_;
    }
  }

  std::unique_ptr<Store> open() {
    auto store = open_postgres_store(url_);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }

  // Runs `sql` in the test's schema.
  std::string query(const std::string& sql) {
    return admin_query(base_url_, "SET search_path = " + schema_ + "; " + sql);
  }

  std::string base_url_;
  std::string schema_;
  std::string url_;
};

TEST_F(PostgresStoreTest, ExactlyOneStoreLeadsAndTheOtherTakesOverWhenItCloses) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  auto a_leads = a->try_lead();
  auto b_leads = b->try_lead();
  ASSERT_TRUE(a_leads && b_leads);
  EXPECT_NE(*a_leads, *b_leads);

  auto& leader = *a_leads ? a : b;
  auto& follower = *a_leads ? b : a;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(leader->try_lead().value_or(false), true);
    EXPECT_EQ(follower->try_lead().value_or(true), false);
  }

  leader.reset();
  EXPECT_TRUE(follower->try_lead().value_or(false));
  EXPECT_TRUE(follower->try_lead().value_or(false));
}

TEST_F(PostgresStoreTest, AResigningLeaderLetsAnotherLead) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->try_lead().value_or(false));
  EXPECT_FALSE(b->try_lead().value_or(true));
  a->resign();  // e.g. it cannot read the cloud it would drive
  EXPECT_TRUE(b->try_lead().value_or(false));
  EXPECT_FALSE(a->try_lead().value_or(true));
}

TEST_F(PostgresStoreTest, LeadershipIsPerSchema) {
  auto a = open();
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->try_lead().value_or(false));

  // Another deployment in another schema of the same database leads on its own.
  std::string other = schema_ + "_other";
  admin_query(base_url_, "DROP SCHEMA IF EXISTS " + other + " CASCADE; CREATE SCHEMA " + other);
  std::string other_url = url_;
  for (size_t at = other_url.find(schema_); at != std::string::npos;
       at = other_url.find(schema_, at + other.size())) {
    other_url.replace(at, schema_.size(), other);
  }
  auto b = open_postgres_store(other_url);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE((*b)->try_lead().value_or(false));
  EXPECT_TRUE(a->try_lead().value_or(false));
}

TEST_F(PostgresStoreTest, ConcurrentClaimsFromTwoStoresNeverOverlap) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  constexpr int kTasks = 300;
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(a->create_task(NewTask{pending_task("t-" + std::to_string(i)), ""}));
  }

  // Two claiming threads per store, small batches, until nothing is left.
  std::vector<std::vector<std::string>> claimed(4);
  std::latch start(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    Store* store = (i % 2 == 0 ? a : b).get();
    threads.emplace_back([&, store, i] {
      start.arrive_and_wait();
      for (;;) {
        auto batch = store->claim_new_tasks(7);
        if (!batch) {
          ADD_FAILURE() << batch.error().message;
          return;
        }
        if (batch->empty()) return;
        EXPECT_TRUE(std::is_sorted(batch->begin(), batch->end(),
                                   [](auto& x, auto& y) { return x.seq < y.seq; }));
        for (const auto& t : *batch) claimed[i].push_back(t.id);
      }
    });
  }
  for (auto& t : threads) t.join();

  std::multiset<std::string> all;
  for (const auto& ids : claimed) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kTasks));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), static_cast<size_t>(kTasks));
  EXPECT_TRUE(a->claim_new_tasks(10)->empty());
  EXPECT_TRUE(b->claim_new_tasks(10)->empty());

  // Released (a new leader), every task is claimable again, in seq order.
  ASSERT_TRUE(b->release_claims());
  auto again = a->claim_new_tasks(kTasks + 10);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), static_cast<size_t>(kTasks));
  EXPECT_EQ(again->front().id, "t-0");
  EXPECT_EQ(again->back().id, "t-" + std::to_string(kTasks - 1));
}

TEST_F(PostgresStoreTest, ConcurrentSubmissionsWithOneKeyCreateOneTask) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "key-" + std::to_string(round);
    std::vector<Result<CreateOutcome>> outcomes(kThreads, tl::unexpected(Error{}));
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      Store* store = (i % 2 == 0 ? a : b).get();
      threads.emplace_back([&, store, i] {
        // Different ids, one key: the key decides.
        NewTask t{pending_task(key + "-task-" + std::to_string(i)), key};
        start.arrive_and_wait();
        outcomes[i] = store->create_task(t);
      });
    }
    for (auto& t : threads) t.join();

    int created = 0;
    std::set<std::string> ids;
    for (const auto& o : outcomes) {
      ASSERT_TRUE(o) << o.error().message;
      created += o->created ? 1 : 0;
      ids.insert(o->task.id);
    }
    EXPECT_EQ(created, 1) << key;
    EXPECT_EQ(ids.size(), 1u) << key;
    auto events = a->task_events(*ids.begin());
    ASSERT_TRUE(events);
    EXPECT_EQ(events->size(), 1u);
  }
  TaskFilter all;
  all.tenant = "acme";
  all.limit = 1000;
  EXPECT_EQ(a->list_tasks(all)->size(), static_cast<size_t>(kRounds));
}

TEST_F(PostgresStoreTest, ConcurrentSubmissionsOfOneIdCreateOneTask) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  constexpr int kThreads = 8;
  std::vector<Result<CreateOutcome>> outcomes(kThreads, tl::unexpected(Error{}));
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    Store* store = (i % 2 == 0 ? a : b).get();
    threads.emplace_back([&, store, i] {
      start.arrive_and_wait();
      outcomes[i] = store->create_task(NewTask{pending_task("same-id"), ""});
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  for (const auto& o : outcomes) {
    if (o) {
      EXPECT_TRUE(o->created);
      ++created;
    } else {
      EXPECT_EQ(o.error().code, ErrorCode::kInvalidInput) << o.error().message;
    }
  }
  EXPECT_EQ(created, 1);
}

TEST_F(PostgresStoreTest, MigrationsAreAppliedOnceEvenByStoresOpeningTogether) {
  std::vector<std::unique_ptr<Store>> stores(4);
  std::vector<std::string> errors(4);
  std::latch start(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto store = open_postgres_store(url_);
      if (store) {
        stores[i] = std::move(*store);
      } else {
        errors[i] = store.error().message;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(stores[i]) << errors[i];
  const int version = stores[0]->schema_version();
  EXPECT_GT(version, 0);
  for (const auto& s : stores) EXPECT_EQ(s->schema_version(), version);

  auto again = open();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->schema_version(), version);
  EXPECT_EQ(again->kind(), "postgres");
  EXPECT_EQ(query("SELECT count(*) FROM schema_migrations"), std::to_string(version));
  EXPECT_EQ(query("SELECT max(version) FROM schema_migrations"), std::to_string(version));
}

TEST_F(PostgresStoreTest, LostConnectionsAreResetAndLeadershipRetaken) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->create_task(NewTask{pending_task("before"), ""}));
  ASSERT_TRUE(store->try_lead().value_or(false));

  // The server drops every session of this store (a failover, an idle timeout, ...).
  std::string killed =
      admin_query(base_url_,
                  "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE "
                  "application_name = '" +
                      schema_ + "' AND pid <> pg_backend_pid()");
  ASSERT_NE(killed, "0");

  auto got = store->get_task("before");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_TRUE(got->has_value());
  auto created = store->create_task(NewTask{pending_task("after"), ""});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_TRUE(created->created);
  auto leads = store->try_lead();
  ASSERT_TRUE(leads) << leads.error().message;
  EXPECT_TRUE(*leads);
}

TEST_F(PostgresStoreTest, ConnectionErrorsAreUnavailableAndNeverShowThePassword) {
  const std::string secret = "s3cr3t-Pw";
  for (const std::string& conninfo :
       {"postgresql://codefleet:" + secret + "@127.0.0.1:1/codefleet_test",
        "host=127.0.0.1 port=1 user=codefleet password=" + secret + " dbname=codefleet_test"}) {
    auto store = open_postgres_store(conninfo);
    ASSERT_FALSE(store) << conninfo;
    EXPECT_EQ(store.error().code, ErrorCode::kUnavailable) << store.error().message;
    EXPECT_EQ(store.error().message.find(secret), std::string::npos) << store.error().message;
  }
  // A malformed string is bad input, and libpq's complaint quotes it: masked.
  auto bad = open_postgres_store("postgresql://codefleet:" + secret + "%zz@127.0.0.1/x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(bad.error().message.find(secret), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace codefleet
