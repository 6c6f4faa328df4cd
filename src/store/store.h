// The store port: everything the daemon must not lose — accepted tasks and their state
// changes, idempotency keys, API keys (hashed, with their LLM limits), alerts, accrued
// cost, LLM usage per tenant, key and deployment, and the journal of reconcile decisions.
// Two adapters implement it: SQLite (embedded, the default) and PostgreSQL (several
// replicas; one leader). One typed test suite runs against both.
//
//   auto store = open_store("sqlite:/var/lib/codefleet/codefleet.db");
//   auto r = (*store)->create_task({.task = t, .idempotency_key = "abc"});
//   // durable when this returns; r->created == false for a repeated key (same task back)
//
// Times are Unix milliseconds; money is integer micro-USD. Every method is safe to call
// from several threads at once. Errors are `Result`s: kInvalidInput (a duplicate task
// id), kUnavailable (the database is busy or unreachable: retry), kInternal.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace codefleet {

// A task's life in the daemon. pending → admitted (placed on a node) → running (a worker
// said so) → completed | failed; cancelled and rejected end it early.
enum class TaskPhase { kPending, kAdmitted, kRunning, kCompleted, kFailed, kCancelled, kRejected };
const char* task_phase_name(TaskPhase p);
std::optional<TaskPhase> parse_task_phase(std::string_view name);
bool is_terminal(TaskPhase p);

struct StoredTask {
  std::string id;
  std::string tenant;
  std::string class_name;
  std::string environment;
  TaskPhase state = TaskPhase::kPending;
  std::string body_json;  // the task as accepted (`task_to_json`)
  std::string pool;       // admitted: where
  std::string node;
  std::string reason;  // rejected, failed, cancelled: why
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t seq = 0;  // assigned by the store, increasing: listing order and page cursor
};

struct NewTask {
  StoredTask task;
  // Scoped to the task's tenant. A repeated key returns the task it first created.
  std::string idempotency_key;
};

struct CreateOutcome {
  StoredTask task;
  bool created = false;  // false: the idempotency key was seen before
};

struct TaskFilter {
  std::optional<TaskPhase> state;
  std::optional<std::string> class_name;
  std::optional<std::string> environment;
  std::optional<std::string> tenant;
  int64_t after_seq = 0;  // page cursor: tasks with seq > after_seq
  int limit = 100;
};

struct TaskUpdate {
  std::string id;
  TaskPhase state = TaskPhase::kPending;
  std::string pool, node, reason;
  int64_t at_ms = 0;
  std::string event;        // journal kind: "admitted", "started", "finished", ...
  std::string detail_json;  // "{}" when empty
  // Applied only when the task is in one of these states now (checked in the same
  // statement, so a concurrent change cannot slip between a check and the update).
  // Empty: any state that is not terminal.
  std::vector<TaskPhase> from;
};

// ",admitted,running," for `from` (the adapters match a state with it); "" when empty.
std::string phase_list(const std::vector<TaskPhase>& phases);

struct TaskEvent {
  std::string task_id;
  std::string kind;
  std::string detail_json;
  int64_t at_ms = 0;
};

enum class Role { kViewer, kSubmitter, kOperator, kAdmin };
const char* role_name(Role r);
std::optional<Role> parse_role(std::string_view name);

// What an API key may spend and draw through the LLM gateway; 0 = no limit.
struct LlmLimits {
  int64_t budget_micros_month = 0;  // per UTC calendar month
  int64_t rpm = 0;                  // requests per minute
  int64_t tpm = 0;                  // tokens per minute (prompt + completion)
  bool operator==(const LlmLimits&) const = default;
};

struct ApiKey {
  std::string id;        // public identifier ("key-…"), shown in listings
  std::string name;      // what it is for
  std::string hash_hex;  // SHA-256 of the secret; the secret itself is never stored
  Role role = Role::kViewer;
  std::string tenant;  // "" = every tenant (viewer, operator, admin)
  int64_t created_ms = 0;
  bool revoked = false;
  LlmLimits llm;
};

struct Alert {
  std::string key;       // identity: "quota:StandardNCadsH100v5Family:90", "budget:prod:80", ...
  std::string kind;      // quota | budget | wait_slo | cloud_operation
  std::string severity;  // Sev0..Sev4 (Azure Monitor's scale)
  bool firing = true;
  std::string summary;
  std::string labels_json;  // "{}" when empty
  int64_t fired_ms = 0;
  int64_t resolved_ms = 0;  // 0 while firing
  int64_t updated_ms = 0;
};

struct CostAccrual {
  std::string pool;
  int64_t hour_start_ms = 0;  // the UTC hour the cost accrued in
  int64_t micros = 0;
};

// Calls through the LLM gateway, summed per (UTC hour, tenant, key, deployment).
// A change to a key's LLM limits: each field set is changed, the others kept.
struct LlmLimitsUpdate {
  std::optional<int64_t> budget_micros_month, rpm, tpm;
};

