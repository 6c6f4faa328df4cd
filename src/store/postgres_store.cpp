// PostgreSQL adapter of the store port (see postgres_store.h for the design).
//
//   auto store = open_postgres_store("host=db dbname=codefleet user=codefleet");
//   auto claimed = (*store)->claim_new_tasks(50);  // rows another replica holds are skipped
//
// Every statement is parameterised (PQexecParams); the only SQL run as text is the constant
// migration scripts below.
#include "store/postgres_store.h"

#include <libpq-fe.h>

#include <cctype>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace codefleet {

namespace {

constexpr size_t kPoolSize = 8;

// Advisory lock keys: (class, hashtext(current_schema())), so that stores on different
// schemas of one database neither share a leader nor wait for each other's migrations.
constexpr const char* kMigrationLock = "1128660993";  // 0x43460001: 'C' 'F' 1
constexpr const char* kLeaderLock = "1128660994";     // 0x43460002: 'C' 'F' 2

// Connection defaults a conninfo string or URL may override: give up connecting after 10 s,
// and notice a dead peer on an idle connection within about a minute.
constexpr const char* kDefaultKeywords[] = {"connect_timeout", "keepalives_idle",
                                            "keepalives_interval", "keepalives_count"};
constexpr const char* kDefaultValues[] = {"10", "30", "10", "3"};

// Versioned schema: entry i is version i + 1, applied once, in order, each in its own
// transaction. Never edit an entry once released: append a new one.
const char* const kMigrations[] = {
    // 1: tasks, events, keys, alerts, costs, journal
    R"sql(
CREATE TABLE tasks (
  id text PRIMARY KEY,
  tenant text NOT NULL,
  class_name text NOT NULL,
  environment text NOT NULL,
  state text NOT NULL,
  body_json text NOT NULL,
  pool text NOT NULL DEFAULT '',
  node text NOT NULL DEFAULT '',
  reason text NOT NULL DEFAULT '',
  created_ms bigint NOT NULL,
  updated_ms bigint NOT NULL,
  seq bigserial NOT NULL UNIQUE,
  claimed boolean NOT NULL DEFAULT false,
  idempotency_key text,
  UNIQUE (tenant, idempotency_key)
);
CREATE INDEX tasks_state ON tasks (state);
CREATE INDEX tasks_tenant_seq ON tasks (tenant, seq);
CREATE TABLE task_events (
  seq bigserial PRIMARY KEY,
  task_id text NOT NULL,
  kind text NOT NULL,
  detail_json text NOT NULL,
  at_ms bigint NOT NULL
);
CREATE INDEX task_events_task_id ON task_events (task_id, seq);
CREATE TABLE api_keys (
  id text PRIMARY KEY,
  name text NOT NULL,
  hash_hex text NOT NULL UNIQUE,
  role text NOT NULL,
  tenant text NOT NULL,
  created_ms bigint NOT NULL,
  revoked boolean NOT NULL DEFAULT false
);
CREATE TABLE alerts (
  key text PRIMARY KEY,
  kind text NOT NULL,
  severity text NOT NULL,
  firing boolean NOT NULL,
  summary text NOT NULL,
  labels_json text NOT NULL,
  fired_ms bigint NOT NULL,
  resolved_ms bigint NOT NULL,
  updated_ms bigint NOT NULL
);
CREATE TABLE costs (
  pool text NOT NULL,
  hour_start_ms bigint NOT NULL,
  micros bigint NOT NULL,
  PRIMARY KEY (pool, hour_start_ms)
);
CREATE TABLE journal (
  seq bigserial PRIMARY KEY,
  task_id text NOT NULL,
  kind text NOT NULL,
  detail_json text NOT NULL,
  at_ms bigint NOT NULL
);
)sql",
    R"sql(
-- 2: the reconcile loop claims new work often; with many claimed pending tasks a scan of
-- every pending row per claim would stall writers. Only unclaimed pending rows are indexed.
CREATE INDEX tasks_unclaimed ON tasks (seq) WHERE state = 'pending' AND NOT claimed;
)sql",
    R"sql(
-- 3: per-key LLM limits; LLM usage per hour, tenant, key and deployment. A key's month
-- (its budget) and a tenant's range are read by their indexes.
ALTER TABLE api_keys ADD COLUMN llm_budget_micros bigint NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN llm_rpm bigint NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN llm_tpm bigint NOT NULL DEFAULT 0;
CREATE TABLE llm_usage (
  hour_start_ms bigint NOT NULL,
  tenant text NOT NULL,
  key_id text NOT NULL,
  deployment text NOT NULL,
  requests bigint NOT NULL,
  prompt_tokens bigint NOT NULL,
  completion_tokens bigint NOT NULL,
  cached_tokens bigint NOT NULL,
  cost_micros bigint NOT NULL,
  PRIMARY KEY (hour_start_ms, tenant, key_id, deployment)
);
CREATE INDEX llm_usage_key ON llm_usage (key_id, hour_start_ms);
CREATE INDEX llm_usage_tenant ON llm_usage (tenant, hour_start_ms);
)sql",
};

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, "
    "applied_at timestamptz NOT NULL DEFAULT now())";

// Spliced into SQL text at compile time (a constant, never data).
#define CODEFLEET_TASK_COLUMNS                                                              \
  "id, tenant, class_name, environment, state, body_json, pool, node, reason, created_ms, " \
  "updated_ms, seq"
