// SQLite adapter of the store port (see sqlite_store.h for the design).
#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace codefleet {

namespace {

// Versioned schema: each entry is applied once, in order, in its own transaction.
const char* const kMigrations[] = {
    // 1: tasks, events, keys, alerts, costs, journal
    R"sql(
CREATE TABLE tasks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  tenant TEXT NOT NULL,
  class_name TEXT NOT NULL,
  environment TEXT NOT NULL,
  state TEXT NOT NULL,
  body_json TEXT NOT NULL,
  pool TEXT NOT NULL DEFAULT '',
  node TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  claimed INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT
);
CREATE UNIQUE INDEX tasks_idempotency ON tasks(tenant, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_state ON tasks(state, seq);
CREATE INDEX tasks_tenant ON tasks(tenant, seq);
CREATE TABLE task_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail_json TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX task_events_task ON task_events(task_id, seq);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hash_hex TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  tenant TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE alerts (
  key TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  firing INTEGER NOT NULL,
  summary TEXT NOT NULL,
  labels_json TEXT NOT NULL,
  fired_ms INTEGER NOT NULL,
  resolved_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE costs (
  pool TEXT NOT NULL,
  hour_start_ms INTEGER NOT NULL,
  micros INTEGER NOT NULL,
  PRIMARY KEY (pool, hour_start_ms)
);
CREATE TABLE journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail_json TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
)sql",
    // 2: the reconcile loop claims new work often; with many claimed pending tasks, a scan
    // of every pending row per claim would hold the writer. Only unclaimed rows are indexed.
    R"sql(
CREATE INDEX tasks_unclaimed ON tasks(seq) WHERE state = 'pending' AND claimed = 0;
)sql",
    // 3: per-key LLM limits; LLM usage per hour, tenant, key and deployment. A key's month
    // (its budget) and a tenant's range are read by their indexes.
    R"sql(
ALTER TABLE api_keys ADD COLUMN llm_budget_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN llm_rpm INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN llm_tpm INTEGER NOT NULL DEFAULT 0;
CREATE TABLE llm_usage (
  hour_start_ms INTEGER NOT NULL,
  tenant TEXT NOT NULL,
  key_id TEXT NOT NULL,
  deployment TEXT NOT NULL,
  requests INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens INTEGER NOT NULL,
  cost_micros INTEGER NOT NULL,
  PRIMARY KEY (hour_start_ms, tenant, key_id, deployment)
);
CREATE INDEX llm_usage_key ON llm_usage(key_id, hour_start_ms);
CREATE INDEX llm_usage_tenant ON llm_usage(tenant, hour_start_ms);
)sql",
};

constexpr const char* kKeyColumns =
    "id, name, hash_hex, role, tenant, created_ms, revoked, llm_budget_micros, llm_rpm, llm_tpm";

Error db_error(sqlite3* db, const std::string& what) {
  int code = db ? sqlite3_errcode(db) : SQLITE_ERROR;
  auto ec = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? ErrorCode::kUnavailable
                                                           : ErrorCode::kInternal;
  return Error{ec, fmt::format("sqlite: {}: {}", what, db ? sqlite3_errmsg(db) : "no database"),
               ""};
}

// A prepared statement, reset on destruction so the connection's cache can reuse it.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_) { o.s_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(s_); }
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : "";
  }
  int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

// One connection with its prepared statements cached by SQL text.
class Conn {
 public:
  ~Conn() {
    for (auto& [_, s] : cache_) sqlite3_finalize(s);
    if (db_) sqlite3_close_v2(db_);
  }
  Result<void> open(const std::string& path, bool read_only) {
    int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      return tl::unexpected(db_error(db_, "cannot open " + path));
    }
    sqlite3_busy_timeout(db_, 5000);
    return exec("PRAGMA foreign_keys=ON");
  }
  Result<void> exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "error";
      sqlite3_free(err);
      auto e = db_error(db_, sql.substr(0, 40));
      e.message = "sqlite: " + msg;
      return tl::unexpected(e);
    }
    return {};
  }
  Result<Stmt> prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
          SQLITE_OK) {
        return tl::unexpected(db_error(db_, "prepare"));
      }
      it = cache_.emplace(sql, s).first;
    }
    return Stmt(db_, it->second);
  }
  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> cache_;
};

