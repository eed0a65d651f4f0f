// The store backends every store-backed suite runs over, in one place, so a
// new backend joins every suite at once: SQLite (a durable file in the
// test's folder) and PostgreSQL (a fresh database, named after the folder,
// in the shared throwaway cluster of pg_cluster.h; a cluster that cannot
// start fails the test).
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "bver/status.h"
#include "src/domain/platform.h"
#include "src/store/backend.h"
#include "src/store/store.h"

namespace bver::testing {

struct BackendCase {
  std::string name;  // "sqlite", "postgresql": the test parameter's name
  std::function<Result<std::unique_ptr<store::Backend>>(const std::filesystem::path& dir)> open;
};

// Test names show the backend's name, not its bytes.
void PrintTo(const BackendCase& c, std::ostream* os);

// Each backend opened with `connections` connections (SQLite: readers).
std::vector<BackendCase> StoreBackends(int connections = 4);

// The domain in `domain_file`, compiled, and a Store on `backend` opened in
// `dir` (manifest fingerprint "sha256:test"): what store-backed suites set up.
struct TestStore {
  std::shared_ptr<domain::Platform> platform;
  std::unique_ptr<store::Store> store;
};
Result<TestStore> OpenTestStore(const BackendCase& backend, const std::filesystem::path& dir,
                                const std::string& domain_file);

// <temp>/<prefix>_<pid>_<the running test's name, '/' replaced>, emptied and
// created: a folder per test, and a PostgreSQL database name per test.
std::filesystem::path FreshTestDir(const std::string& prefix);

}  // namespace bver::testing