#define CODEFLEET_KEY_COLUMNS \
  "id, name, hash_hex, role, tenant, created_ms, revoked, llm_budget_micros, llm_rpm, llm_tpm"

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConn = std::unique_ptr<PGconn, ConnDeleter>;

// A statement parameter: text, or SQL NULL.
using Param = std::optional<std::string>;

std::string num(int64_t v) { return std::to_string(v); }
std::string flag(bool b) { return b ? "true" : "false"; }
Param null_if_empty(const std::string& s) { return s.empty() ? Param{} : Param{s}; }
const std::string& or_empty_object(const std::string& json) {
  static const std::string kEmpty = "{}";
  return json.empty() ? kEmpty : json;
}

// libpq's messages end in a newline and may span lines: one line, for logs.
std::string one_line(const char* message) {
  std::string out;
  for (const char* p = message ? message : ""; *p; ++p) {
    bool space = std::isspace(static_cast<unsigned char>(*p));
    if (!space) {
      out += *p;
    } else if (!out.empty() && out.back() != ' ') {
      out += ' ';
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// --- keeping the password out of error messages

// What a libpq message about `conninfo` might echo back of the password: its value as
// parsed, and as written (a URL's user:password@, a password=… pair, quoted or not).
std::vector<std::string> secrets_of(const std::string& conninfo) {
  std::vector<std::string> out;
  char* err = nullptr;
  if (PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &err)) {
    for (auto* o = options; o->keyword; ++o) {
      if (std::strcmp(o->keyword, "password") == 0 && o->val) out.emplace_back(o->val);
    }
    PQconninfoFree(options);
  }
  PQfreemem(err);

  for (const char* scheme : {"postgresql://", "postgres://"}) {
    if (conninfo.rfind(scheme, 0) != 0) continue;
    std::string authority = conninfo.substr(std::strlen(scheme));
    authority = authority.substr(0, authority.find_first_of("/?"));
    size_t at = authority.rfind('@');
    size_t colon = authority.find(':');
    if (at != std::string::npos && colon < at)
      out.push_back(authority.substr(colon + 1, at - colon - 1));
    break;
  }
  for (size_t at = conninfo.find("password"); at != std::string::npos;
       at = conninfo.find("password", at + 1)) {
    size_t v = conninfo.find_first_not_of(" \t", at + std::strlen("password"));
    if (v == std::string::npos || conninfo[v] != '=') continue;
    v = conninfo.find_first_not_of(" \t", v + 1);
    if (v == std::string::npos) continue;
    if (conninfo[v] == '\'') {
      size_t end = conninfo.find('\'', v + 1);
      out.push_back(conninfo.substr(v + 1, end == std::string::npos ? end : end - v - 1));
    } else {
      out.push_back(conninfo.substr(v, conninfo.find_first_of(" \t&", v) - v));
    }
  }
  return out;
}

std::string redact(std::string message, const std::vector<std::string>& secrets) {
  static const std::string kMask = "*****";
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t at = message.find(secret); at != std::string::npos;
         at = message.find(secret, at + kMask.size())) {
      message.replace(at, secret.size(), kMask);
    }
  }
  return message;
}

// --- errors

// SQLSTATEs worth retrying: serialization failure, deadlock, lock not available, query
// cancelled (statement_timeout), connection exceptions, insufficient resources (too many
// connections) and the server shutting down or starting up.
bool transient_sqlstate(std::string_view s) {
  return s == "40001" || s == "40P01" || s == "55P03" || s == "57014" || s == "57P01" ||
         s == "57P02" || s == "57P03" || s.substr(0, 2) == "08" || s.substr(0, 2) == "53";
}

Error query_error(PGconn* conn, const PGresult* res) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary ? primary : one_line(res ? PQresultErrorMessage(res) : "");
  if (message.empty()) message = one_line(PQerrorMessage(conn));
  if (state) message += fmt::format(" (SQLSTATE {})", state);
  bool transient = PQstatus(conn) == CONNECTION_BAD || (state && transient_sqlstate(state));
  return Error{transient ? ErrorCode::kUnavailable : ErrorCode::kInternal, "postgres: " + message,
               ""};
}

// --- rows

std::string text_at(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

int64_t int_at(const PGresult* r, int row, int col) {
  const char* v = PQgetvalue(r, row, col);
  int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r, row, col), out);
  return out;
}

bool bool_at(const PGresult* r, int row, int col) { return PQgetvalue(r, row, col)[0] == 't'; }

bool one_row_changed(const PGresult* r) {
  return std::strcmp(PQcmdTuples(const_cast<PGresult*>(r)), "1") == 0;
}

