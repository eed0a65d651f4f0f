// store_bench: in-process throughput and latency of the versioned reference
// store (create, patch, get, attribute-level resolve, filtered list) over
// SQLite and PostgreSQL, each beside its floor — one plain INSERT per
// transaction on the same kind of database with the same durability —
// measured in the same run, so every write figure is also a ratio.
//
// Usage: store_bench [--refs N] [--seconds S] [--read-seconds S] [--build-seconds S]
//                    [--writers N] [--readers N] [--backends sqlite,sqlite-fast,postgresql]
//                    [--json FILE] [--dir DIR] [--quick]
// The markdown table goes to stdout, progress to stderr. Exit status 1 when
// any phase failed. See bench/README.md and docs/PERFORMANCE.md.
#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/floor.h"
#include "bench/harness.h"
#include "src/domain/compiler.h"
#include "src/store/open.h"
#include "src/store/store.h"
#include "tests/support/pg_cluster.h"

namespace bver::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using store::Store;

struct Options {
  std::size_t refs = 100'000;  // references in the repo when the read phases run
  double seconds = 3;          // bound of each write phase
  double read_seconds = 2;     // bound of each read phase
  double build_seconds = 240;  // bound of building the read set (then reads use what was built)
  std::uint64_t max_write_ops = 50'000;
  std::uint64_t max_read_ops = 2'000'000;
  int writers = 16;
  int readers = 4;
  std::vector<std::string> backends = {"sqlite", "sqlite-fast", "postgresql"};
  std::string json_path;
  std::string dir;  // work folder; a fresh temporary one by default
};

// A site body of about 200 bytes as JSON text; one in ten is "ready".
json SiteBody(std::uint64_t n) {
  return {{"name", "Site " + std::to_string(n)},
          {"status", n % 10 == 0 ? "ready" : "draft"},
          {"voltage_levels_kv", {110, 20}},
          {"location",
           {{"lat", static_cast<double>(n % 170) - 85.25},
            {"lon", static_cast<double>(n % 350) - 175.5}}},
          {"bays", n % 200},
          {"fault_level_ka", 31.5},
          {"meta",
           {{"owner", "team-" + std::to_string(n % 50)},
            {"region", "r" + std::to_string(n % 17)},
            {"tags", {"hv", "rural"}}}}};
}

std::string Id(const std::string& prefix, std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08llu", static_cast<unsigned long long>(n));
  return prefix + buf;
}

// One backend as the benchmark sees it: how to open its store (durable, or
// with the fast setting used only to build the 100k set), and its floor.
struct Target {
  std::string name;
  bool reads = true;              // whether the read phases run on this backend
  bool concurrent_floor = false;  // also measure the floor with o_.writers connections
  std::function<Result<std::unique_ptr<Store>>(bool fast)> open;
  std::function<Result<std::unique_ptr<Floor>>(int threads)> floor;
  std::function<Status()> after_build;  // may be empty
  std::string notes;
};

class Bench {
 public:
  Bench(Options o, std::shared_ptr<const domain::Platform> platform)
      : o_(std::move(o)), platform_(std::move(platform)) {
    // Built once, so no phase times the building of its input.
    for (std::uint64_t n = 0; n < kBodies; ++n) {
      bodies_.push_back(SiteBody(n));
      texts_.push_back(bodies_.back().dump());
    }
  }

  const std::vector<Row>& rows() const { return rows_; }
  bool failed() const { return failed_; }
  const std::vector<std::string>& notes() const { return notes_; }

  Result<std::unique_ptr<Store>> OpenUrl(const std::string& url) {
    return store::OpenStore(url, o_.dir, platform_, "sha256:bench");
  }

  void Note(const std::string& s) {
    notes_.push_back(s);
    std::cerr << "  " << s << "\n";
  }

  void Fail(const std::string& backend, const std::string& what, const Status& s) {
    failed_ = true;
    Row r;
    r.backend = backend;
    r.operation = what;
    r.m.error = s;
    r.latency = false;
    rows_.push_back(r);
    std::cerr << backend << ": " << what << " FAILED: " << s.ToString() << "\n";
  }