constexpr const char* kTaskColumns =
    "id, tenant, class_name, environment, state, body_json, pool, node, reason, created_ms, "
    "updated_ms, seq";

StoredTask read_task(const Stmt& s) {
  StoredTask t;
  t.id = s.text(0);
  t.tenant = s.text(1);
  t.class_name = s.text(2);
  t.environment = s.text(3);
  t.state = parse_task_phase(s.text(4)).value_or(TaskPhase::kPending);
  t.body_json = s.text(5);
  t.pool = s.text(6);
  t.node = s.text(7);
  t.reason = s.text(8);
  t.created_ms = s.i64(9);
  t.updated_ms = s.i64(10);
  t.seq = s.i64(11);
  return t;
}

Result<std::vector<StoredTask>> read_tasks(Stmt& s) {
  std::vector<StoredTask> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_task(s));
  if (rc != SQLITE_DONE) return tl::unexpected(db_error(s.db(), "read tasks"));
  return out;
}

Result<void> done(Stmt& s, const char* what) {
  if (s.step() != SQLITE_DONE) return tl::unexpected(db_error(s.db(), what));
  return {};
}

class SqliteStore final : public Store {
 public:
  ~SqliteStore() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    ckpt_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    if (checkpointer_.joinable()) checkpointer_.join();
    if (checkpoint_conn_) (void)checkpoint_conn_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
    checkpoint_conn_.reset();
    readers_.clear();
    writer_conn_.reset();
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  Result<void> open(const std::string& path) {
    lock_fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) {
      return tl::unexpected(
          Error{ErrorCode::kInternal, "cannot create lock file " + path + ".lock", "--store"});
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return tl::unexpected(
          Error{ErrorCode::kUnavailable,
                "another process holds " + path + " (its lock file " + path + ".lock is locked)",
                "--store"});
    }
    writer_conn_ = std::make_unique<Conn>();
    if (auto r = writer_conn_->open(path, false); !r) return r;
    // Checkpoints run on their own thread and connection (PASSIVE: they never block the
    // writer), so no submission waits behind the copy of the WAL into the database.
    if (auto r = writer_conn_->exec(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0");
        !r) {
      return r;
    }
    if (auto r = migrate(); !r) return r;
    checkpoint_conn_ = std::make_unique<Conn>();
    if (auto r = checkpoint_conn_->open(path, false); !r) return r;
    checkpointer_ = std::thread([this] { checkpoint_loop(); });
    for (int i = 0; i < kReaders; ++i) {
      auto c = std::make_unique<Conn>();
      if (auto r = c->open(path, true); !r) return r;
      readers_.push_back(std::move(c));
      free_readers_.push_back(readers_.back().get());
    }
    writer_ = std::thread([this] { write_loop(); });
    return {};
  }

  std::string kind() const override { return "sqlite"; }
  int schema_version() const override { return version_; }

  Result<CreateOutcome> create_task(const NewTask& nt) override {
    return write<CreateOutcome>([&](Conn& c) -> Result<CreateOutcome> {
      const auto& t = nt.task;
      if (!nt.idempotency_key.empty()) {
        auto s = c.prepare(fmt::format(
            "SELECT {} FROM tasks WHERE tenant = ?1 AND idempotency_key = ?2", kTaskColumns));
        if (!s) return tl::unexpected(s.error());
        s->bind(1, t.tenant).bind(2, nt.idempotency_key);
        auto found = read_tasks(*s);
        if (!found) return tl::unexpected(found.error());
        if (!found->empty()) return CreateOutcome{found->front(), false};
      }
      auto s = c.prepare(
          "INSERT INTO tasks (id, tenant, class_name, environment, state, body_json, pool, "
          "node, reason, created_ms, updated_ms, idempotency_key) VALUES "
          "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11) ON CONFLICT(id) DO NOTHING");
      if (!s) return tl::unexpected(s.error());
      s->bind(1, t.id).bind(2, t.tenant).bind(3, t.class_name).bind(4, t.environment);
      s->bind(5, std::string(task_phase_name(t.state))).bind(6, t.body_json).bind(7, t.pool);
      s->bind(8, t.node).bind(9, t.reason).bind(10, t.created_ms);
      if (nt.idempotency_key.empty()) {
        s->bind_null(11);
      } else {
        s->bind(11, nt.idempotency_key);
      }
      if (auto r = done(*s, "insert task"); !r) return tl::unexpected(r.error());
      if (sqlite3_changes(c.db()) == 0) {
        return tl::unexpected(
            Error{ErrorCode::kInvalidInput, "task id '" + t.id + "' already exists", "id"});
      }
      StoredTask stored = t;
      stored.seq = sqlite3_last_insert_rowid(c.db());
      stored.updated_ms = t.created_ms;
      if (auto r = insert_event(c, t.id, "submitted", "{}", t.created_ms); !r) {
        return tl::unexpected(r.error());
      }
      return CreateOutcome{std::move(stored), true};
    });
  }

