// Fresh, empty stores for the integration tests: a new SQLite file in a temp directory,
// or a new database on the test PostgreSQL server (CODEFLEET_TEST_POSTGRES_URL, started
// by `bash scripts/pg.sh start`; `make test` and .ci/run start it). Each store is
// dropped when the test ends, so tests may run in parallel.
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace codefleet::testing {

inline std::string postgres_admin_url() {
  const char* url = std::getenv("CODEFLEET_TEST_POSTGRES_URL");
  return url ? url : "";
}

// Runs one statement on the server's admin database; "" when it worked, else the error.
inline std::string postgres_exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string err;
  if (PQstatus(c) != CONNECTION_OK) {
    err = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) err = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  return err;
}

// A store URL for `kind` ("sqlite" or "postgres") that nothing else uses; cleaned up by
// the returned object's destructor.
class FreshStore {
 public:
  explicit FreshStore(const std::string& kind) : kind_(kind) {
    static std::atomic<int> n{0};
    std::string name = "cf_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
    if (kind == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() / name;
      std::filesystem::create_directories(dir_);
      url_ = "sqlite:" + (dir_ / "codefleet.db").string();
      return;
    }
    admin_ = postgres_admin_url();
    if (admin_.empty()) {
      ADD_FAILURE() << "CODEFLEET_TEST_POSTGRES_URL is not set: run `eval \"$(bash "
                       "scripts/pg.sh start)\"` first (make test does)";
      return;
    }
    db_ = name;
    std::string err = postgres_exec(admin_, "CREATE DATABASE " + db_);
    if (!err.empty()) ADD_FAILURE() << "CREATE DATABASE " << db_ << ": " << err;
    // Replace the database name (the URL's last path segment).
    auto slash = admin_.rfind('/');
    auto query = admin_.find('?', slash);
    url_ = "postgres:" + admin_.substr(0, slash + 1) + db_ +
           (query == std::string::npos ? "" : admin_.substr(query));
  }
  ~FreshStore() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (!db_.empty()) postgres_exec(admin_, "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
  }
  FreshStore(const FreshStore&) = delete;
  FreshStore& operator=(const FreshStore&) = delete;
  const std::string& url() const { return url_; }
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_, url_, admin_, db_;
  std::filesystem::path dir_;
};

inline std::vector<std::string> store_kinds() { return {"sqlite", "postgres"}; }

}  // namespace codefleet::testing
