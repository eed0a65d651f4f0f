// The electrical pack's jobs through the runtime (issue 11), in process, on
// SQLite (WAL, synchronous=FULL), with the real native plugin:
//
//   import      grid.import of a MATPOWER file: read, parse, 39,000
//               references committed in one transaction (each with its
//               version, event, ledger entry, edges). One run per case.
//   powerflow   the powerflow job with no_cache: resolve the pinned network
//               (every element read), the request to the plugin, the solve,
//               the study and its report committed. Median of --runs.
//   hit         the same job again on the unchanged network: an action cache
//               hit (the whole StartJob call), p50/p99 of --hits.
//   solve       in the same run, PowerFlowSolver::Solve on the same case in
//               memory: the floor the powerflow job is measured against.
//
//   grid_jobs_bench [--case case9241pegase] [--runs 5] [--hits 200] [--dir D]
//
// Prints one JSON line per measurement; scripts/bench_grid.sh runs it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "packs/electrical/src/matpower.h"
#include "packs/electrical/src/powerflow.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/jobs/engine.h"
#include "src/plugin/registry.h"
#include "src/plugin/store_registry.h"
#include "src/store/artifact_store.h"
#include "src/store/open.h"
#include "src/store/store.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

int Fail(const std::string& what, const bver::Status& s) {
  std::cerr << "grid_jobs_bench: " << what << ": " << s.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = "case9241pegase";
  int runs = 5, hits = 200;
  std::string dir = (fs::temp_directory_path() / ("bver_grid_bench_" + std::to_string(::getpid()))).string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--case") name = v;
    else if (k == "--runs") runs = std::stoi(v);
    else if (k == "--hits") hits = std::stoi(v);
    else if (k == "--dir") dir = v;
  }
  const std::string m = std::string(BVER_SOURCE_DIR) + "/../shared/testdata/matpower/m/" + name + ".m";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Removed however the bench ends; declared before the store so it goes last.
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove_dir{dir};
  const std::string yaml = BVER_SOURCE_DIR "/examples/grid/bver.yaml";
  bver::Result<bver::domain::Platform> compiled = bver::domain::CompileFile(yaml);
  if (!compiled.ok()) return Fail("compile", compiled.status());
  bver::Result<std::string> fp = bver::domain::ManifestFingerprint(bver::domain::ToManifest(*compiled));
  if (!fp.ok()) return Fail("fingerprint", fp.status());
  auto platform = std::make_shared<const bver::domain::Platform>(std::move(compiled).value());
  bver::Result<std::unique_ptr<bver::store::Store>> store =
      bver::store::OpenStore("sqlite:" + (fs::path(dir) / "bver.db").string(), dir, platform, *fp);
  if (!store.ok()) return Fail("open store", store.status());
  std::unique_ptr<bver::plugin::RegistryStorage> storage = bver::plugin::MakeStoreRegistryStorage((*store)->backend());
  bver::plugin::Registry registry(*storage, (fs::path(dir) / ".bver" / "plugins").string());
  bver::Result<bver::plugin::InstalledPlugin> p = registry.Install(BVER_BINARY_DIR "/packs/electrical", platform.get(), {true});
  if (!p.ok()) return Fail("install the electrical pack", p.status());
  std::unique_ptr<bver::jobs::CapabilityHost> host = bver::jobs::MakeRegistryHost(registry, *platform);
  bver::Result<std::string> artifact_dir = bver::store::ChooseArtifactDir("sqlite:" + (fs::path(dir) / "bver.db").string(), dir);
  if (!artifact_dir.ok()) return Fail("artifact folder", artifact_dir.status());
  bver::store::ArtifactStore artifacts(*artifact_dir, (*store)->backend());
  bver::jobs::EngineOptions options;
  bver::jobs::UseArtifactStore(options, artifacts);
  options.threads = 1;
  options.idle_poll_ms = 5;
  bver::jobs::Engine engine(**store, *host, options);
  engine.Start();

  auto start = [&](const std::string& job, const json& input, bool no_cache) {
    bver::runtime::JobStartRequest r;
    r.job = job;
    r.input = std::make_shared<const json>(input);
    r.no_cache = no_cache;
    r.wait_seconds = 600;
    return engine.StartJob(r);
  };

  auto t0 = Clock::now();
  bver::Result<json> imported = start("import", {{"file", m}, {"network", "net"}}, true);
  auto t1 = Clock::now();
  if (!imported.ok() || imported->value("state", "") != "succeeded") {
    return Fail("import", imported.ok() ? bver::InternalError(imported->dump().substr(0, 2000)) : imported.status());
  }
  std::cout << json{{"case", name}, {"measure", "import"}, {"ms", Ms(t0, t1)},
                    {"references", (*imported)["result"]["changeset"]["creates"]}}
                   .dump()
            << std::endl;

  const json input = {{"network", "bver://grid/network/net"}};
  std::vector<double> job_ms;
  std::string study;
  for (int i = 0; i < runs; ++i) {
    auto a = Clock::now();
    bver::Result<json> j = start("powerflow", input, true);
    auto b = Clock::now();
    if (!j.ok() || j->value("state", "") != "succeeded") {
      return Fail("powerflow", j.ok() ? bver::InternalError(j->dump().substr(0, 2000)) : j.status());
    }
    study = (*j)["result"].value("study", "");
    job_ms.push_back(Ms(a, b));
  }
  std::vector<double> hit_ms;
  for (int i = 0; i < hits; ++i) {
    auto a = Clock::now();
    bver::Result<json> j = start("powerflow", input, false);
    auto b = Clock::now();
    if (!j.ok() || !j->value("cache_hit", false)) {
      return Fail("cache hit", j.ok() ? bver::InternalError(j->dump().substr(0, 500)) : j.status());
    }
    hit_ms.push_back(Ms(a, b));
  }
  // The floor: the solve alone, the network already in memory.
  grid::Case c;
  grid::ParseError err;
  std::string text;
  {
    std::FILE* f = std::fopen(m.c_str(), "rb");
    if (f == nullptr) return Fail("read " + m, bver::NotFoundError(m));
    char buf[1 << 16];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  if (!grid::ReadMatpower(text, &c, &err)) return Fail("parse", bver::InvalidArgumentError(err.message));
  grid::PowerFlowSolver solver;
  std::string why;
  if (!solver.Prepare(c, &why)) return Fail("prepare", bver::InvalidArgumentError(why));
  std::vector<double> solve_ms;
  grid::PowerFlowResult r;
  for (int i = 0; i < std::max(runs, 10); ++i) {
    auto a = Clock::now();
    solver.Solve({}, &r, &why);
    solve_ms.push_back(Ms(a, Clock::now()));
  }
  const double job = Percentile(job_ms, 0.5), solve = Percentile(solve_ms, 0.5);
  std::cout << json{{"case", name}, {"measure", "powerflow"}, {"runs", runs}, {"p50_ms", job},
                    {"max_ms", Percentile(job_ms, 1.0)}, {"solve_p50_ms", solve}, {"x_solve", job / solve},
                    {"study", study}}
                   .dump()
            << std::endl;
  std::cout << json{{"case", name}, {"measure", "cache_hit"}, {"samples", hits}, {"p50_ms", Percentile(hit_ms, 0.5)},
                    {"p99_ms", Percentile(hit_ms, 0.99)}}
                   .dump()
            << std::endl;
  engine.Stop();
  return 0;
}