  void Add(Row r) {
    if (!r.m.error.ok()) failed_ = true;
    std::cerr << r.backend << ": " << r.operation << " x" << r.threads << ": " << r.m.ops
              << " ops, " << static_cast<long long>(r.m.OpsPerSecond()) << "/s, p50 " << r.m.p50_us
              << " us, p99 " << r.m.p99_us << " us"
              << (r.m.error.ok() ? "" : " FAILED: " + r.m.error.ToString()) << "\n";
    rows_.push_back(std::move(r));
  }

  void RunTarget(const Target& t) {
    std::cerr << "== " << t.name << "\n";
    if (!t.notes.empty()) Note(t.name + ": " + t.notes);
    ids_.clear();

    // The floor, first, on a quiet database.
    double floor_rate = 0;
    {
      Result<std::unique_ptr<Floor>> f = t.floor(1);
      if (!f.ok()) return Fail(t.name, "floor", f.status());
      Note(t.name + " floor: " + (*f)->Describe());
      Row r = MakeRow(t.name, "floor: INSERT per txn", 1, 0);
      r.m = Run(1, {o_.max_write_ops * 4, o_.seconds},
                [&](int th, std::uint64_t i) { return (*f)->Insert(th, texts_[i % kBodies]); });
      floor_rate = r.m.OpsPerSecond();
      Add(r);
    }
    if (t.concurrent_floor) {
      Result<std::unique_ptr<Floor>> f = t.floor(o_.writers);
      if (!f.ok()) return Fail(t.name, "floor", f.status());
      Row r = MakeRow(t.name, "floor: INSERT per txn", o_.writers, floor_rate);
      r.m = Run(o_.writers, {o_.max_write_ops * 4, o_.seconds},
                [&](int th, std::uint64_t i) { return (*f)->Insert(th, texts_[i % kBodies]); });
      r.note = "one connection per writer: what the server's own group commit gives";
      Add(r);
    }

    Result<std::unique_ptr<Store>> s = t.open(false);
    if (!s.ok()) return Fail(t.name, "open", s.status());
    std::unique_ptr<Store> st = std::move(s).value();
    store::WriteContext ctx;
    ctx.actor = "bench";
    ctx.correlation_id = "bench";

    // Versioned creates, one writer.
    std::vector<std::string> single;
    {
      Row r = MakeRow(t.name, "create", 1, floor_rate);
      r.m = Run(1, {o_.max_write_ops, o_.seconds}, [&](int, std::uint64_t i) {
        std::string id = Id("w1-", i);
        Result<store::Reference> ref =
            st->Create("site", "power.substation", bodies_[i % kBodies], ctx, id);
        if (!ref.ok()) return ref.status();
        single.push_back(id);
        return Status::Ok();
      });
      Add(r);
    }
    // Merge patches of those, one writer: each makes a new version.
    if (!single.empty()) {
      Row r = MakeRow(t.name, "patch (merge)", 1, floor_rate);
      r.m = Run(1, {o_.max_write_ops, o_.seconds}, [&](int, std::uint64_t i) {
        Pointer p("sites", "site", single[i % single.size()]);
        json patch = {{"bays", (i * 7) % 200},
                      {"meta", {{"owner", "team-" + std::to_string(i % 37)}}}};
        return st->Patch(p, store::PatchFormat::kMergePatch, patch, ctx).status();
      });
      r.note = "merge patch {bays, meta.owner} round-robin over the " +
               std::to_string(single.size()) + " refs just created";
      Add(r);
    }
    ids_.insert(ids_.end(), single.begin(), single.end());

    // Concurrent creates: what group commit buys.
    {
      Row r = MakeRow(t.name, "create", o_.writers, floor_rate);
      r.m = Run(o_.writers, {o_.max_write_ops, o_.seconds}, [&](int, std::uint64_t i) {
        std::string id = Id("wn-", i);
        Result<store::Reference> ref =
            st->Create("site", "power.substation", bodies_[i % kBodies], ctx, id);
        if (!ref.ok()) return ref.status();
        std::lock_guard<std::mutex> l(ids_mu_);
        ids_.push_back(id);
        return Status::Ok();
      });
      Add(r);
    }
    if (!t.reads) return;

    // The read set: fill the repo up to o_.refs references with the fast
    // setting (a build step, not a figure to compare), then reopen durable.
    st.reset();
    if (ids_.size() < o_.refs) {
      Result<std::unique_ptr<Store>> fast = t.open(true);
      if (!fast.ok()) return Fail(t.name, "open (fast, to build the read set)", fast.status());
      std::uint64_t need = o_.refs - ids_.size();
      Row r = MakeRow(t.name, "build read set: create, durability fast", o_.writers, 0);
      r.m = Run(o_.writers, {need, o_.build_seconds}, [&](int, std::uint64_t i) {
        std::string id = Id("r", i);
        Result<store::Reference> ref =
            (*fast)->Create("site", "power.substation", bodies_[i % kBodies], ctx, id);
        if (!ref.ok()) return ref.status();
        std::lock_guard<std::mutex> l(ids_mu_);
        ids_.push_back(id);
        return Status::Ok();
      });
      r.note = "not a target; fills the repo to " + std::to_string(ids_.size()) + " refs" +
               (ids_.size() < o_.refs ? " (stopped by --build-seconds)" : "");
      Add(r);
      if (!r.m.error.ok()) return;
    }
    if (t.after_build) {
      Status s = t.after_build();
      if (!s.ok()) return Fail(t.name, "after building the read set", s);
    }
    s = t.open(false);
    if (!s.ok()) return Fail(t.name, "reopen durable", s.status());
    st = std::move(s).value();
    RunReads(t.name, *st);
  }

