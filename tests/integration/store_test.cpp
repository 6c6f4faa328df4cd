// One suite for every store adapter: the same behaviour from SQLite and PostgreSQL.
#include <algorithm>
#include <cstdint>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "integration/test_stores.h"
#include "store/store.h"

namespace codefleet {
namespace {

using testing::FreshStore;

StoredTask task(const std::string& id, const std::string& tenant = "acme",
                const std::string& cls = "build") {
  StoredTask t;
  t.id = id;
  t.tenant = tenant;
  t.class_name = cls;
  t.environment = "prod";
  t.body_json = R"({"class":")" + cls + R"("})";
  t.created_ms = 1'000;
  t.updated_ms = 1'000;
  return t;
}

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    fresh_ = std::make_unique<FreshStore>(GetParam());
    if (fresh_->url().empty()) GTEST_FAIL() << "no store";
    auto s = open_store(fresh_->url());
    ASSERT_TRUE(s) << s.error().describe();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    fresh_.reset();
  }
  std::unique_ptr<FreshStore> fresh_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, MigratesToTheLatestSchemaAndReopens) {
  EXPECT_EQ(store_->kind(), GetParam());
  int v = store_->schema_version();
  EXPECT_GE(v, 1);
  store_.reset();
  auto again = open_store(fresh_->url());
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ((*again)->schema_version(), v);
}

TEST_P(StoreTest, CreatesAndReadsTasksWithIncreasingSeq) {
  auto a = store_->create_task({task("a"), ""});
  auto b = store_->create_task({task("b"), ""});
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->created);
  EXPECT_LT(a->task.seq, b->task.seq);
  auto got = store_->get_task("a");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->tenant, "acme");
  EXPECT_EQ((*got)->state, TaskPhase::kPending);
  EXPECT_EQ((*got)->body_json, R"({"class":"build"})");
  auto missing = store_->get_task("zzz");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  auto events = store_->task_events("a");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().kind, "submitted");
}

TEST_P(StoreTest, DuplicateIdIsRejected) {
  ASSERT_TRUE(store_->create_task({task("a"), ""}));
  auto again = store_->create_task({task("a"), ""});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kInvalidInput);
}

TEST_P(StoreTest, IdempotencyKeyReturnsTheFirstTaskPerTenant) {
  auto first = store_->create_task({task("a"), "key-1"});
  auto replay = store_->create_task({task("b"), "key-1"});
  ASSERT_TRUE(first && replay);
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(replay->created);
  EXPECT_EQ(replay->task.id, "a");
  // Another tenant's key space is its own.
  auto other = store_->create_task({task("c", "globex"), "key-1"});
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->created);
  auto b = store_->get_task("b");
  ASSERT_TRUE(b);
  EXPECT_FALSE(*b);
}

TEST_P(StoreTest, ConcurrentSubmissionsWithOneKeyCreateOneTask) {
  std::vector<std::thread> threads;
  std::vector<std::string> ids(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = store_->create_task({task("t" + std::to_string(i)), "same"});
      if (r) ids[i] = r->task.id;
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), 1u);
  EXPECT_FALSE(distinct.begin()->empty());
  auto all = store_->list_tasks({});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1u);
}

TEST_P(StoreTest, ListsWithFiltersAndPages) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->create_task({task("a" + std::to_string(i), "acme"), ""}));
    ASSERT_TRUE(store_->create_task({task("g" + std::to_string(i), "globex", "test"), ""}));
  }
  TaskFilter f;
  f.tenant = "acme";
  f.limit = 3;
  auto page1 = store_->list_tasks(f);
  ASSERT_TRUE(page1);
  ASSERT_EQ(page1->size(), 3u);
  f.after_seq = page1->back().seq;
  auto page2 = store_->list_tasks(f);
  ASSERT_TRUE(page2);
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_EQ(page2->back().id, "a4");
  TaskFilter by_class;
  by_class.class_name = "test";
  EXPECT_EQ(store_->list_tasks(by_class)->size(), 5u);
  TaskFilter by_state;
  by_state.state = TaskPhase::kCompleted;
  EXPECT_EQ(store_->list_tasks(by_state)->size(), 0u);
}

