// The event log benchmark of issue 6 (docs/PERFORMANCE.md "Events (issue
// 6)"), on SQLite (WAL, synchronous FULL: what `bver up` uses):
//
//   append     events appended per second (Store::AppendEvent: envelope,
//              offset and commit; 8 threads sharing group commits), beside
//              the floor: one plain durable INSERT of the same JSON text
//   deliver    events delivered to a durable consumer per second (fetch 500,
//              ack 500) out of a filled log, beside a plain SELECT of the
//              same rows from the same file (the floor of any reader)
//   latency    append -> delivery, end to end, p50 and p99: a producer paced
//              at 200 events/s, a consumer long-polling (fetch with wait),
//              and the SSE path (read + wait on the commit signal)
//   replay     a reader from offset 1 over 1M events (no filter, and a
//              filter passing 1%), beside the plain SELECT
//
//   events_bench [--dir D] [--replay N] [--seconds S]
// Run by scripts/bench_events.sh.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "bench/floor.h"
#include "bench/harness.h"
#include "src/core/uuid.h"
#include "src/domain/compiler.h"
#include "src/events/subscriptions.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "src/store/store.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace bver;

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "events_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what, r.status());
  return std::move(r).value();
}

struct Opened {
  std::unique_ptr<store::Store> store;
};

Opened Open(const fs::path& dir) {
  fs::create_directories(dir);
  auto platform = std::make_shared<const domain::Platform>(
      Must(domain::CompileFile(BVER_SOURCE_DIR "/examples/substation/bver.yaml"), "compile"));
  store::sqlite::SqliteOptions o;
  o.path = (dir / "bver.db").string();
  auto backend = Must(store::sqlite::OpenSqlite(o), "open sqlite");
  Opened out;
  out.store = Must(store::Store::Open(platform, std::move(backend), {"sha256:bench", store::SystemClockMicros}), "open store");
  return out;
}

json Payload(std::uint64_t i) {
  return {{"seq", i}, {"sent_ns", Clock::now().time_since_epoch().count()}, {"note", "a telemetry-sized payload"}};
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// Fills the log with `n` events fast: 5000 per transaction, straight rows
// in the store's envelope (what AppendEvent writes, without its per-event
// commit), 1% of them on channel "audit" for the filtered replay.
void Fill(store::Store& s, std::uint64_t n) {
  const std::uint64_t per_txn = 5000;
  for (std::uint64_t done = 0; done < n; done += per_txn) {
    Status st = s.backend().WriteTxn([&](store::Txn& t) -> Status {
      BVER_ASSIGN_OR_RETURN(std::uint64_t next, t.NextEventOffset());
      for (std::uint64_t k = 0; k < per_txn && done + k < n; ++k) {
        std::uint64_t off = next + k;
        std::string id = core::NewUuidV7();
        json env = {{"event_id", id},
                    {"envelope_version", 1},
                    {"event_type", "bench.tick"},
                    {"channel", off % 100 == 0 ? "audit" : "control"},
                    {"ts_utc", "2026-11-22T00:00:00Z"},
                    {"object_pointer", nullptr},
                    {"subject", "bench"},
                    {"payload", Payload(off)},
                    {"correlation_id", "bench"},
                    {"causation_id", ""},
                    {"manifest_fingerprint", "sha256:bench"},
                    {"partition_key", "bench"},
                    {"offset", off}};
        BVER_RETURN_IF_ERROR(t.AppendEvent(off, id, env.dump()));
      }
      return Status::Ok();
    });
    if (!st.ok()) Die("fill", st);
  }
}

// The floor of any reader: the rows of the events table, in offset order,
// straight from SQLite on its own connection: the text only, or the text
// parsed as JSON (what any reader of envelopes must at least do).
double ScanFloor(const fs::path& db, bool parse, std::uint64_t* rows) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) std::exit(1);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, "SELECT offset, envelope FROM events WHERE offset >= ?1 ORDER BY offset LIMIT 1000", -1, &st,
                     nullptr);
  auto start = Clock::now();
  std::uint64_t next = 1, n = 0;
  for (;;) {
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(next));
    std::uint64_t page = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      next = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)) + 1;
      const char* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
      if (parse && json::parse(text, nullptr, false).is_discarded()) std::exit(1);
      ++page;
    }
    sqlite3_reset(st);
    n += page;
    if (page == 0) break;
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(st);
  sqlite3_close(h);
  *rows = n;
  return static_cast<double>(n) / secs;
}