  Result<std::optional<StoredTask>> get_task(const std::string& id) override {
    return read<std::optional<StoredTask>>([&](Conn& c) -> Result<std::optional<StoredTask>> {
      auto s = c.prepare(fmt::format("SELECT {} FROM tasks WHERE id = ?1", kTaskColumns));
      if (!s) return tl::unexpected(s.error());
      s->bind(1, id);
      auto v = read_tasks(*s);
      if (!v) return tl::unexpected(v.error());
      if (v->empty()) return std::optional<StoredTask>{};
      return std::optional<StoredTask>{std::move(v->front())};
    });
  }

  Result<std::vector<StoredTask>> list_tasks(const TaskFilter& f) override {
    return read<std::vector<StoredTask>>([&](Conn& c) -> Result<std::vector<StoredTask>> {
      std::string sql = fmt::format("SELECT {} FROM tasks WHERE seq > ?1", kTaskColumns);
      std::vector<std::string> args;
      auto add = [&](const char* col, const std::optional<std::string>& v) {
        if (!v) return;
        args.push_back(*v);
        sql += fmt::format(" AND {} = ?{}", col, args.size() + 2);
      };
      add("state", f.state ? std::optional<std::string>(task_phase_name(*f.state)) : std::nullopt);
      add("class_name", f.class_name);
      add("environment", f.environment);
      add("tenant", f.tenant);
      sql += " ORDER BY seq LIMIT ?2";
      auto s = c.prepare(sql);
      if (!s) return tl::unexpected(s.error());
      s->bind(1, f.after_seq).bind(2, static_cast<int64_t>(f.limit));
      for (size_t i = 0; i < args.size(); ++i) s->bind(static_cast<int>(i) + 3, args[i]);
      return read_tasks(*s);
    });
  }

  Result<std::vector<StoredTask>> active_tasks() override {
    return read<std::vector<StoredTask>>([&](Conn& c) -> Result<std::vector<StoredTask>> {
      auto s = c.prepare(fmt::format(
          "SELECT {} FROM tasks WHERE state IN ('pending', 'admitted', 'running') ORDER BY seq",
          kTaskColumns));
      if (!s) return tl::unexpected(s.error());
      return read_tasks(*s);
    });
  }

  Result<std::vector<bool>> update_tasks(const std::vector<TaskUpdate>& updates) override {
    return write<std::vector<bool>>([&](Conn& c) -> Result<std::vector<bool>> {
      std::vector<bool> applied;
      applied.reserve(updates.size());
      for (const auto& u : updates) {
        auto s = c.prepare(
            "UPDATE tasks SET state = ?2, pool = COALESCE(NULLIF(?3, ''), pool), "
            "node = COALESCE(NULLIF(?4, ''), node), reason = COALESCE(NULLIF(?5, ''), reason), "
            "updated_ms = ?6 WHERE id = ?1 AND state IN ('pending', 'admitted', 'running') "
            "AND (?7 = '' OR instr(?7, ',' || state || ',') > 0)");
        if (!s) return tl::unexpected(s.error());
        s->bind(1, u.id).bind(2, std::string(task_phase_name(u.state))).bind(3, u.pool);
        s->bind(4, u.node).bind(5, u.reason).bind(6, u.at_ms).bind(7, phase_list(u.from));
        if (auto r = done(*s, "update task"); !r) return tl::unexpected(r.error());
        bool ok = sqlite3_changes(c.db()) == 1;
        applied.push_back(ok);
        if (!ok) continue;
        auto kind = u.event.empty() ? std::string(task_phase_name(u.state)) : u.event;
        if (auto r =
                insert_event(c, u.id, kind, u.detail_json.empty() ? "{}" : u.detail_json, u.at_ms);
            !r) {
          return tl::unexpected(r.error());
        }
      }
      return applied;
    });
  }