 private:
  Row MakeRow(const std::string& backend, const std::string& op, int threads, double floor_rate) {
    Row r;
    r.backend = backend;
    r.operation = op;
    r.threads = threads;
    r.floor_ops_per_second = floor_rate;
    return r;
  }

  void RunReads(const std::string& backend, Store& st) {
    const std::size_t n = ids_.size();
    std::vector<Pointer> heads;
    std::vector<Pointer> attrs;
    heads.reserve(n);
    attrs.reserve(n);
    AttributePath owner = *AttributePath::Parse("meta.owner");
    for (const std::string& id : ids_) {
      heads.emplace_back("sites", "site", id);
      attrs.emplace_back("sites", "site", id, std::nullopt, owner);
    }
    std::string refs = std::to_string(n) + " refs";
    std::vector<Rng> rngs;
    for (int i = 0; i < std::max(o_.readers, 1); ++i)
      rngs.emplace_back(0x5eed + static_cast<std::uint64_t>(i));

    auto get = [&](int th, std::uint64_t) -> Status {
      const Pointer& p = heads[rngs[static_cast<std::size_t>(th)].Below(n)];
      return st.Get(p).status();
    };
    auto resolve = [&](int th, std::uint64_t) -> Status {
      const Pointer& p = attrs[rngs[static_cast<std::size_t>(th)].Below(n)];
      Result<store::JsonPtr> v = st.Resolve(p);
      if (!v.ok()) return v.status();
      if (!(*v)->is_string())
        return InternalError("resolve " + p.ToString() + " gave " + (*v)->dump());
      return Status::Ok();
    };
    for (int threads : {1, o_.readers}) {
      Row r = MakeRow(backend, "get (latest)", threads, 0);
      r.m = Run(threads, {o_.max_read_ops, o_.read_seconds}, get);
      r.note = "uniform over " + refs;
      Add(r);
      Row a = MakeRow(backend, "resolve @meta.owner", threads, 0);
      a.m = Run(threads, {o_.max_read_ops, o_.read_seconds}, resolve);
      a.note = "bver://sites/site/ID@meta.owner, uniform over " + refs;
      Add(a);
      if (o_.readers == 1) break;
    }

    // Filtered list: one page of 100 from a random cursor; 1 in 10 refs
    // match, so a page reads about 1,000 heads.
    std::vector<std::string> sorted = ids_;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t cursor_span = std::max<std::size_t>(1, sorted.size() * 9 / 10);
    store::Filter ready;
    ready.path = *AttributePath::Parse("status");
    ready.op = store::FilterOp::kEq;
    ready.value = std::make_shared<const json>("ready");
    std::uint64_t items = 0;
    std::mutex items_mu;
    for (int threads : {1, o_.readers}) {
      items = 0;
      Row r = MakeRow(backend, "list status=ready, page 100", threads, 0);
      r.m = Run(threads, {o_.max_read_ops, o_.read_seconds}, [&](int th, std::uint64_t) -> Status {
        store::ListQuery q;
        q.repo = "site";
        q.filters = {ready};
        q.limit = 100;
        q.cursor = sorted[rngs[static_cast<std::size_t>(th)].Below(cursor_span)];
        Result<store::ListPage> page = st.List(q);
        if (!page.ok()) return page.status();
        std::lock_guard<std::mutex> l(items_mu);
        items += page->items.size();
        return Status::Ok();
      });
      r.note = "pages/s; 10% match, random cursor over " + refs + "; " +
               std::to_string(r.m.ops ? items / r.m.ops : 0) + " items/page";
      Add(r);
      if (o_.readers == 1) break;
    }
  }