void Append(const fs::path& dir, double seconds) {
  Opened o = Open(dir / "append");
  store::WriteContext ctx;
  ctx.actor = "bench";
  ctx.correlation_id = "bench";
  const int threads = 8;
  bench::Measurement m = bench::Run(threads, {1u << 30, seconds}, [&](int, std::uint64_t i) -> Status {
    return o.store->AppendEvent("control", "bench.tick", "bench", Payload(i), ctx).status();
  });
  if (!m.error.ok()) Die("append", m.error);
  // One writer: SQLite has one, and concurrent floor writers only wait on its lock.
  auto floor = Must(bench::OpenSqliteFloor((dir / "floor.db").string(), true, 1), "floor");
  std::string text = Payload(0).dump();
  bench::Measurement f = bench::Run(1, {1u << 30, seconds}, [&](int t, std::uint64_t) { return floor->Insert(t, text); });
  if (!f.error.ok()) Die("floor", f.error);
  std::printf("append   %8.0f events/s (p50 %.2f ms, p99 %.2f ms, %d threads, group commit)   floor (1 INSERT per commit) %8.0f inserts/s   ratio %.2f\n",
              m.OpsPerSecond(), m.p50_us / 1000, m.p99_us / 1000, threads, f.OpsPerSecond(),
              m.OpsPerSecond() / f.OpsPerSecond());
}