  Result<std::vector<TaskEvent>> task_events(const std::string& id) override {
    return read<std::vector<TaskEvent>>([&](Conn& c) -> Result<std::vector<TaskEvent>> {
      auto s = c.prepare(
          "SELECT task_id, kind, detail_json, at_ms FROM task_events WHERE task_id = ?1 ORDER "
          "BY seq");
      if (!s) return tl::unexpected(s.error());
      s->bind(1, id);
      std::vector<TaskEvent> out;
      int rc;
      while ((rc = s->step()) == SQLITE_ROW) {
        out.push_back({s->text(0), s->text(1), s->text(2), s->i64(3)});
      }
      if (rc != SQLITE_DONE) return tl::unexpected(db_error(c.db(), "read events"));
      return out;
    });
  }

  Result<std::map<std::pair<std::string, std::string>, int64_t>> count_tasks() override {
    using Counts = std::map<std::pair<std::string, std::string>, int64_t>;
    return read<Counts>([&](Conn& c) -> Result<Counts> {
      auto s = c.prepare("SELECT state, class_name, COUNT(*) FROM tasks GROUP BY 1, 2");
      if (!s) return tl::unexpected(s.error());
      Counts out;
      int rc;
      while ((rc = s->step()) == SQLITE_ROW) out[{s->text(0), s->text(1)}] = s->i64(2);
      if (rc != SQLITE_DONE) return tl::unexpected(db_error(c.db(), "count tasks"));
      return out;
    });
  }

  Result<std::vector<StoredTask>> claim_new_tasks(int limit) override {
    return write<std::vector<StoredTask>>([&](Conn& c) -> Result<std::vector<StoredTask>> {
      auto s = c.prepare(
          fmt::format("UPDATE tasks SET claimed = 1 WHERE seq IN (SELECT seq FROM tasks INDEXED BY "
                      "tasks_unclaimed WHERE state = "
                      "'pending' AND claimed = 0 ORDER BY seq LIMIT ?1) RETURNING {}",
                      kTaskColumns));
      if (!s) return tl::unexpected(s.error());
      s->bind(1, static_cast<int64_t>(limit));
      auto v = read_tasks(*s);
      if (v) std::sort(v->begin(), v->end(), [](auto& a, auto& b) { return a.seq < b.seq; });
      return v;
    });
  }

  Result<void> release_claims() override {
    return write<bool>([&](Conn& c) -> Result<bool> {
             auto r = c.exec(
                 "UPDATE tasks SET claimed = 0 WHERE state IN ('pending', 'admitted', "
                 "'running')");
             if (!r) return tl::unexpected(r.error());
             return true;
           })
        .map([](bool) {});
  }

