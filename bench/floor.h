// The floor: the cheapest durable write the same database can do — one plain
// single-row INSERT of a JSON text in its own transaction — measured in the
// same run as the store, so every store figure is also a ratio to it (the
// store's cost over the database's own, which drifts less between machines
// than absolute figures).
//
// Thread safety: Insert(thread, ...) may be called concurrently for distinct
// `thread` values below the count given at open; each has its own connection.
#pragma once

#include <memory>
#include <string>

#include "bver/status.h"

namespace bver::bench {

class Floor {
 public:
  virtual ~Floor() = default;
  // Inserts one row holding `json_text` and commits it durably.
  virtual Status Insert(int thread, const std::string& json_text) = 0;
  // What was set up, e.g. "journal_mode=wal synchronous=2 (FULL)".
  virtual std::string Describe() = 0;
};

// A new SQLite file at `path` with the store's pragmas: WAL and
// synchronous=FULL (`full_sync`) or NORMAL.
Result<std::unique_ptr<Floor>> OpenSqliteFloor(const std::string& path, bool full_sync,
                                               int threads);

// A table bench_floor in the PostgreSQL database at `url` (libpq URI), with
// the server's own durability settings (the store uses the same).
Result<std::unique_ptr<Floor>> OpenPgFloor(const std::string& url, int threads);

}  // namespace bver::bench
