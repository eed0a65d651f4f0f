// A throwaway PostgreSQL cluster for tests: initdb in a temporary folder,
// started on a free port on 127.0.0.1, stopped and removed by the destructor.
// Uses the server binaries of Debian's postgresql package; when running as
// root, runs them as the "postgres" user (PostgreSQL refuses root).
//
// Not thread-safe; create one per test binary.
#pragma once

#include <memory>
#include <string>

#include "bver/status.h"

namespace bver::testing {

class PgCluster {
 public:
  // Unavailable, with what failed and the server log, when it cannot start.
  static Result<std::unique_ptr<PgCluster>> Start();
  ~PgCluster();

  int port() const { return port_; }
  // A new, empty database; returns its libpq URL.
  Result<std::string> NewDatabase(const std::string& name);
  std::string Url(const std::string& db) const;

 private:
  PgCluster() = default;
  std::string bin_dir_;
  std::string data_dir_;
  std::string run_as_;  // prefix that runs a command as postgres, or empty
  int port_ = 0;
  bool started_ = false;
};

// One cluster per test process, started on first use and stopped at exit.
// Its error (if it could not start) is returned to every caller, so every
// PostgreSQL case fails; none skips.
Result<PgCluster*> SharedPgCluster();

// The URL of a database of the shared cluster named after `key` (lower-cased,
// the last 60 characters), created empty on first use in this process.
Result<std::string> TestDatabaseUrl(const std::string& key);

}  // namespace bver::testing