  // Body n is "ready" when n % 10 == 0; a multiple of 10 keeps that for n % kBodies.
  static constexpr std::uint64_t kBodies = 1000;

  Options o_;
  std::shared_ptr<const domain::Platform> platform_;
  std::vector<json> bodies_;        // SiteBody(0 .. kBodies-1)
  std::vector<std::string> texts_;  // their JSON text, for the floor
  std::vector<Row> rows_;
  std::vector<std::string> notes_;
  bool failed_ = false;
  std::mutex ids_mu_;
  std::vector<std::string> ids_;  // GUARDED_BY(ids_mu_) while a phase runs
};

// Runs one SQL statement on a fresh connection (for cluster settings).
Status PgExec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    return UnavailableError("cannot connect: " + msg);
  }
  PGresult* r = PQexec(c, sql.c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  std::string out = ok ? (PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "") : PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) return InternalError(sql + ": " + out);
  return Status::Ok();
}

std::string PgShow(const std::string& url, const std::string& setting) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, ("SHOW " + setting).c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) out = PQgetvalue(r, 0, 0);
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string MachineLine() {
  utsname u{};
  uname(&u);
  std::string cpu;
  std::istringstream info(Slurp("/proc/cpuinfo"));
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = Trim(line.substr(line.find(':') + 2));
      break;
    }
  }
  return std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs (" + cpu + "), Linux " + u.release +
         ", SQLite " + sqlite3_libversion();
}

std::string LoadAverage() { return Trim(Slurp("/proc/loadavg")); }

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

const Row* Find(const std::vector<Row>& rows, const std::string& backend, const std::string& op,
                int threads) {
  for (const Row& r : rows) {
    if (r.backend == backend && r.operation == op && r.threads == threads && r.m.ops > 0) return &r;
  }
  return nullptr;
}

