// Job engine benchmark (issue 5; scripts/bench_jobs.sh runs it):
//
//   throughput   no-op jobs end to end: N jobs submitted by S threads, timed
//                from the first submit until the last has succeeded. Every
//                state durable (the store's own durability: SQLite WAL FULL,
//                or PostgreSQL with synchronous_commit on).
//                Workers: T in-process threads, or --workers 0 for `bver
//                worker` processes the script started on the same store.
//   cache        cache-hit latency: a deterministic no-op run once, then
//                M identical submissions, each answered from the action
//                cache (p50/p99 of the whole StartJob call).
//
// The capability is bench.noop / bench.cached of the native plugin in
// bench/jobs/noop-plugin (a .so: exec plugins spawn a process per job).
// Prints one JSON line per measurement.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/jobs/engine.h"
#include "src/plugin/registry.h"
#include "src/plugin/store_registry.h"
#include "src/store/open.h"
#include "src/store/store.h"
#include "tests/support/pg_cluster.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string store;  // empty: SQLite in a temp folder
  std::string dir;    // project folder (plugins are installed under it)
  int jobs = 20000;
  int submitters = 4;
  int workers = 2;
  int cache_samples = 2000;
  bool install = true;
  std::string what = "all";  // throughput | cache | all
  bool pg = false;            // a throwaway PostgreSQL cluster (tests/support/pg_cluster.h)
  int spawn_workers = 0;      // `bver worker` processes to start on the store
  int worker_threads = 2;     // threads of each
  std::string bver;           // the bver binary (for --spawn-workers)
};

