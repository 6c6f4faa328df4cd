// The embedded store: one SQLite database file in WAL mode with synchronous=FULL, so a
// task is on disk before `create_task` returns. Writes from every thread go to one
// writer thread, which commits whatever has queued up in one transaction (group
// commit): one fsync serves many concurrent submissions. Reads use a pool of read-only
// connections, which WAL lets run beside the writer.
//
//   auto store = open_sqlite_store("/var/lib/codefleet/codefleet.db");
//
// The file is this process's alone (an exclusive lock on PATH.lock): a second daemon on
// the same file is refused rather than left to race.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace codefleet {

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

}  // namespace codefleet