// Rows of CODEFLEET_TASK_COLUMNS.
Result<std::vector<StoredTask>> read_tasks(const PGresult* r) {
  std::vector<StoredTask> out;
  out.reserve(static_cast<size_t>(PQntuples(r)));
  for (int row = 0; row < PQntuples(r); ++row) {
    StoredTask t;
    t.id = text_at(r, row, 0);
    t.tenant = text_at(r, row, 1);
    t.class_name = text_at(r, row, 2);
    t.environment = text_at(r, row, 3);
    std::string state = text_at(r, row, 4);
    auto phase = parse_task_phase(state);
    if (!phase) {
      return tl::unexpected(
          Error{ErrorCode::kInternal,
                fmt::format("postgres: task '{}' has an unknown state '{}'", t.id, state), ""});
    }
    t.state = *phase;
    t.body_json = text_at(r, row, 5);
    t.pool = text_at(r, row, 6);
    t.node = text_at(r, row, 7);
    t.reason = text_at(r, row, 8);
    t.created_ms = int_at(r, row, 9);
    t.updated_ms = int_at(r, row, 10);
    t.seq = int_at(r, row, 11);
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<ApiKey> read_keys(const PGresult* r) {
  std::vector<ApiKey> out;
  for (int row = 0; row < PQntuples(r); ++row) {
    ApiKey k;
    k.id = text_at(r, row, 0);
    k.name = text_at(r, row, 1);
    k.hash_hex = text_at(r, row, 2);
    k.role = parse_role(text_at(r, row, 3)).value_or(Role::kViewer);  // least privilege
    k.tenant = text_at(r, row, 4);
    k.created_ms = int_at(r, row, 5);
    k.revoked = bool_at(r, row, 6);
    k.llm.budget_micros_month = int_at(r, row, 7);
    k.llm.rpm = int_at(r, row, 8);
    k.llm.tpm = int_at(r, row, 9);
    out.push_back(std::move(k));
  }
  return out;
}

// --- connections

// Notices ("relation already exists, skipping") would otherwise go to stderr.
void ignore_notice(void*, const char*) {}

// Opens one connection; the conninfo's own settings win over kDefaultKeywords.
Result<PgConn> connect(const std::string& conninfo, const std::vector<std::string>& secrets) {
  std::vector<const char*> keywords(std::begin(kDefaultKeywords), std::end(kDefaultKeywords));
  std::vector<const char*> values(std::begin(kDefaultValues), std::end(kDefaultValues));
  keywords.push_back("dbname");  // expanded: a conninfo string or URL, as is
  values.push_back(conninfo.c_str());
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PgConn conn(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1));
  if (!conn) return tl::unexpected(Error{ErrorCode::kUnavailable, "postgres: out of memory", ""});
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return tl::unexpected(Error{
        ErrorCode::kUnavailable,
        "postgres: cannot connect: " + redact(one_line(PQerrorMessage(conn.get())), secrets), ""});
  }
  PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
  return conn;
}

// At most `size` connections, opened on first need and reused; a connection that broke
// is reset (PQreset) when it is next borrowed.
class ConnectionPool {
 public:
  // One borrowed connection; back to the pool when the lease ends.
  class Lease {
   public:
    Lease(ConnectionPool* pool, PgConn conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ && conn_) pool_->give_back(std::move(conn_));
    }
    PGconn* get() const { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    PgConn conn_;
  };

  ConnectionPool(std::string conninfo, size_t size)
      : conninfo_(std::move(conninfo)), secrets_(secrets_of(conninfo_)), size_(size) {}

  // Waits while all `size` connections are lent out.
  Result<Lease> acquire() {
    PgConn conn;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;
      }
    }
    if (!conn) {
      auto fresh = connect(conninfo_, secrets_);
      if (!fresh) {
        std::lock_guard lock(mu_);
        --open_;
        cv_.notify_one();
        return tl::unexpected(fresh.error());
      }
      conn = std::move(*fresh);
    } else if (PQstatus(conn.get()) != CONNECTION_OK) {
      PQreset(conn.get());
      if (PQstatus(conn.get()) != CONNECTION_OK) {
        Error e{
            ErrorCode::kUnavailable,
            "postgres: cannot reconnect: " + redact(one_line(PQerrorMessage(conn.get())), secrets_),
            ""};
        give_back(std::move(conn));  // reset again by the next borrower
        return tl::unexpected(e);
      }
    }
    return Lease(this, std::move(conn));
  }

  // A connection of its own, outside the pool.
  Result<PgConn> connect_dedicated() const { return connect(conninfo_, secrets_); }

 private:
  void give_back(PgConn conn) {
    // A call that failed halfway may leave its transaction open: end it before reuse.
    auto status = PQtransactionStatus(conn.get());
    if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR) {
      PQclear(PQexec(conn.get(), "ROLLBACK"));
    }
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(conn));
    cv_.notify_one();
  }

  const std::string conninfo_;
  const std::vector<std::string> secrets_;
  const size_t size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PgConn> idle_;
  size_t open_ = 0;  // idle and lent out
};

// One call's statements on one connection. Remembers whether COMMIT was sent: until then
// a lost connection means the server rolled the work back, and the call may be repeated.
class Session {
 public:
  explicit Session(PGconn* conn) : conn_(conn) {}

  Result<PgResult> exec(const char* sql, std::initializer_list<Param> params = {}) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    if (std::strcmp(sql, "COMMIT") == 0) commit_sent_ = true;
    PgResult res(PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                              nullptr, nullptr, 0));
    auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return res;
    return tl::unexpected(query_error(conn_, res.get()));
  }

  // Several statements of constant SQL (a migration); no parameters.
  Result<void> run_script(const char* sql) {
    PgResult res(PQexec(conn_, sql));
    auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return {};
    return tl::unexpected(query_error(conn_, res.get()));
  }

  // Runs `body` (returning a Result) between BEGIN and COMMIT; rolls back when it fails.
  template <typename F>
  auto transaction(F&& body) -> decltype(body()) {
    if (auto r = exec("BEGIN"); !r) return tl::unexpected(r.error());
    auto out = body();
    if (!out) {
      (void)exec("ROLLBACK");
      return out;
    }
    auto r = exec("COMMIT");
    if (!r) return tl::unexpected(r.error());
    if (std::strcmp(PQcmdStatus(r->get()), "COMMIT") != 0) {
      return tl::unexpected(
          Error{ErrorCode::kInternal, "postgres: the transaction was rolled back", ""});
    }
    return out;
  }

  bool lost() const { return PQstatus(conn_) == CONNECTION_BAD; }
  bool commit_sent() const { return commit_sent_; }

 private:
  PGconn* conn_;
  bool commit_sent_ = false;
};

