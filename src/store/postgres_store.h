// The PostgreSQL adapter of the store port: several daemon replicas share one database.
// Each call borrows one connection from a small pool (a broken one is reset); every write
// is one transaction, durable when the call returns. Leadership is a session advisory lock
// held on a connection of its own for as long as the store lives.
//
//   auto store = open_postgres_store("postgresql://codefleet@db:5432/codefleet");
//   if (!store) return tl::unexpected(store.error());  // kUnavailable: retry later
//   if ((*store)->try_lead().value_or(false)) run_reconcile_loop();
//
// The tables live in the connection's current schema (search_path), and the leader and
// migration locks are scoped to that schema: deployments (or test runs) that share a
// database in different schemas do not see each other.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "store/store.h"

namespace codefleet {

// conninfo: a libpq conninfo string ("host=… dbname=…") or a postgres:// URL, as is.
// Connects, applies pending schema migrations and returns the store. kUnavailable when
// the server cannot be reached; error messages never contain the password.
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& conninfo);

}  // namespace codefleet