void Deliver(const fs::path& dir, std::uint64_t n) {
  Opened o = Open(dir / "deliver");
  Fill(*o.store, n);
  events::Subscriptions subs(o.store->backend(), o.store->backend());
  Must(subs.CreateConsumer({{"name", "bench"}, {"from", 1}, {"max_ack_pending", 10000}}), "consumer");
  auto start = Clock::now();
  std::uint64_t got = 0;
  for (;;) {
    json f = Must(subs.Fetch("bench", 500, 0), "fetch");
    if (f["events"].empty()) break;
    std::vector<std::uint64_t> offsets;
    for (const json& d : f["events"]) offsets.push_back(d["offset"].get<std::uint64_t>());
    got += offsets.size();
    Must(subs.Ack("bench", offsets), "ack");
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::uint64_t rows = 0;
  double floor = ScanFloor(dir / "deliver" / "bver.db", true, &rows);
  std::printf("deliver  %8.0f events/s (durable consumer, fetch 500 + ack, %llu events)   floor (SELECT + JSON parse) %8.0f rows/s   ratio %.3f\n",
              static_cast<double>(got) / secs, static_cast<unsigned long long>(got), floor,
              static_cast<double>(got) / secs / floor);
}

void Latency(const fs::path& dir, double seconds) {
  Opened o = Open(dir / "latency");
  events::Subscriptions subs(o.store->backend(), o.store->backend());
  Must(subs.CreateConsumer({{"name", "lat"}}), "consumer");
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<double> durable_ms, stream_ms;
  auto record = [&](std::vector<double>& into, const json& env) {
    std::int64_t sent = env["payload"]["sent_ns"].get<std::int64_t>();
    double ms = static_cast<double>(Clock::now().time_since_epoch().count() - sent) / 1e6;
    std::lock_guard<std::mutex> lock(mu);
    into.push_back(ms);
  };
  std::uint64_t first = Must(o.store->backend().LastEventOffset(), "end") + 1;
  // The durable consumer: long-polling fetch, ack.
  std::thread durable([&] {
    while (!stop.load()) {
      json f = Must(subs.Fetch("lat", 100, 200), "fetch");
      std::vector<std::uint64_t> offsets;
      for (const json& d : f["events"]) {
        record(durable_ms, d["event"]);
        offsets.push_back(d["offset"].get<std::uint64_t>());
      }
      if (!offsets.empty()) Must(subs.Ack("lat", offsets), "ack");
    }
  });
  // The SSE path: read after the cursor, sleep on the commit signal.
  std::thread stream([&] {
    std::uint64_t next = first;
    while (!stop.load()) {
      std::uint64_t seen = o.store->backend().commit_seq();
      events::Subscriptions::Page page = Must(subs.ReadPage(next, {}, 256), "read");
      for (const store::Event& e : page.events) record(stream_ms, *e.envelope);
      bool idle = page.next_offset == next;
      next = page.next_offset;
      if (idle) o.store->backend().WaitForCommit(seen, std::chrono::milliseconds(250));
    }
  });
  store::WriteContext ctx;
  ctx.actor = "bench";
  auto start = Clock::now();
  std::uint64_t sent = 0;
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    Must(o.store->AppendEvent("control", "bench.tick", "bench", Payload(sent++), ctx), "append");
    std::this_thread::sleep_until(start + std::chrono::microseconds(5000 * sent));  // 200/s
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  durable.join();
  stream.join();
  std::printf("latency  durable consumer p50 %.2f ms p99 %.2f ms (%zu events)   stream p50 %.2f ms p99 %.2f ms (%zu events)   paced 200/s\n",
              Percentile(durable_ms, 0.5), Percentile(durable_ms, 0.99), durable_ms.size(), Percentile(stream_ms, 0.5),
              Percentile(stream_ms, 0.99), stream_ms.size());
}

void Replay(const fs::path& dir, std::uint64_t n) {
  Opened o = Open(dir / "replay");
  auto fill_start = Clock::now();
  Fill(*o.store, n);
  double fill_secs = std::chrono::duration<double>(Clock::now() - fill_start).count();
  events::Subscriptions::Options opts;
  opts.scan_budget = 1000000;
  events::Subscriptions subs(o.store->backend(), o.store->backend(), opts);
  for (const auto& [label, filter] : {std::pair<const char*, events::EventFilter>{"all", {}},
                                      std::pair<const char*, events::EventFilter>{"1% (channel audit)", {{"audit"}, {}, ""}}}) {
    auto start = Clock::now();
    std::uint64_t next = 1, got = 0;
    for (;;) {
      events::Subscriptions::Page page = Must(subs.ReadPage(next, filter, 1000), "read");
      got += page.events.size();
      std::uint64_t after = page.next_offset;
      if (after == next) break;
      next = after;
    }
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::uint64_t rows = 0;
    double raw = ScanFloor(dir / "replay" / "bver.db", false, &rows);
    double parsed = ScanFloor(dir / "replay" / "bver.db", true, &rows);
    double rate = static_cast<double>(next - 1) / secs;
    std::printf("replay   %-20s %8.0f events scanned/s (%llu scanned, %llu passed, %.1f s)   floor SELECT %8.0f rows/s (ratio %.3f)   SELECT + JSON parse %8.0f rows/s (ratio %.2f)\n",
                label, rate, static_cast<unsigned long long>(next - 1), static_cast<unsigned long long>(got), secs, raw,
                rate / raw, parsed, rate / parsed);
  }
  std::printf("replay   (filled %llu events in %.1f s)\n", static_cast<unsigned long long>(n), fill_secs);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = fs::temp_directory_path() / "bver_events_bench";
  std::uint64_t replay = 1000000;
  std::uint64_t deliver = 200000;
  double seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    else if (a == "--replay") replay = std::stoull(argv[i + 1]);
    else if (a == "--deliver") deliver = std::stoull(argv[i + 1]);
    else if (a == "--seconds") seconds = std::stod(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: events_bench [--dir D] [--replay N] [--deliver N] [--seconds S]\n");
      return 2;
    }
  }
  fs::remove_all(dir);
  Append(dir, seconds);
  Deliver(dir, deliver);
  Latency(dir, seconds);
  Replay(dir, replay);
  fs::remove_all(dir);
  return 0;
}
