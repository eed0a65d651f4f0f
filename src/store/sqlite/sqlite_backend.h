// The embedded backend: one SQLite file in WAL mode.
//
// Writes go through one writer thread that commits several callers'
// transactions together (group commit: one fsync for the batch, each caller
// isolated by a savepoint), so many concurrent writers share the cost of
// durability. Reads use a pool of read-only connections and never wait for
// the writer (WAL).
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "bver/status.h"
#include "src/store/backend.h"

namespace bver::store::sqlite {

enum class Durability {
  kFull,  // synchronous=FULL: an acknowledged write survives power loss (default)
  kFast,  // synchronous=NORMAL: survives a process crash, may lose the last commits on power loss (development)
};

struct SqliteOptions {
  std::string path;  // the database file; its folder must exist
  Durability durability = Durability::kFull;
  int read_connections = 4;
};

Result<std::unique_ptr<Backend>> OpenSqlite(const SqliteOptions& options);

// Whether no process has the database at `path` open (this one included):
// OK when none has, or when there is no such file or it is not an SQLite
// database; FailedPrecondition when one has. Asks SQLite for an exclusive
// lock without waiting -- every open connection to a WAL database holds a
// shared one -- then releases it; writes nothing.
Status CheckNotInUse(const std::string& path);

}  // namespace bver::store::sqlite