Result<void> insert_event(Session& s, const std::string& task_id, const std::string& kind,
                          const std::string& detail_json, int64_t at_ms) {
  auto r =
      s.exec("INSERT INTO task_events (task_id, kind, detail_json, at_ms) VALUES ($1, $2, $3, $4)",
             {task_id, kind, or_empty_object(detail_json), num(at_ms)});
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<std::optional<StoredTask>> find_by_key(Session& s, const std::string& tenant,
                                              const std::string& key) {
  auto r = s.exec("SELECT " CODEFLEET_TASK_COLUMNS
                  " FROM tasks WHERE tenant = $1 AND idempotency_key = $2",
                  {tenant, key});
  if (!r) return tl::unexpected(r.error());
  auto tasks = read_tasks(r->get());
  if (!tasks) return tl::unexpected(tasks.error());
  if (tasks->empty()) return std::optional<StoredTask>{};
  return std::optional<StoredTask>{std::move(tasks->front())};
}

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(const std::string& conninfo) : pool_(conninfo, kPoolSize) {}

  ~PostgresStore() override {
    // Hand leadership over now rather than when the server notices the session end.
    if (leader_ && leading_) PQclear(PQexec(leader_.get(), "SELECT pg_advisory_unlock_all()"));
  }

  // Applies the migrations this database lacks; replicas starting together take turns.
  Result<void> migrate() {
    const int latest = static_cast<int>(std::size(kMigrations));
    return run<void>(Access::kWrite, [&](Session& s) -> Result<void> {
      for (int version = 1; version <= latest; ++version) {
        auto step = s.transaction([&]() -> Result<void> {
          auto lock = s.exec("SELECT pg_advisory_xact_lock($1::int4, hashtext(current_schema()))",
                             {kMigrationLock});
          if (!lock) return tl::unexpected(lock.error());
          if (auto r = s.run_script(kCreateMigrationsTable); !r) return r;
          auto seen = s.exec("SELECT 1 FROM schema_migrations WHERE version = $1", {num(version)});
          if (!seen) return tl::unexpected(seen.error());
          if (PQntuples(seen->get()) > 0) return {};
          if (auto r = s.run_script(kMigrations[version - 1]); !r) return r;
          auto mark =
              s.exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())",
                     {num(version)});
          if (!mark) return tl::unexpected(mark.error());
          return {};
        });
        if (!step) return step;
      }
      auto v = s.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      if (!v) return tl::unexpected(v.error());
      schema_version_ = static_cast<int>(int_at(v->get(), 0, 0));
      if (schema_version_ > latest) {
        return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                    fmt::format("the database has schema version {}, newer "
                                                "than this codefleet ({}): upgrade codefleet",
                                                schema_version_, latest),
                                    "--store"});
      }
      return {};
    });
  }

  std::string kind() const override { return "postgres"; }
  int schema_version() const override { return schema_version_; }

  // --- tasks

  Result<CreateOutcome> create_task(const NewTask& nt) override {
    return run<CreateOutcome>(Access::kWrite, [&](Session& s) {
      return s.transaction([&]() -> Result<CreateOutcome> {
        const StoredTask& t = nt.task;
        const bool keyed = !nt.idempotency_key.empty();
        if (keyed) {
          auto seen = find_by_key(s, t.tenant, nt.idempotency_key);
          if (!seen) return tl::unexpected(seen.error());
          if (*seen) return CreateOutcome{std::move(**seen), false};
        }
        // A concurrent insert of the same id or key makes this wait for it to commit, then
        // insert nothing: the key's task is then visible to the next statement.
        auto inserted = s.exec(
            "INSERT INTO tasks (id, tenant, class_name, environment, state, body_json, pool, "
            "node, reason, created_ms, updated_ms, idempotency_key) VALUES ($1, $2, $3, $4, $5, "
            "$6, $7, $8, $9, $10, $10, $11) ON CONFLICT DO NOTHING RETURNING seq",
            {t.id, t.tenant, t.class_name, t.environment, task_phase_name(t.state), t.body_json,
             t.pool, t.node, t.reason, num(t.created_ms), null_if_empty(nt.idempotency_key)});
        if (!inserted) return tl::unexpected(inserted.error());
        if (PQntuples(inserted->get()) == 0) {
          if (keyed) {
            auto seen = find_by_key(s, t.tenant, nt.idempotency_key);
            if (!seen) return tl::unexpected(seen.error());
            if (*seen) return CreateOutcome{std::move(**seen), false};
          }
          return tl::unexpected(
              Error{ErrorCode::kInvalidInput, "task id '" + t.id + "' already exists", "id"});
        }
        StoredTask stored = t;
        stored.seq = int_at(inserted->get(), 0, 0);
        stored.updated_ms = t.created_ms;
        if (auto r = insert_event(s, t.id, "submitted", "{}", t.created_ms); !r) {
          return tl::unexpected(r.error());
        }
        return CreateOutcome{std::move(stored), true};
      });
    });
  }

  Result<std::optional<StoredTask>> get_task(const std::string& id) override {
    return run<std::optional<StoredTask>>(
        Access::kRead, [&](Session& s) -> Result<std::optional<StoredTask>> {
          auto r = s.exec("SELECT " CODEFLEET_TASK_COLUMNS " FROM tasks WHERE id = $1", {id});
          if (!r) return tl::unexpected(r.error());
          auto tasks = read_tasks(r->get());
          if (!tasks) return tl::unexpected(tasks.error());
          if (tasks->empty()) return std::optional<StoredTask>{};
          return std::optional<StoredTask>{std::move(tasks->front())};
        });
  }

  Result<std::vector<StoredTask>> list_tasks(const TaskFilter& f) override {
    return run<std::vector<StoredTask>>(
        Access::kRead, [&](Session& s) -> Result<std::vector<StoredTask>> {
          // A NULL filter matches everything; a NULL limit is LIMIT ALL.
          auto r = s.exec(
              "SELECT " CODEFLEET_TASK_COLUMNS
              " FROM tasks WHERE seq > $1"
              " AND ($2::text IS NULL OR state = $2)"
              " AND ($3::text IS NULL OR class_name = $3)"
              " AND ($4::text IS NULL OR environment = $4)"
              " AND ($5::text IS NULL OR tenant = $5)"
              " ORDER BY seq LIMIT $6",
              {num(f.after_seq), f.state ? Param{task_phase_name(*f.state)} : Param{}, f.class_name,
               f.environment, f.tenant, f.limit < 0 ? Param{} : Param{num(f.limit)}});
          if (!r) return tl::unexpected(r.error());
          return read_tasks(r->get());
        });
  }

  Result<std::vector<StoredTask>> active_tasks() override {
    return run<std::vector<StoredTask>>(
        Access::kRead, [&](Session& s) -> Result<std::vector<StoredTask>> {
          auto r = s.exec("SELECT " CODEFLEET_TASK_COLUMNS
                          " FROM tasks WHERE state IN ('pending', 'admitted', 'running') "
                          "ORDER BY seq");
          if (!r) return tl::unexpected(r.error());
          return read_tasks(r->get());
        });
  }

  Result<std::vector<bool>> update_tasks(const std::vector<TaskUpdate>& updates) override {
    if (updates.empty()) return std::vector<bool>{};
    return run<std::vector<bool>>(Access::kWrite, [&](Session& s) {
      return s.transaction([&]() -> Result<std::vector<bool>> {
        std::vector<bool> applied;
        applied.reserve(updates.size());
        for (const auto& u : updates) {
          auto r = s.exec(
              "UPDATE tasks SET state = $2, pool = COALESCE(NULLIF($3, ''), pool), "
              "node = COALESCE(NULLIF($4, ''), node), reason = COALESCE(NULLIF($5, ''), reason), "
              "updated_ms = $6 WHERE id = $1 AND state IN ('pending', 'admitted', 'running') "
              "AND ($7 = '' OR strpos($7, ',' || state || ',') > 0)",
              {u.id, task_phase_name(u.state), u.pool, u.node, u.reason, num(u.at_ms),
               phase_list(u.from)});
          if (!r) return tl::unexpected(r.error());
          bool ok = one_row_changed(r->get());
          applied.push_back(ok);
          if (!ok) continue;
          const std::string kind = u.event.empty() ? task_phase_name(u.state) : u.event;
          if (auto e = insert_event(s, u.id, kind, u.detail_json, u.at_ms); !e) {
            return tl::unexpected(e.error());
          }
        }
        return applied;
      });
    });
  }

  Result<std::vector<TaskEvent>> task_events(const std::string& id) override {
    return run<std::vector<TaskEvent>>(
        Access::kRead, [&](Session& s) -> Result<std::vector<TaskEvent>> {
          auto r = s.exec(
              "SELECT task_id, kind, detail_json, at_ms FROM task_events WHERE task_id = $1 "
              "ORDER BY seq",
              {id});
          if (!r) return tl::unexpected(r.error());
          std::vector<TaskEvent> out;
          for (int row = 0; row < PQntuples(r->get()); ++row) {
            out.push_back({text_at(r->get(), row, 0), text_at(r->get(), row, 1),
                           text_at(r->get(), row, 2), int_at(r->get(), row, 3)});
          }
          return out;
        });
  }

  Result<std::map<std::pair<std::string, std::string>, int64_t>> count_tasks() override {
    using Counts = std::map<std::pair<std::string, std::string>, int64_t>;
    return run<Counts>(Access::kRead, [&](Session& s) -> Result<Counts> {
      auto r = s.exec("SELECT state, class_name, count(*) FROM tasks GROUP BY state, class_name");
      if (!r) return tl::unexpected(r.error());
      Counts out;
      for (int row = 0; row < PQntuples(r->get()); ++row) {
        out[{text_at(r->get(), row, 0), text_at(r->get(), row, 1)}] = int_at(r->get(), row, 2);
      }
      return out;
    });
  }

  Result<std::vector<StoredTask>> claim_new_tasks(int limit) override {
    if (limit <= 0) return std::vector<StoredTask>{};
    return run<std::vector<StoredTask>>(Access::kWrite, [&](Session& s) {
      return s.transaction([&]() -> Result<std::vector<StoredTask>> {
        // SKIP LOCKED: rows another replica is claiming right now are left to it.
        auto r = s.exec(
            "WITH claimed AS (UPDATE tasks SET claimed = true WHERE id IN (SELECT id FROM tasks "
            "WHERE state = 'pending' AND NOT claimed ORDER BY seq LIMIT $1 FOR UPDATE SKIP "
            "LOCKED) RETURNING " CODEFLEET_TASK_COLUMNS ") SELECT " CODEFLEET_TASK_COLUMNS
            " FROM claimed ORDER BY seq",
            {num(limit)});
        if (!r) return tl::unexpected(r.error());
        return read_tasks(r->get());
      });
    });
  }

  Result<void> release_claims() override {
    return run<void>(Access::kWrite, [&](Session& s) {
      return s.transaction([&]() -> Result<void> {
        auto r = s.exec(
            "UPDATE tasks SET claimed = false WHERE claimed AND state IN ('pending', "
            "'admitted', 'running')");
        if (!r) return tl::unexpected(r.error());
        return {};
      });
    });
  }

  // --- API keys

  Result<void> put_api_key(const ApiKey& k) override {
    return run<void>(Access::kWrite, [&](Session& s) {
      return s.transaction([&]() -> Result<void> {
        auto r = s.exec(
            "INSERT INTO api_keys (" CODEFLEET_KEY_COLUMNS
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            {k.id, k.name, k.hash_hex, role_name(k.role), k.tenant, num(k.created_ms),
             flag(k.revoked), num(k.llm.budget_micros_month), num(k.llm.rpm), num(k.llm.tpm)});
        if (!r) return tl::unexpected(r.error());
        if (!one_row_changed(r->get())) {
          return tl::unexpected(
              Error{ErrorCode::kInvalidInput, "an API key with that id or secret exists", "key"});
        }
        return {};
      });
    });
  }

  Result<std::optional<ApiKey>> find_api_key(const std::string& hash_hex) override {
    return run<std::optional<ApiKey>>(
        Access::kRead, [&](Session& s) -> Result<std::optional<ApiKey>> {
          auto r = s.exec("SELECT " CODEFLEET_KEY_COLUMNS " FROM api_keys WHERE hash_hex = $1",
                          {hash_hex});
          if (!r) return tl::unexpected(r.error());
          auto keys = read_keys(r->get());
          if (keys.empty()) return std::optional<ApiKey>{};
          return std::optional<ApiKey>{std::move(keys.front())};
        });
  }

  Result<std::vector<ApiKey>> list_api_keys() override {
    return run<std::vector<ApiKey>>(Access::kRead, [&](Session& s) -> Result<std::vector<ApiKey>> {
      auto r = s.exec("SELECT " CODEFLEET_KEY_COLUMNS " FROM api_keys ORDER BY created_ms, id");
      if (!r) return tl::unexpected(r.error());
      return read_keys(r->get());
    });
  }

  Result<bool> revoke_api_key(const std::string& id) override {
    return run<bool>(Access::kWrite, [&](Session& s) {
      return s.transaction([&]() -> Result<bool> {
        auto r = s.exec("UPDATE api_keys SET revoked = true WHERE id = $1 AND NOT revoked", {id});
        if (!r) return tl::unexpected(r.error());
        return one_row_changed(r->get());
      });
    });
  }

  Result<std::optional<ApiKey>> update_api_key_llm_limits(const std::string& id,
                                                          const LlmLimitsUpdate& u) override {
    auto param = [](const std::optional<int64_t>& v) -> Param {
      return v ? Param(num(*v)) : Param();
    };
    return run<std::optional<ApiKey>>(
        Access::kWrite, [&](Session& s) -> Result<std::optional<ApiKey>> {
          auto r = s.exec(
              "UPDATE api_keys SET llm_budget_micros = COALESCE($2::bigint, llm_budget_micros), "
              "llm_rpm = COALESCE($3::bigint, llm_rpm), llm_tpm = COALESCE($4::bigint, llm_tpm) "
              "WHERE id = $1 RETURNING " CODEFLEET_KEY_COLUMNS,
              {id, param(u.budget_micros_month), param(u.rpm), param(u.tpm)});
          if (!r) return tl::unexpected(r.error());
          auto keys = read_keys(r->get());
          if (keys.empty()) return std::optional<ApiKey>();
          return std::optional<ApiKey>(keys.front());
        });
  }

  // --- alerts

  Result<void> upsert_alert(const Alert& a) override {
    return run<void>(Access::kWrite, [&](Session& s) {
      return s.transaction([&]() -> Result<void> {
        auto r = s.exec(
            "INSERT INTO alerts (key, kind, severity, firing, summary, labels_json, fired_ms, "
            "resolved_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, severity = EXCLUDED.severity, "
            "firing = EXCLUDED.firing, summary = EXCLUDED.summary, "
            "labels_json = EXCLUDED.labels_json, fired_ms = EXCLUDED.fired_ms, "
            "resolved_ms = EXCLUDED.resolved_ms, updated_ms = EXCLUDED.updated_ms",
            {a.key, a.kind, a.severity, flag(a.firing), a.summary, or_empty_object(a.labels_json),
             num(a.fired_ms), num(a.resolved_ms), num(a.updated_ms)});
        if (!r) return tl::unexpected(r.error());
        return {};
      });
    });
  }

  Result<std::vector<Alert>> list_alerts(bool firing_only) override {
    return run<std::vector<Alert>>(Access::kRead, [&](Session& s) -> Result<std::vector<Alert>> {
      auto r = s.exec(
          "SELECT key, kind, severity, firing, summary, labels_json, fired_ms, resolved_ms, "
          "updated_ms FROM alerts WHERE firing OR NOT $1::boolean ORDER BY fired_ms, key",
          {flag(firing_only)});
      if (!r) return tl::unexpected(r.error());
      std::vector<Alert> out;
      const PGresult* res = r->get();
      for (int row = 0; row < PQntuples(res); ++row) {
        Alert a;
        a.key = text_at(res, row, 0);
        a.kind = text_at(res, row, 1);
        a.severity = text_at(res, row, 2);
        a.firing = bool_at(res, row, 3);
        a.summary = text_at(res, row, 4);
        a.labels_json = text_at(res, row, 5);
        a.fired_ms = int_at(res, row, 6);
        a.resolved_ms = int_at(res, row, 7);
        a.updated_ms = int_at(res, row, 8);
        out.push_back(std::move(a));
      }
      return out;
    });
  }

  // --- cost

  Result<void> add_costs(const std::vector<CostAccrual>& costs) override {
    if (costs.empty()) return {};
    return run<void>(Access::kWrite, [&](Session& s) {
      return s.transaction([&]() -> Result<void> {
        for (const auto& c : costs) {
          auto r = s.exec(
              "INSERT INTO costs (pool, hour_start_ms, micros) VALUES ($1, $2, $3) "
              "ON CONFLICT (pool, hour_start_ms) DO UPDATE SET micros = costs.micros + "
              "EXCLUDED.micros",
              {c.pool, num(c.hour_start_ms), num(c.micros)});
          if (!r) return tl::unexpected(r.error());
        }
        return {};
      });
    });
  }

  Result<std::map<std::string, int64_t>> costs_by_pool(int64_t from_ms, int64_t to_ms) override {
    using Costs = std::map<std::string, int64_t>;
    return run<Costs>(Access::kRead, [&](Session& s) -> Result<Costs> {
      auto r = s.exec(
          "SELECT pool, sum(micros)::bigint FROM costs WHERE hour_start_ms >= $1 AND "
          "hour_start_ms < $2 GROUP BY pool",
          {num(from_ms), num(to_ms)});
      if (!r) return tl::unexpected(r.error());
      Costs out;
      for (int row = 0; row < PQntuples(r->get()); ++row) {
        out[text_at(r->get(), row, 0)] = int_at(r->get(), row, 1);
      }
      return out;
    });
  }

  // --- LLM usage

  Result<void> add_llm_usage(const std::vector<LlmUsage>& usage) override {
    if (usage.empty()) return {};
    if (auto bad = check_llm_usage(usage); !bad) return bad;
    // Rows, then the ledger's, each in key order: replicas writing at once take their row
    // locks in the same order and cannot deadlock.
    auto rows = sorted_llm_usage(usage);
    auto ledger = llm_ledger(rows);
    return run<void>(Access::kWrite, [&](Session& s) {
      return s.transaction([&]() -> Result<void> {
        for (const auto& u : rows) {
          auto r = s.exec(
              "INSERT INTO llm_usage (hour_start_ms, tenant, key_id, deployment, requests, "
              "prompt_tokens, completion_tokens, cached_tokens, cost_micros) VALUES ($1, $2, $3, "
              "$4, $5, $6, $7, $8, $9) ON CONFLICT (hour_start_ms, tenant, key_id, deployment) "
              "DO UPDATE SET requests = llm_usage.requests + EXCLUDED.requests, "
              "prompt_tokens = llm_usage.prompt_tokens + EXCLUDED.prompt_tokens, "
              "completion_tokens = llm_usage.completion_tokens + EXCLUDED.completion_tokens, "
              "cached_tokens = llm_usage.cached_tokens + EXCLUDED.cached_tokens, "
              "cost_micros = llm_usage.cost_micros + EXCLUDED.cost_micros",
              {num(u.hour_start_ms), u.tenant, u.key_id, u.deployment, num(u.requests),
               num(u.prompt_tokens), num(u.completion_tokens), num(u.cached_tokens),
               num(u.cost_micros)});
          if (!r) return tl::unexpected(r.error());
        }
        for (const auto& [key, micros] : ledger) {
          auto c = s.exec(
              "INSERT INTO costs (pool, hour_start_ms, micros) VALUES ($1, $2, $3) "
              "ON CONFLICT (pool, hour_start_ms) DO UPDATE SET micros = costs.micros + "
              "EXCLUDED.micros",
              {key.first, num(key.second), num(micros)});
          if (!c) return tl::unexpected(c.error());
        }
        return {};
      });
    });
  }

  Result<std::vector<LlmUsage>> llm_usage(const LlmUsageFilter& f) override {
    return run<std::vector<LlmUsage>>(
        Access::kRead, [&](Session& s) -> Result<std::vector<LlmUsage>> {
          // A NULL filter matches everything. Byte order (COLLATE "C"), as SQLite sorts.
          auto r = s.exec(
              "SELECT tenant, key_id, deployment, sum(requests)::bigint, "
              "sum(prompt_tokens)::bigint, sum(completion_tokens)::bigint, "
              "sum(cached_tokens)::bigint, sum(cost_micros)::bigint FROM llm_usage "
              "WHERE hour_start_ms >= $1 AND hour_start_ms < $2"
              " AND ($3::text IS NULL OR tenant = $3)"
              " AND ($4::text IS NULL OR key_id = $4)"
              " GROUP BY tenant, key_id, deployment"
              " ORDER BY tenant COLLATE \"C\", key_id COLLATE \"C\", deployment COLLATE \"C\"",
              {num(f.from_ms), num(f.to_ms), null_if_empty(f.tenant), null_if_empty(f.key_id)});
          if (!r) return tl::unexpected(r.error());
          std::vector<LlmUsage> out;
          const PGresult* res = r->get();
          for (int row = 0; row < PQntuples(res); ++row) {
            LlmUsage u;
            u.tenant = text_at(res, row, 0);
            u.key_id = text_at(res, row, 1);
            u.deployment = text_at(res, row, 2);
            u.requests = int_at(res, row, 3);
            u.prompt_tokens = int_at(res, row, 4);
            u.completion_tokens = int_at(res, row, 5);
            u.cached_tokens = int_at(res, row, 6);
            u.cost_micros = int_at(res, row, 7);
            out.push_back(std::move(u));
          }
          return out;
        });
  }

  // --- journal

  Result<void> append_journal(const std::vector<TaskEvent>& entries) override {
    if (entries.empty()) return {};
    return run<void>(Access::kWrite, [&](Session& s) {
      return s.transaction([&]() -> Result<void> {
        for (const auto& e : entries) {
          auto r = s.exec(
              "INSERT INTO journal (task_id, kind, detail_json, at_ms) VALUES ($1, $2, $3, $4)",
              {e.task_id, e.kind, or_empty_object(e.detail_json), num(e.at_ms)});
          if (!r) return tl::unexpected(r.error());
        }
        return {};
      });
    });
  }

  // --- leadership

  void resign() override {
    std::lock_guard lock(leader_mu_);
    if (leader_ && leading_) PQclear(PQexec(leader_.get(), "SELECT pg_advisory_unlock_all()"));
    leading_ = false;
  }

  Result<bool> try_lead() override {
    try {
      std::lock_guard lock(leader_mu_);
      for (int attempt = 1;; ++attempt) {
        if (!leader_) {
          auto conn = pool_.connect_dedicated();
          if (!conn) return tl::unexpected(conn.error());
          leader_ = std::move(*conn);
          leading_ = false;
          // Let the server, too, notice a dead leader within about a minute (and so free
          // the lock); best effort: ignored over a Unix socket.
          PQclear(PQexec(leader_.get(),
                         "SELECT set_config('tcp_keepalives_idle', '30', false), "
                         "set_config('tcp_keepalives_interval', '10', false), "
                         "set_config('tcp_keepalives_count', '3', false)"));
        }
        Session s(leader_.get());
        // Held: a round trip says whether the session, and so the lock, is still there.
        auto r = leading_ ? s.exec("SELECT true")
                          : s.exec(
                                "SELECT pg_try_advisory_lock($1::int4, "
                                "hashtext(current_schema()))",
                                {kLeaderLock});
        if (r) {
          leading_ = bool_at(r->get(), 0, 0);
          return leading_;
        }
        if (!s.lost()) return tl::unexpected(r.error());
        // The session is gone, and the lock with it: try again on a fresh connection.
        leader_.reset();
        leading_ = false;
        if (attempt == 2) return tl::unexpected(r.error());
      }
    } catch (const std::exception& e) {
      return tl::unexpected(Error{ErrorCode::kInternal, std::string("postgres: ") + e.what(), ""});
    }
  }

 private:
  enum class Access { kRead, kWrite };

  // Runs `body` on a pooled connection. When the connection turns out to be lost before
  // anything could have been committed (a read; a write whose COMMIT was not sent), the
  // connection is reset and `body` runs once more. No exception leaves.
  template <typename T, typename F>
  Result<T> run(Access access, F&& body) {
    try {
      for (int attempt = 1;; ++attempt) {
        auto lease = pool_.acquire();
        if (!lease) return tl::unexpected(lease.error());
        Session s(lease->get());
        Result<T> out = body(s);
        bool retry =
            !out && attempt == 1 && s.lost() && (access == Access::kRead || !s.commit_sent());
        if (!retry) return out;
      }
    } catch (const std::exception& e) {
      return tl::unexpected(Error{ErrorCode::kInternal, std::string("postgres: ") + e.what(), ""});
    }
  }

  ConnectionPool pool_;
  int schema_version_ = 0;

  std::mutex leader_mu_;
  PgConn leader_;  // the session holding (or trying for) the leader lock
  bool leading_ = false;
};

#undef CODEFLEET_TASK_COLUMNS
#undef CODEFLEET_KEY_COLUMNS

}  // namespace

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& conninfo) {
  try {
    char* err = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &err);
    if (!options) {
      std::string message = err ? one_line(err) : "out of memory";
      PQfreemem(err);
      return tl::unexpected(Error{
          ErrorCode::kInvalidInput,
          "postgres: bad connection string: " + redact(message, secrets_of(conninfo)), "--store"});
    }
    PQconninfoFree(options);
    auto store = std::make_unique<PostgresStore>(conninfo);
    if (auto r = store->migrate(); !r) return tl::unexpected(r.error());
    return std::unique_ptr<Store>(std::move(store));
  } catch (const std::exception& e) {
    return tl::unexpected(Error{ErrorCode::kInternal, std::string("postgres: ") + e.what(), ""});
  }
}

}  // namespace codefleet