  Result<void> put_api_key(const ApiKey& k) override {
    return write<bool>([&](Conn& c) -> Result<bool> {
             auto s = c.prepare(
                 fmt::format("INSERT INTO api_keys ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                             "?8, ?9, ?10)",
                             kKeyColumns));
             if (!s) return tl::unexpected(s.error());
             s->bind(1, k.id).bind(2, k.name).bind(3, k.hash_hex);
             s->bind(4, std::string(role_name(k.role))).bind(5, k.tenant);
             s->bind(6, k.created_ms).bind(7, int64_t{k.revoked ? 1 : 0});
             s->bind(8, k.llm.budget_micros_month).bind(9, k.llm.rpm).bind(10, k.llm.tpm);
             if (auto r = done(*s, "insert api key"); !r) {
               auto e = r.error();
               if (sqlite3_extended_errcode(c.db()) == SQLITE_CONSTRAINT_PRIMARYKEY ||
                   sqlite3_extended_errcode(c.db()) == SQLITE_CONSTRAINT_UNIQUE) {
                 e = Error{ErrorCode::kInvalidInput, "an API key with that id or secret exists",
                           "key"};
               }
               return tl::unexpected(e);
             }
             return true;
           })
        .map([](bool) {});
  }

  Result<std::optional<ApiKey>> find_api_key(const std::string& hash_hex) override {
    return read<std::optional<ApiKey>>([&](Conn& c) -> Result<std::optional<ApiKey>> {
      auto s = c.prepare(fmt::format("SELECT {} FROM api_keys WHERE hash_hex = ?1", kKeyColumns));
      if (!s) return tl::unexpected(s.error());
      s->bind(1, hash_hex);
      auto keys = read_keys(*s);
      if (!keys) return tl::unexpected(keys.error());
      if (keys->empty()) return std::optional<ApiKey>{};
      return std::optional<ApiKey>{keys->front()};
    });
  }

  Result<std::vector<ApiKey>> list_api_keys() override {
    return read<std::vector<ApiKey>>([&](Conn& c) -> Result<std::vector<ApiKey>> {
      auto s =
          c.prepare(fmt::format("SELECT {} FROM api_keys ORDER BY created_ms, id", kKeyColumns));
      if (!s) return tl::unexpected(s.error());
      return read_keys(*s);
    });
  }

  Result<bool> revoke_api_key(const std::string& id) override {
    return write<bool>([&](Conn& c) -> Result<bool> {
      auto s = c.prepare("UPDATE api_keys SET revoked = 1 WHERE id = ?1 AND revoked = 0");
      if (!s) return tl::unexpected(s.error());
      s->bind(1, id);
      if (auto r = done(*s, "revoke api key"); !r) return tl::unexpected(r.error());
      return sqlite3_changes(c.db()) == 1;
    });
  }

  Result<std::optional<ApiKey>> update_api_key_llm_limits(const std::string& id,
                                                          const LlmLimitsUpdate& u) override {
    // One write job: the update and the read back are one transaction on the writer.
    return write<std::optional<ApiKey>>([&](Conn& c) -> Result<std::optional<ApiKey>> {
      auto s = c.prepare(
          "UPDATE api_keys SET llm_budget_micros = COALESCE(?2, llm_budget_micros), llm_rpm = "
          "COALESCE(?3, llm_rpm), llm_tpm = COALESCE(?4, llm_tpm) WHERE id = ?1");
      if (!s) return tl::unexpected(s.error());
      s->bind(1, id);
      int col = 2;
      for (const auto& v : {u.budget_micros_month, u.rpm, u.tpm}) {
        if (v) {
          s->bind(col, *v);
        } else {
          s->bind_null(col);
        }
        ++col;
      }
      if (auto r = done(*s, "update api key llm limits"); !r) return tl::unexpected(r.error());
      if (sqlite3_changes(c.db()) != 1) return std::optional<ApiKey>();
      auto q = c.prepare(fmt::format("SELECT {} FROM api_keys WHERE id = ?1", kKeyColumns));
      if (!q) return tl::unexpected(q.error());
      q->bind(1, id);
      auto keys = read_keys(*q);
      if (!keys) return tl::unexpected(keys.error());
      if (keys->empty()) return std::optional<ApiKey>();
      return std::optional<ApiKey>(keys->front());
    });
  }

  Result<void> upsert_alert(const Alert& a) override {
    return write<bool>([&](Conn& c) -> Result<bool> {
             auto s = c.prepare(
                 "INSERT INTO alerts (key, kind, severity, firing, summary, labels_json, "
                 "fired_ms, resolved_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                 "ON CONFLICT(key) DO UPDATE SET kind = excluded.kind, severity = "
                 "excluded.severity, firing = excluded.firing, summary = excluded.summary, "
                 "labels_json = excluded.labels_json, fired_ms = excluded.fired_ms, "
                 "resolved_ms = excluded.resolved_ms, updated_ms = excluded.updated_ms");
             if (!s) return tl::unexpected(s.error());
             s->bind(1, a.key).bind(2, a.kind).bind(3, a.severity);
             s->bind(4, int64_t{a.firing ? 1 : 0}).bind(5, a.summary);
             s->bind(6, a.labels_json.empty() ? std::string("{}") : a.labels_json);
             s->bind(7, a.fired_ms).bind(8, a.resolved_ms).bind(9, a.updated_ms);
             if (auto r = done(*s, "upsert alert"); !r) return tl::unexpected(r.error());
             return true;
           })
        .map([](bool) {});
  }

  Result<std::vector<Alert>> list_alerts(bool firing_only) override {
    return read<std::vector<Alert>>([&](Conn& c) -> Result<std::vector<Alert>> {
      auto s = c.prepare(std::string("SELECT key, kind, severity, firing, summary, labels_json, "
                                     "fired_ms, resolved_ms, updated_ms FROM alerts") +
                         (firing_only ? " WHERE firing = 1" : "") + " ORDER BY fired_ms, key");
      if (!s) return tl::unexpected(s.error());
      std::vector<Alert> out;
      int rc;
      while ((rc = s->step()) == SQLITE_ROW) {
        Alert a;
        a.key = s->text(0);
        a.kind = s->text(1);
        a.severity = s->text(2);
        a.firing = s->i64(3) != 0;
        a.summary = s->text(4);
        a.labels_json = s->text(5);
        a.fired_ms = s->i64(6);
        a.resolved_ms = s->i64(7);
        a.updated_ms = s->i64(8);
        out.push_back(std::move(a));
      }
      if (rc != SQLITE_DONE) return tl::unexpected(db_error(c.db(), "read alerts"));
      return out;
    });
  }

  Result<void> add_costs(const std::vector<CostAccrual>& costs) override {
    return write<bool>([&](Conn& c) -> Result<bool> {
             for (const auto& a : costs) {
               auto s = c.prepare(
                   "INSERT INTO costs (pool, hour_start_ms, micros) VALUES (?1, ?2, ?3) ON "
                   "CONFLICT(pool, hour_start_ms) DO UPDATE SET micros = micros + "
                   "excluded.micros");
               if (!s) return tl::unexpected(s.error());
               s->bind(1, a.pool).bind(2, a.hour_start_ms).bind(3, a.micros);
               if (auto r = done(*s, "add cost"); !r) return tl::unexpected(r.error());
             }
             return true;
           })
        .map([](bool) {});
  }

  Result<std::map<std::string, int64_t>> costs_by_pool(int64_t from_ms, int64_t to_ms) override {
    using Costs = std::map<std::string, int64_t>;
    return read<Costs>([&](Conn& c) -> Result<Costs> {
      auto s = c.prepare(
          "SELECT pool, SUM(micros) FROM costs WHERE hour_start_ms >= ?1 AND hour_start_ms < ?2 "
          "GROUP BY pool");
      if (!s) return tl::unexpected(s.error());
      s->bind(1, from_ms).bind(2, to_ms);
      Costs out;
      int rc;
      while ((rc = s->step()) == SQLITE_ROW) out[s->text(0)] = s->i64(1);
      if (rc != SQLITE_DONE) return tl::unexpected(db_error(c.db(), "read costs"));
      return out;
    });
  }

  Result<void> add_llm_usage(const std::vector<LlmUsage>& usage) override {
    if (usage.empty()) return {};
    if (auto bad = check_llm_usage(usage); !bad) return bad;
    auto rows = sorted_llm_usage(usage);
    auto ledger = llm_ledger(rows);
    return write<bool>([&](Conn& c) -> Result<bool> {
             for (const auto& u : rows) {
               auto s = c.prepare(
                   "INSERT INTO llm_usage (hour_start_ms, tenant, key_id, deployment, requests, "
                   "prompt_tokens, completion_tokens, cached_tokens, cost_micros) VALUES (?1, ?2, "
                   "?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(hour_start_ms, tenant, key_id, "
                   "deployment) DO UPDATE SET requests = requests + excluded.requests, "
                   "prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = "
                   "completion_tokens + excluded.completion_tokens, cached_tokens = "
                   "cached_tokens + excluded.cached_tokens, cost_micros = cost_micros + "
                   "excluded.cost_micros");
               if (!s) return tl::unexpected(s.error());
               s->bind(1, u.hour_start_ms).bind(2, u.tenant).bind(3, u.key_id);
               s->bind(4, u.deployment).bind(5, u.requests).bind(6, u.prompt_tokens);
               s->bind(7, u.completion_tokens).bind(8, u.cached_tokens).bind(9, u.cost_micros);
               if (auto r = done(*s, "add llm usage"); !r) return tl::unexpected(r.error());
             }
             for (const auto& [key, micros] : ledger) {
               auto cost = c.prepare(
                   "INSERT INTO costs (pool, hour_start_ms, micros) VALUES (?1, ?2, ?3) ON "
                   "CONFLICT(pool, hour_start_ms) DO UPDATE SET micros = micros + "
                   "excluded.micros");
               if (!cost) return tl::unexpected(cost.error());
               cost->bind(1, key.first).bind(2, key.second).bind(3, micros);
               if (auto r = done(*cost, "add llm cost"); !r) return tl::unexpected(r.error());
             }
             return true;
           })
        .map([](bool) {});
  }

  Result<std::vector<LlmUsage>> llm_usage(const LlmUsageFilter& f) override {
    return read<std::vector<LlmUsage>>([&](Conn& c) -> Result<std::vector<LlmUsage>> {
      std::string sql =
          "SELECT tenant, key_id, deployment, SUM(requests), SUM(prompt_tokens), "
          "SUM(completion_tokens), SUM(cached_tokens), SUM(cost_micros) FROM llm_usage WHERE "
          "hour_start_ms >= ?1 AND hour_start_ms < ?2";
      if (!f.tenant.empty()) sql += " AND tenant = ?3";
      if (!f.key_id.empty()) sql += " AND key_id = ?4";
      sql += " GROUP BY tenant, key_id, deployment ORDER BY tenant, key_id, deployment";
      auto s = c.prepare(sql);
      if (!s) return tl::unexpected(s.error());
      s->bind(1, f.from_ms).bind(2, f.to_ms);
      if (!f.tenant.empty()) s->bind(3, f.tenant);
      if (!f.key_id.empty()) s->bind(4, f.key_id);
      std::vector<LlmUsage> out;
      int rc;
      while ((rc = s->step()) == SQLITE_ROW) {
        LlmUsage u;
        u.tenant = s->text(0);
        u.key_id = s->text(1);
        u.deployment = s->text(2);
        u.requests = s->i64(3);
        u.prompt_tokens = s->i64(4);
        u.completion_tokens = s->i64(5);
        u.cached_tokens = s->i64(6);
        u.cost_micros = s->i64(7);
        out.push_back(std::move(u));
      }
      if (rc != SQLITE_DONE) return tl::unexpected(db_error(c.db(), "read llm usage"));
      return out;
    });
  }

  Result<void> append_journal(const std::vector<TaskEvent>& entries) override {
    return write<bool>([&](Conn& c) -> Result<bool> {
             for (const auto& e : entries) {
               auto s = c.prepare(
                   "INSERT INTO journal (task_id, kind, detail_json, at_ms) VALUES (?1, ?2, ?3, "
                   "?4)");
               if (!s) return tl::unexpected(s.error());
               s->bind(1, e.task_id).bind(2, e.kind);
               s->bind(3, e.detail_json.empty() ? std::string("{}") : e.detail_json);
               s->bind(4, e.at_ms);
               if (auto r = done(*s, "journal"); !r) return tl::unexpected(r.error());
             }
             return true;
           })
        .map([](bool) {});
  }

  Result<bool> try_lead() override { return true; }  // the file lock is held since open

 private:
  static constexpr int kReaders = 4;
  static constexpr size_t kMaxBatch = 512;

  struct Job {
    // Runs inside the batch transaction; returns false when it failed (its savepoint is
    // rolled back, the rest of the batch goes on).
    std::function<bool(Conn&)> run;
    std::function<void(const Error*)> finish;  // after COMMIT: null = durable
  };

  static Result<std::vector<ApiKey>> read_keys(Stmt& s) {
    std::vector<ApiKey> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      ApiKey k;
      k.id = s.text(0);
      k.name = s.text(1);
      k.hash_hex = s.text(2);
      k.role = parse_role(s.text(3)).value_or(Role::kViewer);
      k.tenant = s.text(4);
      k.created_ms = s.i64(5);
      k.revoked = s.i64(6) != 0;
      k.llm.budget_micros_month = s.i64(7);
      k.llm.rpm = s.i64(8);
      k.llm.tpm = s.i64(9);
      out.push_back(std::move(k));
    }
    if (rc != SQLITE_DONE) return tl::unexpected(db_error(s.db(), "read api keys"));
    return out;
  }

  static Result<void> insert_event(Conn& c, const std::string& task, const std::string& kind,
                                   const std::string& detail, int64_t at_ms) {
    auto s = c.prepare(
        "INSERT INTO task_events (task_id, kind, detail_json, at_ms) VALUES (?1, ?2, ?3, ?4)");
    if (!s) return tl::unexpected(s.error());
    s->bind(1, task).bind(2, kind).bind(3, detail).bind(4, at_ms);
    return done(*s, "insert event");
  }

  Result<void> migrate() {
    auto& c = *writer_conn_;
    if (auto r =
            c.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                   "applied_ms INTEGER NOT NULL)");
        !r) {
      return r;
    }
    auto s = c.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!s) return tl::unexpected(s.error());
    if (s->step() != SQLITE_ROW) return tl::unexpected(db_error(c.db(), "schema version"));
    version_ = static_cast<int>(s->i64(0));
    const int latest = static_cast<int>(std::size(kMigrations));
    if (version_ > latest) {
      return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                  fmt::format("the database has schema version {}, newer than "
                                              "this codefleet ({}): upgrade codefleet",
                                              version_, latest),
                                  "--store"});
    }
    for (int v = version_ + 1; v <= latest; ++v) {
      if (auto r = c.exec("BEGIN IMMEDIATE"); !r) return r;
      auto r = c.exec(kMigrations[v - 1]);
      if (r) {
        r = c.exec(fmt::format(
            "INSERT INTO schema_migrations VALUES ({}, CAST((julianday('now') - 2440587.5) * "
            "86400000 AS INTEGER))",
            v));
      }
      if (r) r = c.exec("COMMIT");
      if (!r) {
        (void)c.exec("ROLLBACK");
        return r;
      }
      version_ = v;
    }
    return {};
  }

  // Runs `fn` on the writer thread inside a batch transaction; returns once committed.
  template <typename T>
  Result<T> write(std::function<Result<T>(Conn&)> fn) {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    auto value = std::make_shared<std::optional<Result<T>>>();
    Job job{[fn, value](Conn& c) {
              *value = fn(c);
              return value->value().has_value();
            },
            [promise, value](const Error* commit_error) {
              if (commit_error) {
                promise->set_value(tl::unexpected(*commit_error));
              } else {
                promise->set_value(std::move(value->value()));
              }
            }};
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        return tl::unexpected(Error{ErrorCode::kUnavailable, "the store is closing", ""});
      }
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return future.get();
  }

  void write_loop() {
    auto& c = *writer_conn_;
    std::vector<Job> batch;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left to write
        while (!queue_.empty() && batch.size() < kMaxBatch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      std::optional<Error> failure;
      if (auto r = c.exec("BEGIN IMMEDIATE"); !r) failure = r.error();
      if (!failure) {
        for (auto& job : batch) {
          if (auto r = c.exec("SAVEPOINT job"); !r) {
            failure = r.error();
            break;
          }
          bool ok = job.run(c);
          auto r = c.exec(ok ? "RELEASE job" : "ROLLBACK TO job; RELEASE job");
          if (!r) {
            failure = r.error();
            break;
          }
        }
      }
      if (!failure) {
        if (auto r = c.exec("COMMIT"); !r) failure = r.error();
      }
      if (failure) (void)c.exec("ROLLBACK");
      for (auto& job : batch) job.finish(failure ? &*failure : nullptr);
      batch.clear();
    }
  }

  void checkpoint_loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      ckpt_cv_.wait_for(lock, std::chrono::milliseconds(500));
      if (stopping_) break;
      lock.unlock();
      (void)checkpoint_conn_->exec("PRAGMA wal_checkpoint(PASSIVE)");
      lock.lock();
    }
  }

  template <typename T>
  Result<T> read(const std::function<Result<T>(Conn&)>& fn) {
    Conn* c;
    {
      std::unique_lock lock(readers_mu_);
      readers_cv_.wait(lock, [&] { return !free_readers_.empty(); });
      c = free_readers_.back();
      free_readers_.pop_back();
    }
    auto r = fn(*c);
    {
      std::lock_guard lock(readers_mu_);
      free_readers_.push_back(c);
    }
    readers_cv_.notify_one();
    return r;
  }

  int lock_fd_ = -1;
  int version_ = 0;
  std::unique_ptr<Conn> writer_conn_;
  std::thread writer_;
  std::unique_ptr<Conn> checkpoint_conn_;
  std::thread checkpointer_;
  std::condition_variable ckpt_cv_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<Conn>> readers_;
  std::vector<Conn*> free_readers_;
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  if (path.empty() || path == ":memory:") {
    return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                "sqlite needs a file path (sqlite:/var/lib/codefleet/db)",
                                "--store"});
  }
  auto store = std::make_unique<SqliteStore>();
  if (auto r = store->open(path); !r) return tl::unexpected(r.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace codefleet
