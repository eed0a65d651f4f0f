// Migrating a SQLite store (issue 14): 100,000 references, one field
// renamed, every migrated reference a new version with its diff, event and
// ledger entry, durable (synchronous=FULL) -- beside the same store's own
// create rate measured in the same run (one writer, and 16 writers sharing
// group commits), and the snapshot `migrate apply` takes first.
//
//   scripts/bench_migrate.sh [--refs N]     (Release build in build/bench)
//
// Prints a markdown table and the ratios; docs/PERFORMANCE.md records them.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/harness.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/migrate/migrate.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "src/store/store.h"

namespace {

using nlohmann::json;
using namespace bver;
namespace fs = std::filesystem;

constexpr char kV1[] = R"(bver: 1
platform: { id: bench, version: 1.0.0 }
namespaces:
  org:
    owner: core
    repos:
      person:
        schema:
          type: object
          required: [name]
          additionalProperties: false
          properties:
            name: { type: string }
            mail: { type: string }
            team: { type: string }
            age: { type: integer }
)";

constexpr char kV2[] = R"(bver: 1
platform: { id: bench, version: 2.0.0 }
namespaces:
  org:
    owner: core
    repos:
      person:
        schema:
          type: object
          required: [name]
          additionalProperties: false
          properties:
            name: { type: string }
            email: { type: string, x-bver-renamed-from: mail }
            team: { type: string }
            age: { type: integer }
)";

struct Opened {
  json manifest;
  std::string fingerprint;
  std::unique_ptr<store::Store> store;
};

Opened Open(const fs::path& dir, const char* yaml) {
  std::ofstream(dir / "bver.yaml") << yaml;
  Result<domain::Platform> p = domain::CompileFile((dir / "bver.yaml").string());
  if (!p.ok()) {
    std::cerr << p.status().ToString() << "\n";
    std::exit(3);
  }
  Opened o;
  o.manifest = domain::ToManifest(*p);
  o.fingerprint = *domain::ManifestFingerprint(o.manifest);
  store::sqlite::SqliteOptions so;
  so.path = (dir / "bver.db").string();
  Result<std::unique_ptr<store::Backend>> b = store::sqlite::OpenSqlite(so);
  if (!b.ok()) {
    std::cerr << b.status().ToString() << "\n";
    std::exit(3);
  }
  store::Store::Options options;
  options.manifest_fingerprint = o.fingerprint;
  Result<std::unique_ptr<store::Store>> s =
      store::Store::Open(std::make_shared<const domain::Platform>(std::move(p).value()), std::move(b).value(), options);
  if (!s.ok() || !migrate::CheckOnOpen(**s, o.manifest, o.fingerprint).ok()) {
    std::cerr << "cannot open the store\n";
    std::exit(3);
  }
  o.store = std::move(s).value();
  return o;
}

json Body(std::uint64_t i) {
  return json{{"name", "Person " + std::to_string(i)}, {"mail", "p" + std::to_string(i) + "@example.org"},
              {"team", i % 2 ? "grid" : "ops"}, {"age", 20 + i % 50}};
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t refs = 100000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--refs") refs = std::strtoull(argv[i + 1], nullptr, 10);
  }
  fs::path dir = fs::temp_directory_path() / ("bver_migrate_bench_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<bench::Row> rows;
  store::WriteContext ctx;
  ctx.actor = "bench";

  {
    Opened o = Open(dir, kV1);
    // The store's own create rate, same run, same file: one writer, then 16.
    for (int threads : {1, 16}) {
      bench::Row r;
      r.backend = "sqlite";
      r.operation = "create (versioned, durable)";
      r.threads = threads;
      r.m = bench::Run(threads, {threads == 1 ? 3000u : 20000u, 20}, [&](int, std::uint64_t i) -> Status {
        return o.store->Create("person", "", Body(i), ctx, "c" + std::to_string(threads) + "-" + std::to_string(i))
            .status();
      });
      rows.push_back(r);
    }
    // The references to migrate, in batches (not measured).
    for (std::uint64_t start = 0; start < refs; start += 1000) {
      std::vector<store::Change> batch;
      for (std::uint64_t i = start; i < std::min(refs, start + 1000); ++i) {
        store::Change c;
        c.repo = "org/person";
        char id[32];
        std::snprintf(id, sizeof id, "m%07llu", static_cast<unsigned long long>(i));
        c.id = id;
        c.body = std::make_shared<const json>(Body(i));
        batch.push_back(std::move(c));
      }
      if (!o.store->Apply(batch, ctx).ok()) {
        std::cerr << "seeding failed\n";
        return 3;
      }
    }
  }
  const double db_mb = static_cast<double>(fs::file_size(dir / "bver.db")) / 1e6;

  Opened o = Open(dir, kV2);
  {
    bench::Row r;
    r.backend = "sqlite";
    r.operation = "snapshot (VACUUM INTO), " + std::to_string(static_cast<int>(db_mb)) + " MB";
    r.latency = false;
    auto t0 = std::chrono::steady_clock::now();
    double c0 = CpuSeconds();
    Status s = o.store->backend().SnapshotTo((dir / "snapshot.db").string());
    r.m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.m.cpu_seconds = CpuSeconds() - c0;
    r.m.ops = s.ok() ? 1 : 0;
    r.m.error = s;
    r.note = std::to_string(static_cast<int>(db_mb / r.m.seconds)) + " MB/s";
    rows.push_back(r);
  }
  bench::Row mig;
  mig.backend = "sqlite";
  mig.operation = "migrate apply (1 field renamed, batch 500)";
  mig.latency = false;
  {
    migrate::ApplyOptions options;
    options.backup = false;  // measured on its own above
    options.actor = "bench";
    auto t0 = std::chrono::steady_clock::now();
    double c0 = CpuSeconds();
    Result<json> done = migrate::Apply(*o.store, o.manifest, o.fingerprint, options);
    mig.m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    mig.m.cpu_seconds = CpuSeconds() - c0;
    if (!done.ok()) {
      std::cerr << done.status().ToString() << "\n";
      return 3;
    }
    mig.m.ops = (*done)["migrated"].get<std::uint64_t>();
    mig.note = "references migrated per second, each with its version, diff, event and ledger entry";
  }
  Result<store::LedgerVerification> v = o.store->VerifyLedger();
  const double create1 = rows[0].m.OpsPerSecond();
  const double create16 = rows[1].m.OpsPerSecond();
  mig.floor_ops_per_second = create1;
  rows.push_back(mig);
  rows[1].floor_ops_per_second = create1;
  std::cout << bench::MarkdownTable(rows) << "\n";
  std::printf("migrate: %.0f refs/s = %.2f x one writer's creates (%.0f/s), %.2f x 16 writers' creates (%.0f/s); "
              "target >= 1.5 x the create rate\n",
              mig.m.OpsPerSecond(), mig.m.OpsPerSecond() / create1, create1, mig.m.OpsPerSecond() / create16,
              create16);
  std::printf("CPU per migrated reference: %.1f us; ledger after: %s\n",
              mig.m.cpu_seconds / static_cast<double>(std::max<std::uint64_t>(1, mig.m.ops)) * 1e6,
              v.ok() && v->ok ? "verified" : "BROKEN");
  o.store.reset();
  fs::remove_all(dir);
  return v.ok() && v->ok ? 0 : 1;
}