TEST_P(StoreTest, UpdatesMoveStateAndStopAtTerminal) {
  ASSERT_TRUE(store_->create_task({task("a"), ""}));
  auto r = store_->update_tasks(
      {{"a", TaskPhase::kAdmitted, "cpu", "node-1", "", 2'000, "admitted", R"({"pool":"cpu"})", {}},
       {"missing", TaskPhase::kAdmitted, "", "", "", 2'000, "", "", {}}});
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(*r, (std::vector<bool>{true, false}));
  auto a = *store_->get_task("a");
  EXPECT_EQ(a->state, TaskPhase::kAdmitted);
  EXPECT_EQ(a->pool, "cpu");
  EXPECT_EQ(a->node, "node-1");
  EXPECT_EQ(a->updated_ms, 2'000);
  // Empty pool/node keep what is there.
  ASSERT_TRUE(store_->update_tasks({{"a", TaskPhase::kCompleted, "", "", "", 3'000, "", "", {}}}));
  a = *store_->get_task("a");
  EXPECT_EQ(a->state, TaskPhase::kCompleted);
  EXPECT_EQ(a->pool, "cpu");
  // Terminal: nothing moves it again.
  auto late = store_->update_tasks({{"a", TaskPhase::kRunning, "", "", "", 4'000, "", "", {}}});
  ASSERT_TRUE(late);
  EXPECT_EQ(*late, std::vector<bool>{false});
  EXPECT_EQ((*store_->get_task("a"))->state, TaskPhase::kCompleted);
  auto events = *store_->task_events("a");
  std::vector<std::string> kinds;
  for (const auto& e : events) kinds.push_back(e.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"submitted", "admitted", "completed"}));
  auto counts = store_->count_tasks();
  ASSERT_TRUE(counts);
  EXPECT_EQ((counts->at({"completed", "build"})), 1);
}

TEST_P(StoreTest, ClaimsEachPendingTaskOnceUntilReleased) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->create_task({task("t" + std::to_string(i)), ""}));
  auto first = store_->claim_new_tasks(3);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ(first->front().id, "t0");
  auto rest = store_->claim_new_tasks(10);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->size(), 2u);
  EXPECT_TRUE(store_->claim_new_tasks(10)->empty());
  ASSERT_TRUE(store_->update_tasks({{"t0", TaskPhase::kCancelled, "", "", "", 5, "", "", {}}}));
  ASSERT_TRUE(store_->release_claims());
  auto again = store_->claim_new_tasks(10);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size(), 4u);  // the cancelled one is not pending any more
  auto active = store_->active_tasks();
  ASSERT_TRUE(active);
  EXPECT_EQ(active->size(), 4u);
}

TEST_P(StoreTest, ApiKeysAreFoundByHashAndRevoked) {
  ApiKey k{"key-1", "ci bot", std::string(64, 'a'), Role::kSubmitter, "acme", 10, false, {}};
  ASSERT_TRUE(store_->put_api_key(k));
  auto dup = store_->put_api_key(k);
  EXPECT_FALSE(dup);
  auto found = store_->find_api_key(std::string(64, 'a'));
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->role, Role::kSubmitter);
  EXPECT_EQ((*found)->tenant, "acme");
  EXPECT_FALSE(*store_->find_api_key(std::string(64, 'b')));
  EXPECT_TRUE(*store_->revoke_api_key("key-1"));
  EXPECT_FALSE(*store_->revoke_api_key("key-1"));
  EXPECT_TRUE((*store_->find_api_key(std::string(64, 'a')))->revoked);
  EXPECT_EQ(store_->list_api_keys()->size(), 1u);
}

TEST_P(StoreTest, ApiKeysCarryTheirLlmLimits) {
  ApiKey limited{"key-l", "agent", std::string(64, 'c'), Role::kSubmitter, "acme",
                 10,      false,   {300, 2, 100'000}};
  ApiKey plain{"key-p", "ci", std::string(64, 'd'), Role::kSubmitter, "acme", 11, false, {}};
  ASSERT_TRUE(store_->put_api_key(limited));
  ASSERT_TRUE(store_->put_api_key(plain));
  auto found = store_->find_api_key(std::string(64, 'c'));
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->llm, (LlmLimits{300, 2, 100'000}));
  EXPECT_EQ((*store_->find_api_key(std::string(64, 'd')))->llm, LlmLimits{});
  auto listed = store_->list_api_keys();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ(listed->at(0).llm, (LlmLimits{300, 2, 100'000}));
  EXPECT_EQ(listed->at(1).llm, LlmLimits{});
  auto set = store_->update_api_key_llm_limits("key-p", {5'000'000, 60, 0});
  ASSERT_TRUE(set) << set.error().describe();
  ASSERT_TRUE(*set);
  EXPECT_EQ((*set)->llm, (LlmLimits{5'000'000, 60, 0}));
  EXPECT_EQ((*set)->id, "key-p");
  EXPECT_EQ((*store_->find_api_key(std::string(64, 'd')))->llm, (LlmLimits{5'000'000, 60, 0}));
  EXPECT_EQ((*store_->find_api_key(std::string(64, 'c')))->llm, (LlmLimits{300, 2, 100'000}));
  EXPECT_EQ(store_->list_api_keys()->at(1).llm, (LlmLimits{5'000'000, 60, 0}));
  // Only the fields given change: two writers changing different fields both keep theirs.
  ASSERT_TRUE(*store_->update_api_key_llm_limits("key-p", {std::nullopt, 10, std::nullopt}));
  auto both = store_->update_api_key_llm_limits("key-p", {std::nullopt, std::nullopt, 5'000});
  ASSERT_TRUE(both && *both);
  EXPECT_EQ((*both)->llm, (LlmLimits{5'000'000, 10, 5'000}));
  // Back to no limits; an unknown key is no error, just nothing.
  auto cleared = store_->update_api_key_llm_limits("key-l", {0, 0, 0});
  ASSERT_TRUE(cleared && *cleared);
  EXPECT_EQ((*store_->find_api_key(std::string(64, 'c')))->llm, LlmLimits{});
  auto missing = store_->update_api_key_llm_limits("key-nope", {1, 1, 1});
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  // A revoked key keeps its limits and can still be changed.
  ASSERT_TRUE(*store_->revoke_api_key("key-p"));
  auto revoked = store_->update_api_key_llm_limits("key-p", {7, 0, 0});
  ASSERT_TRUE(revoked && *revoked);
  EXPECT_TRUE((*revoked)->revoked);
  EXPECT_EQ((*store_->find_api_key(std::string(64, 'd')))->llm, (LlmLimits{7, 0, 0}));
}

TEST_P(StoreTest, LlmUsageOutOfRangeIsRefusedWhole) {
  LlmUsage good{3'600'000, "acme", "key-a", "mini", 1, 10, 5, 0, 7};
  LlmUsage bad = good;
  bad.key_id = "key-b";
  bad.prompt_tokens = -1;
  auto r = store_->add_llm_usage({good, bad});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
  auto rows = store_->llm_usage({});
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());  // nothing of the batch written
  auto costs = store_->costs_by_pool(0, INT64_MAX);
  ASSERT_TRUE(costs);
  EXPECT_EQ(costs->count("llm:mini"), 0u);
}

TEST_P(StoreTest, LlmUsageSumsPerHourAndKeyAndFeedsTheCostLedger) {
  constexpr int64_t kHour = 3'600'000;
  auto row = [](int64_t hour, std::string tenant, std::string key, std::string deployment,
                int64_t prompt, int64_t completion, int64_t cached, int64_t micros) {
    return LlmUsage{hour,
                    std::move(tenant),
                    std::move(key),
                    std::move(deployment),
                    1,
                    prompt,
                    completion,
                    cached,
                    micros};
  };
  ASSERT_TRUE(store_->add_llm_usage({row(0, "acme", "key-a", "cheap", 1'000, 200, 0, 270),
                                     row(0, "acme", "key-b", "vllm", 10, 5, 0, 0)}));
  // The same hour again sums; a later hour is its own row.
  ASSERT_TRUE(store_->add_llm_usage({row(0, "acme", "key-a", "cheap", 1'000, 200, 100, 270)}));
  ASSERT_TRUE(store_->add_llm_usage({row(kHour, "acme", "key-a", "cheap", 40, 3, 10, 8),
                                     row(kHour, "Zeta", "key-z", "dear", 100, 100, 0, 1'250)}));
  ASSERT_TRUE(store_->add_llm_usage({}));

  auto all = store_->llm_usage({});
  ASSERT_TRUE(all) << all.error().describe();
  // Summed over the range per (tenant, key, deployment), in byte order ("Zeta" < "acme").
  std::vector<LlmUsage> expected{{0, "Zeta", "key-z", "dear", 1, 100, 100, 0, 1'250},
                                 {0, "acme", "key-a", "cheap", 3, 2'040, 403, 110, 548},
                                 {0, "acme", "key-b", "vllm", 1, 10, 5, 0, 0}};
  EXPECT_EQ(*all, expected);

  LlmUsageFilter first_hour;
  first_hour.to_ms = kHour;
  auto early = store_->llm_usage(first_hour);
  ASSERT_TRUE(early);
  ASSERT_EQ(early->size(), 2u);
  EXPECT_EQ(early->at(0), (LlmUsage{0, "acme", "key-a", "cheap", 2, 2'000, 400, 100, 540}));
  LlmUsageFilter later;
  later.from_ms = kHour;
  EXPECT_EQ(store_->llm_usage(later)->size(), 2u);

  LlmUsageFilter by_tenant;
  by_tenant.tenant = "acme";
  auto acme = store_->llm_usage(by_tenant);
  ASSERT_TRUE(acme);
  ASSERT_EQ(acme->size(), 2u);
  EXPECT_EQ(acme->at(1).key_id, "key-b");
  LlmUsageFilter by_key;
  by_key.key_id = "key-a";
  by_key.from_ms = kHour;
  auto key_a = store_->llm_usage(by_key);
  ASSERT_TRUE(key_a);
  EXPECT_EQ(*key_a, (std::vector<LlmUsage>{{0, "acme", "key-a", "cheap", 1, 40, 3, 10, 8}}));
  LlmUsageFilter nobody;
  nobody.tenant = "acme";
  nobody.key_id = "key-z";
  EXPECT_TRUE(store_->llm_usage(nobody)->empty());

  // The same cost is in the ledger, under llm:<deployment>; a call that cost nothing is not.
  auto costs = store_->costs_by_pool(0, INT64_MAX);
  ASSERT_TRUE(costs);
  EXPECT_EQ(costs->at("llm:cheap"), 548);
  EXPECT_EQ(costs->at("llm:dear"), 1'250);
  EXPECT_EQ(costs->count("llm:vllm"), 0u);
  EXPECT_EQ(store_->costs_by_pool(0, kHour)->at("llm:cheap"), 540);
  // Usage adds to what the ledger already held for that pool and hour.
  ASSERT_TRUE(store_->add_costs({{"llm:dear", kHour, 50}}));
  ASSERT_TRUE(store_->add_llm_usage({row(kHour, "Zeta", "key-z", "dear", 1, 1, 0, 2)}));
  EXPECT_EQ(store_->costs_by_pool(kHour, 2 * kHour)->at("llm:dear"), 1'302);
}

TEST_P(StoreTest, AlertsUpsertByKey) {
  Alert a{"quota:westeurope:f:80", "quota", "Sev3", true, "at 85%", "{}", 100, 0, 100};
  ASSERT_TRUE(store_->upsert_alert(a));
  a.firing = false;
  a.resolved_ms = 200;
  a.updated_ms = 200;
  ASSERT_TRUE(store_->upsert_alert(a));
  EXPECT_TRUE(store_->list_alerts(true)->empty());
  auto all = store_->list_alerts(false);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().resolved_ms, 200);
  EXPECT_FALSE(all->front().firing);
}

TEST_P(StoreTest, CostsSumPerPoolAndHour) {
  ASSERT_TRUE(store_->add_costs({{"cpu", 0, 100}, {"gpu", 0, 5}}));
  ASSERT_TRUE(store_->add_costs({{"cpu", 0, 50}, {"cpu", 3'600'000, 7}}));
  auto first_hour = store_->costs_by_pool(0, 3'600'000);
  ASSERT_TRUE(first_hour);
  EXPECT_EQ(first_hour->at("cpu"), 150);
  EXPECT_EQ(first_hour->at("gpu"), 5);
  EXPECT_EQ(store_->costs_by_pool(0, 7'200'000)->at("cpu"), 157);
}

TEST_P(StoreTest, JournalAndLeadership) {
  EXPECT_TRUE(store_->append_journal({{"node-1", "node", R"({"state":"running"})", 5}}));
  auto lead = store_->try_lead();
  ASSERT_TRUE(lead);
  EXPECT_TRUE(*lead);
}

INSTANTIATE_TEST_SUITE_P(Adapters, StoreTest, ::testing::ValuesIn(testing::store_kinds()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace codefleet