// The targets for SQLite, durable, judged on this run.
std::string Targets(const std::vector<Row>& rows, const Options& o) {
  std::string out = "| target (SQLite, durable) | measured | met |\n|---|---|---|\n";
  auto ratio_line = [&](const std::string& what, const std::string& op, int threads,
                        double min_ratio, bool strictly) {
    const Row* r = Find(rows, "sqlite", op, threads);
    if (r == nullptr || r->floor_ops_per_second <= 0) {
      out += "| " + what + " | not measured | — |\n";
      return;
    }
    double x = r->m.OpsPerSecond() / r->floor_ops_per_second;
    bool met = strictly ? x > min_ratio : x >= min_ratio;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.0f/s = %.2f × floor (%.0f/s)", r->m.OpsPerSecond(), x,
                  r->floor_ops_per_second);
    out += "| " + what + " | " + buf + " | " + (met ? "yes" : "**no**") + " |\n";
  };
  auto rate_line = [&](const std::string& what, const std::string& op, double min_rate) {
    const Row* best = nullptr;
    for (int threads : {1, o.readers}) {
      const Row* r = Find(rows, "sqlite", op, threads);
      if (r != nullptr && (best == nullptr || r->m.OpsPerSecond() > best->m.OpsPerSecond()))
        best = r;
    }
    if (best == nullptr) {
      out += "| " + what + " | not measured | — |\n";
      return;
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.0f/s (%d thread%s)", best->m.OpsPerSecond(), best->threads,
                  best->threads == 1 ? "" : "s");
    out += "| " + what + " | " + buf + " | " +
           (best->m.OpsPerSecond() >= min_rate ? "yes" : "**no**") + " |\n";
  };
  ratio_line("1 writer, versioned creates ≥ 0.70 × floor", "create", 1, 0.70, false);
  ratio_line("1 writer, versioned patches ≥ 0.70 × floor", "patch (merge)", 1, 0.70, false);
  ratio_line(std::to_string(o.writers) + " writers, creates > 1.0 × floor", "create", o.writers,
             1.0, true);
  rate_line("get (latest) ≥ 200,000/s", "get (latest)", 200'000);
  rate_line("resolve at attribute level ≥ 200,000/s", "resolve @meta.owner", 200'000);
  return out;
}

int Usage(const char* argv0) {
  std::cerr << "usage: " << argv0
            << " [--refs N] [--seconds S] [--read-seconds S] [--build-seconds S] [--writers N]\n"
               "       [--readers N]"
               " [--backends sqlite,sqlite-fast,postgresql] [--json FILE] [--dir DIR] [--quick]\n";
  return 2;
}

int Main(int argc, char** argv) {
  Options o;
  std::string command = "store_bench";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    command += " " + a;
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) return "";
      command += " " + std::string(argv[i + 1]);
      return argv[++i];
    };
    try {
      if (a == "--refs") {
        o.refs = std::stoul(value());
      } else if (a == "--seconds") {
        o.seconds = std::stod(value());
      } else if (a == "--build-seconds") {
        o.build_seconds = std::stod(value());
      } else if (a == "--read-seconds") {
        o.read_seconds = std::stod(value());
      } else if (a == "--writers") {
        o.writers = std::stoi(value());
      } else if (a == "--readers") {
        o.readers = std::stoi(value());
      } else if (a == "--json") {
        o.json_path = value();
      } else if (a == "--dir") {
        o.dir = value();
      } else if (a == "--backends") {
        o.backends.clear();
        std::stringstream list(value());
        for (std::string b; std::getline(list, b, ',');) o.backends.push_back(b);
      } else if (a == "--quick") {
        // For profilers (callgrind runs ~50x slower): a small set, short phases.
        o.refs = 5'000;
        o.seconds = 1;
        o.read_seconds = 1;
        o.max_write_ops = 2'000;
        o.max_read_ops = 20'000;
      } else {
        return Usage(argv[0]);
      }
    } catch (const std::exception&) {
      return Usage(argv[0]);
    }
  }
  if (o.writers < 1 || o.readers < 1 || o.seconds <= 0 || o.read_seconds <= 0)
    return Usage(argv[0]);

  bool own_dir = o.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/bver-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::cerr << "cannot create a work folder under /tmp\n";
      return 1;
    }
    o.dir = tmpl;
  }
  fs::create_directories(o.dir);
  o.dir = fs::absolute(o.dir).string();

  Result<domain::Platform> compiled =
      domain::CompileFile(BVER_SOURCE_DIR "/examples/substation/bver.yaml");
  if (!compiled.ok()) {
    std::cerr << "cannot compile the substation example: " << compiled.status().ToString() << "\n";
    return 1;
  }
  auto platform = std::make_shared<const domain::Platform>(std::move(compiled).value());

  const std::string started = UtcNow();
  const std::string load_before = LoadAverage();
  Bench bench(o, platform);
  std::unique_ptr<testing::PgCluster> cluster;

  for (const std::string& name : o.backends) {
    Target t;
    t.name = name;
    if (name == "sqlite" || name == "sqlite-fast") {
      const bool fast = name == "sqlite-fast";
      fs::path dir = fs::path(o.dir) / name;
      fs::remove_all(dir);
      fs::create_directories(dir);
      std::string db = (dir / "bver.db").string();
      t.reads = !fast;
      t.open = [&bench, db, fast](bool build) {
        return bench.OpenUrl("sqlite:" + db + (fast || build ? "?durability=fast" : ""));
      };
      t.floor = [dir, fast](int threads) {
        return OpenSqliteFloor((dir / "floor.db").string(), !fast, threads);
      };
      t.notes =
          fast ? "store URL sqlite:PATH?durability=fast (synchronous=NORMAL); write phases only: "
                 "reads do not depend on durability"
               : "store URL sqlite:PATH (durability full: WAL, synchronous=FULL)";
    } else if (name == "postgresql") {
      if (!cluster) {
        std::cerr << "== starting a throwaway PostgreSQL cluster\n";
        Result<std::unique_ptr<testing::PgCluster>> c = testing::PgCluster::Start();
        if (!c.ok()) {
          bench.Fail(name, "start cluster", c.status());
          continue;
        }
        cluster = std::move(c).value();
      }
      Result<std::string> url = cluster->NewDatabase("bench");
      if (!url.ok()) {
        bench.Fail(name, "create database", url.status());
        continue;
      }
      std::string u = *url;
      // A bound on every statement, so that one slow query plan cannot hold
      // the whole run: the phase fails with a statement timeout instead.
      if (Status s = PgExec(u, "ALTER DATABASE bench SET statement_timeout = '20s'"); !s.ok()) {
        bench.Fail(name, "set statement_timeout", s);
        continue;
      }
      // The fast setting only builds the read set: synchronous_commit=off for
      // the database's new sessions (the store opens fresh connections).
      t.open = [&bench, u](bool build) -> Result<std::unique_ptr<Store>> {
        BVER_RETURN_IF_ERROR(
            PgExec(u, std::string("ALTER DATABASE bench ") +
                          (build ? "SET synchronous_commit = off" : "RESET synchronous_commit")));
        return bench.OpenUrl(u);
      };
      t.floor = [u](int threads) { return OpenPgFloor(u, threads); };
      // Fresh tables have no planner statistics until autovacuum gets to
      // them (a minute or more); a long-lived database has them. Without
      // them the filtered list plans a nested loop over every version row.
      t.after_build = [u] { return PgExec(u, "ANALYZE"); };
      t.concurrent_floor = true;
      t.notes = "PostgreSQL " + PgShow(u, "server_version") +
                " on a throwaway cluster (tests/support/pg_cluster), " +
                "127.0.0.1 TCP, defaults: fsync=" + PgShow(u, "fsync") +
                ", synchronous_commit=" + PgShow(u, "synchronous_commit") +
                ", shared_buffers=" + PgShow(u, "shared_buffers") +
                "; store pool of 4 connections (the URL default)";
    } else {
      std::cerr << "unknown backend \"" << name << "\"\n";
      return Usage(argv[0]);
    }
    bench.RunTarget(t);
  }
  cluster.reset();
  if (own_dir) {
    std::error_code ec;
    fs::remove_all(o.dir, ec);
  }

  std::cout << "## store_bench results\n\n"
            << "- command: `" << command << "`\n"
            << "- started: " << started << "; machine: " << MachineLine() << "\n"
            << "- load average before / after: " << load_before << " / " << LoadAverage() << "\n"
            << "- read set: " << o.refs
            << " references of sites/site (kind power.substation); phases bounded to " << o.seconds
            << " s (writes) and " << o.read_seconds << " s (reads)\n";
  for (const std::string& n : bench.notes()) std::cout << "- " << n << "\n";
  std::cout << "\n" << MarkdownTable(bench.rows());
  if (std::find(o.backends.begin(), o.backends.end(), "sqlite") != o.backends.end()) {
    std::cout << "\n" << Targets(bench.rows(), o);
  }
  if (!o.json_path.empty()) {
    std::ofstream out(o.json_path);
    out << JsonRows(bench.rows()) << "\n";
  }
  return bench.failed() ? 1 : 0;
}

}  // namespace
}  // namespace bver::bench

int main(int argc, char** argv) { return bver::bench::Main(argc, argv); }
