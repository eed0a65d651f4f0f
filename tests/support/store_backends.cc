#include "tests/support/store_backends.h"

#include <unistd.h>

#include <algorithm>
#include <ostream>

#include <gtest/gtest.h>

#include "src/domain/compiler.h"
#include "src/store/postgres/postgres_backend.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "tests/support/pg_cluster.h"

namespace bver::testing {

void PrintTo(const BackendCase& c, std::ostream* os) { *os << c.name; }

std::vector<BackendCase> StoreBackends(int connections) {
  return {{"sqlite",
           [connections](const std::filesystem::path& dir) {
             return store::sqlite::OpenSqlite(
                 {(dir / "bver.db").string(), store::sqlite::Durability::kFull, connections});
           }},
          {"postgresql", [connections](const std::filesystem::path& dir) -> Result<std::unique_ptr<store::Backend>> {
             BVER_ASSIGN_OR_RETURN(std::string url, TestDatabaseUrl(dir.filename().string()));
             return store::postgres::OpenPostgres({url, connections});
           }}};
}

Result<TestStore> OpenTestStore(const BackendCase& backend, const std::filesystem::path& dir,
                                const std::string& domain_file) {
  TestStore t;
  BVER_ASSIGN_OR_RETURN(domain::Platform p, domain::CompileFile(domain_file));
  t.platform = std::make_shared<domain::Platform>(std::move(p));
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<store::Backend> b, backend.open(dir));
  BVER_ASSIGN_OR_RETURN(t.store, store::Store::Open(t.platform, std::move(b), {"sha256:test"}));
  return t;
}

std::filesystem::path FreshTestDir(const std::string& prefix) {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '_');
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace bver::testing
