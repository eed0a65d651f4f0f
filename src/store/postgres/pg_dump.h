// A consistent copy of a PostgreSQL store while writers go on: pg_dump in
// its custom format (one REPEATABLE READ snapshot of the whole database),
// restorable with pg_restore. What `migrate apply` takes before it writes.
#pragma once

#include <string>

#include "bver/status.h"

namespace bver::store::postgres {

// Runs pg_dump of the database at `url` (a libpq connection URI) into the
// new file `path`, never prompting for a password (libpq's own sources:
// the URL, PGPASSWORD, PGPASSFILE, ~/.pgpass). FailedPrecondition when no
// pg_dump is installed; Unavailable with pg_dump's own message when it
// fails (then no file is left behind).
Status DumpDatabase(const std::string& url, const std::string& path);

}  // namespace bver::store::postgres
