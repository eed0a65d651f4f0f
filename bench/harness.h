// A small benchmark harness: runs one operation from several threads,
// bounded both in count and in time, and records the latency of every call.
//
// Why not Google Benchmark: the store benchmark's phases share state across
// each other (a phase writes what the next one reads, the floor of a backend
// must come from the same run as its store figures), its write phases are
// bound by fsync rather than by CPU, and it prints one table of ratios. A
// plain loop with explicit bounds says that more directly than fixtures.
//
// Thread safety: Run() starts and joins its own threads; `op` must be safe to
// call from all of them at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bver/status.h"

namespace bver::bench {

struct Limits {
  std::uint64_t max_ops = 0;  // stop after this many calls in total
  double max_seconds = 0;     // or after this long, whichever comes first
};

struct Measurement {
  std::uint64_t ops = 0;  // calls that succeeded
  double seconds = 0;     // wall time of the whole phase
  double p50_us = 0;
  double p99_us = 0;
  double cpu_seconds = 0;  // this process, user + system, during the phase
  Status error;            // the first failure; the phase stopped there

  double OpsPerSecond() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
};

// Calls op(thread, i) from `threads` threads, where i = 0, 1, 2, ... is
// shared by all threads (each i is used once), until limits.max_ops calls
// have been started or limits.max_seconds have passed. A failing call stops
// every thread.
Measurement Run(int threads, const Limits& limits,
                const std::function<Status(int thread, std::uint64_t i)>& op);

// A fast per-thread random number generator (splitmix64); not for secrets.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next();
  // Uniform in [0, n); n > 0.
  std::uint64_t Below(std::uint64_t n) { return Next() % n; }

 private:
  std::uint64_t state_;
};

// One row of the report.
struct Row {
  std::string backend;    // "sqlite", "sqlite-fast", "postgresql"
  std::string operation;  // "floor: INSERT per txn", "create", ...
  int threads = 1;
  Measurement m;
  double floor_ops_per_second = 0;  // of the same backend, same run; 0: no ratio
  bool latency = true;              // whether p50/p99 mean something for this row
  std::string note;
};

// The rows as a GitHub markdown table.
std::string MarkdownTable(const std::vector<Row>& rows);
// The rows as a JSON array (one object per row).
std::string JsonRows(const std::vector<Row>& rows);

}  // namespace bver::bench