int Fail(const std::string& what, const bver::Status& s) {
  std::cerr << "jobs_bench: " << what << ": " << s.ToString() << "\n";
  return 1;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--store") a.store = v;
    else if (k == "--dir") a.dir = v;
    else if (k == "--jobs") a.jobs = std::atoi(v.c_str());
    else if (k == "--submitters") a.submitters = std::atoi(v.c_str());
    else if (k == "--workers") a.workers = std::atoi(v.c_str());
    else if (k == "--cache-samples") a.cache_samples = std::atoi(v.c_str());
    else if (k == "--what") a.what = v;
    else if (k == "--install") a.install = v != "0";
    else if (k == "--pg") a.pg = v != "0";
    else if (k == "--spawn-workers") a.spawn_workers = std::atoi(v.c_str());
    else if (k == "--worker-threads") a.worker_threads = std::atoi(v.c_str());
    else if (k == "--bver") a.bver = v;
    else {
      std::cerr << "jobs_bench: unknown flag " << k << "\n";
      return 2;
    }
  }
  if (a.dir.empty()) {
    a.dir = (fs::temp_directory_path() / ("bver_jobs_bench_" + std::to_string(::getpid()))).string();
    fs::remove_all(a.dir);
  }
  fs::create_directories(a.dir);
  if (a.pg) {
    bver::Result<std::string> url = bver::testing::TestDatabaseUrl("jobs_bench_" + std::to_string(::getpid()));
    if (!url.ok()) return Fail("start PostgreSQL", url.status());
    a.store = *url;
  }
  if (a.store.empty()) a.store = "sqlite:" + (fs::path(a.dir) / "bver.db").string();
  fs::copy_file(BVER_SOURCE_DIR "/bench/jobs/bver.yaml", fs::path(a.dir) / "bver.yaml",
                fs::copy_options::overwrite_existing);

  bver::Result<bver::domain::Platform> compiled = bver::domain::CompileFile(BVER_SOURCE_DIR "/bench/jobs/bver.yaml");
  if (!compiled.ok()) return Fail("compile", compiled.status());
  bver::Result<std::string> fp = bver::domain::ManifestFingerprint(bver::domain::ToManifest(*compiled));
  if (!fp.ok()) return Fail("fingerprint", fp.status());
  auto platform = std::make_shared<const bver::domain::Platform>(std::move(compiled).value());
  bver::Result<std::unique_ptr<bver::store::Store>> store = bver::store::OpenStore(a.store, a.dir, platform, *fp);
  if (!store.ok()) return Fail("open store", store.status());
  std::unique_ptr<bver::plugin::RegistryStorage> storage = bver::plugin::MakeStoreRegistryStorage((*store)->backend());
  bver::plugin::Registry registry(*storage, (fs::path(a.dir) / ".bver" / "plugins").string());
  if (a.install) {
    bver::Result<bver::plugin::InstalledPlugin> p =
        registry.Install(BVER_BINARY_DIR "/bench/jobs/noop-plugin", platform.get(), {true});
    if (!p.ok()) return Fail("install the no-op plugin", p.status());
  }
  std::unique_ptr<bver::jobs::CapabilityHost> host = bver::jobs::MakeRegistryHost(registry, *platform);
  bver::jobs::EngineOptions options;
  options.threads = a.workers;
  options.idle_poll_ms = 5;
  bver::jobs::Engine engine(**store, *host, options);
  engine.Start();
  std::vector<pid_t> workers;
  for (int w = 0; w < a.spawn_workers; ++w) {
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string log = (fs::path(a.dir) / ("worker" + std::to_string(w) + ".log")).string();
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      std::vector<std::string> args = {a.bver, "-C", a.dir, "worker", "--store", a.store,
                                       "--threads", std::to_string(a.worker_threads)};
      std::vector<char*> argv;
      for (std::string& x : args) argv.push_back(x.data());
      argv.push_back(nullptr);
      ::execv(a.bver.c_str(), argv.data());
      ::_exit(127);
    }
    workers.push_back(pid);
  }
  auto input = std::make_shared<const json>(json::object());

  if (a.what == "all" || a.what == "throughput") {
    std::vector<std::vector<std::string>> ids(static_cast<std::size_t>(a.submitters));
    std::atomic<int> errors{0};
    auto t0 = Clock::now();
    std::vector<std::thread> subs;
    for (int s = 0; s < a.submitters; ++s) {
      subs.emplace_back([&, s] {
        int n = a.jobs / a.submitters + (s < a.jobs % a.submitters ? 1 : 0);
        for (int i = 0; i < n; ++i) {
          bver::runtime::JobStartRequest r;
          r.job = "noop";
          r.input = input;
          r.actor = "bench";
          bver::Result<json> j = engine.StartJob(r);
          if (!j.ok()) {
            if (errors++ == 0) std::cerr << "submit: " << j.status().ToString() << "\n";
            continue;
          }
          ids[static_cast<std::size_t>(s)].push_back((*j)["job_id"]);
        }
      });
    }
    for (std::thread& t : subs) t.join();
    auto t_submitted = Clock::now();
    // Done when no job is queued or running (each check reads at most one row).
    while (true) {
      bver::Result<std::vector<bver::store::JobRow>> q = (*store)->backend().ListJobs("queued", "", 1);
      bver::Result<std::vector<bver::store::JobRow>> r = (*store)->backend().ListJobs("running", "", 1);
      if (!q.ok() || !r.ok()) return Fail("poll", q.ok() ? r.status() : q.status());
      if (q->empty() && r->empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto t1 = Clock::now();
    int succeeded = 0;
    for (std::string after;;) {
      bver::Result<std::vector<bver::store::JobRow>> page = (*store)->backend().ListJobs("succeeded", after, 1000);
      if (!page.ok()) return Fail("count", page.status());
      if (page->empty()) break;
      succeeded += static_cast<int>(page->size());
      after = page->back().id;
    }
    int failed = a.jobs - errors.load() - succeeded;
    double secs = std::chrono::duration<double>(t1 - t0).count();
    json out = {{"bench", "jobs_throughput"},
                {"backend", (*store)->backend().Name()},
                {"workers", a.workers},
                {"worker_processes", a.spawn_workers},
                {"threads_per_worker_process", a.worker_threads},
                {"submitters", a.submitters},
                {"jobs", a.jobs},
                {"submit_errors", errors.load()},
                {"not_succeeded", failed},
                {"seconds", secs},
                {"submit_seconds", std::chrono::duration<double>(t_submitted - t0).count()},
                {"jobs_per_second", static_cast<double>(a.jobs) / secs}};
    std::cout << out.dump() << std::endl;
  }

  if (a.what == "all" || a.what == "cache") {
    bver::runtime::JobStartRequest r;
    r.job = "cached";
    r.input = std::make_shared<const json>(json{{"n", 1}});
    r.actor = "bench";
    r.wait_seconds = 60;
    bver::Result<json> first = engine.StartJob(r);
    if (!first.ok()) return Fail("cache warm-up", first.status());
    r.wait_seconds = 0;
    std::vector<double> ms;
    int misses = 0;
    for (int i = 0; i < a.cache_samples; ++i) {
      auto t0 = Clock::now();
      bver::Result<json> j = engine.StartJob(r);
      auto t1 = Clock::now();
      if (!j.ok()) return Fail("cache hit", j.status());
      if (!(*j)["cache_hit"].get<bool>()) ++misses;
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    json out = {{"bench", "jobs_cache_hit"},
                {"backend", (*store)->backend().Name()},
                {"samples", a.cache_samples},
                {"misses", misses},
                {"p50_ms", Percentile(ms, 0.5)},
                {"p99_ms", Percentile(ms, 0.99)}};
    std::cout << out.dump() << std::endl;
  }
  engine.Stop();
  for (pid_t pid : workers) ::kill(pid, SIGTERM);
  for (pid_t pid : workers) ::waitpid(pid, nullptr, 0);
  return 0;
}