struct LlmUsage {
  int64_t hour_start_ms = 0;  // 0 in llm_usage()'s sums over a range
  std::string tenant;         // the caller's tenant ("" = a principal without one)
  std::string key_id;         // API key id, or an Entra principal's oid/sub
  std::string deployment;     // Foundry deployment or self-hosted endpoint name
  int64_t requests = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t cost_micros = 0;
  bool operator==(const LlmUsage&) const = default;
};

struct LlmUsageFilter {
  int64_t from_ms = 0;  // hours that start in [from_ms, to_ms)
  int64_t to_ms = std::numeric_limits<int64_t>::max();
  std::string tenant;  // "" = any
  std::string key_id;  // "" = any
};

// Shared by the adapters' add_llm_usage: every counter in [0, 2^40] (kInvalidInput naming
// the row otherwise — an upstream reporting absurd token counts must not poison a batch);
// the rows sorted by key; the cost ledger's deltas per ("llm:" + deployment, hour), sorted.
Result<void> check_llm_usage(const std::vector<LlmUsage>& usage);
std::vector<LlmUsage> sorted_llm_usage(std::vector<LlmUsage> usage);
std::map<std::pair<std::string, int64_t>, int64_t> llm_ledger(const std::vector<LlmUsage>& rows);

class Store {
 public:
  virtual ~Store() = default;
  virtual std::string kind() const = 0;  // "sqlite" | "postgres"
  virtual int schema_version() const = 0;

  // --- tasks
  // Durable when it returns. kInvalidInput when another task already has the id.
  virtual Result<CreateOutcome> create_task(const NewTask& t) = 0;
  virtual Result<std::optional<StoredTask>> get_task(const std::string& id) = 0;
  virtual Result<std::vector<StoredTask>> list_tasks(const TaskFilter& f) = 0;
  // pending, admitted and running tasks, in seq order (recovery after a restart).
  virtual Result<std::vector<StoredTask>> active_tasks() = 0;
  // One transaction. A task that is missing or already terminal is left alone; the result
  // says, per update, whether it was applied.
  virtual Result<std::vector<bool>> update_tasks(const std::vector<TaskUpdate>& updates) = 0;
  virtual Result<std::vector<TaskEvent>> task_events(const std::string& id) = 0;
  // Tasks by (state, class): the metrics' gauge.
  virtual Result<std::map<std::pair<std::string, std::string>, int64_t>> count_tasks() = 0;
  // Pending tasks that no scheduler has taken yet, marked taken (at most `limit`). With
  // several replicas, rows another transaction holds are skipped, not waited for.
  virtual Result<std::vector<StoredTask>> claim_new_tasks(int limit) = 0;
  // Marks every active task untaken: a new leader then claims them all again.
  virtual Result<void> release_claims() = 0;

  // --- API keys
  virtual Result<void> put_api_key(const ApiKey& k) = 0;
  virtual Result<std::optional<ApiKey>> find_api_key(const std::string& hash_hex) = 0;
  virtual Result<std::vector<ApiKey>> list_api_keys() = 0;
  virtual Result<bool> revoke_api_key(const std::string& id) = 0;
  // false when no key has that id (revoked keys included).
  // Changes the given limits of key `id` in one statement (others keep theirs, whatever
  // another writer just set) and returns the key as it now is; nullopt when no such key.
  virtual Result<std::optional<ApiKey>> update_api_key_llm_limits(const std::string& id,
                                                                  const LlmLimitsUpdate& u) = 0;

  // --- alerts (by key: firing again updates, resolving sets resolved_ms)
  virtual Result<void> upsert_alert(const Alert& a) = 0;
  virtual Result<std::vector<Alert>> list_alerts(bool firing_only) = 0;

  // --- cost, summed per (pool, hour)
  virtual Result<void> add_costs(const std::vector<CostAccrual>& costs) = 0;
  virtual Result<std::map<std::string, int64_t>> costs_by_pool(int64_t from_ms, int64_t to_ms) = 0;

  // --- LLM usage, summed per (hour, tenant, key, deployment). One transaction: the rows,
  // and each row's cost added to the cost ledger under pool "llm:<deployment>" for its hour
  // (so costs_by_pool and the budgets see it).
  virtual Result<void> add_llm_usage(const std::vector<LlmUsage>& usage) = 0;
  // Sums over the filter's hours per (tenant, key, deployment), with hour_start_ms = 0,
  // ordered by tenant, key and deployment (byte order).
  virtual Result<std::vector<LlmUsage>> llm_usage(const LlmUsageFilter& f) = 0;

  // --- journal of reconcile decisions and node state changes
  virtual Result<void> append_journal(const std::vector<TaskEvent>& entries) = 0;

  // --- leadership: true while this process may run the reconcile loop. SQLite: the
  // database file is this process's alone. PostgreSQL: a session advisory lock.
  virtual Result<bool> try_lead() = 0;
  // Give leadership up (PostgreSQL: release the lock) so another replica may take it.
  virtual void resign() {}
};

// "sqlite:PATH" (":memory:" for tests) or "postgres:CONNINFO" ("postgres://…" URLs too).
// Opens, applies pending schema migrations, and returns the store.
Result<std::unique_ptr<Store>> open_store(const std::string& url);

}  // namespace codefleet
