// The shared backend: PostgreSQL (15+) through libpq, for several processes
// or machines sharing one store.
//
// Writers serialize on one transaction-scoped advisory lock, which keeps
// event offsets gap-free and the ledger a single chain; PostgreSQL commits
// durably (synchronous_commit) before a write is acknowledged. Reads use the
// connection pool without that lock.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "bver/status.h"
#include "src/store/backend.h"

namespace bver::store::postgres {

struct PostgresOptions {
  std::string url;  // postgresql://user@host:port/db (libpq connection URI)
  int connections = 4;
};

Result<std::unique_ptr<Backend>> OpenPostgres(const PostgresOptions& options);

}  // namespace bver::store::postgres
