#include "bench/harness.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace bver::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

double Percentile(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// 12345.6 -> "12,346"
std::string Grouped(double v) {
  std::string digits = Fixed(v, 0);
  std::string out;
  int n = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it, ++n) {
    if (n > 0 && n % 3 == 0 && *it != '-') out.push_back(',');
    out.push_back(*it);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string Micros(double us) {
  if (us <= 0) return "";
  if (us < 10) return Fixed(us, 1);
  return Grouped(us);
}

}  // namespace

std::uint64_t Rng::Next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Measurement Run(int threads, const Limits& limits,
                const std::function<Status(int thread, std::uint64_t i)>& op) {
  threads = std::max(1, threads);
  std::atomic<std::uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  Status first_error;  // GUARDED_BY(mu)
  std::vector<std::vector<float>> latencies(static_cast<std::size_t>(threads));
  const double cpu_start = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(limits.max_seconds));

  auto worker = [&](int t) {
    std::vector<float>& lat = latencies[static_cast<std::size_t>(t)];
    lat.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(limits.max_ops, 1u << 20)) /
                static_cast<std::size_t>(threads));
    while (!stop.load(std::memory_order_relaxed)) {
      std::uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= limits.max_ops) break;
      Clock::time_point a = Clock::now();
      if (a >= deadline) break;
      Status s = op(t, i);
      Clock::time_point b = Clock::now();
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (first_error.ok()) first_error = s;
        stop = true;
        break;
      }
      lat.push_back(std::chrono::duration<float, std::micro>(b - a).count());
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (std::thread& th : pool) th.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu_seconds = ProcessCpuSeconds() - cpu_start;

  std::vector<float> all;
  for (const std::vector<float>& l : latencies) all.insert(all.end(), l.begin(), l.end());
  Measurement m;
  m.ops = all.size();
  m.seconds = seconds;
  m.cpu_seconds = cpu_seconds;
  m.p50_us = Percentile(all, 0.50);
  m.p99_us = Percentile(all, 0.99);
  m.error = first_error;
  return m;
}

std::string MarkdownTable(const std::vector<Row>& rows) {
  std::string out =
      "| backend | operation | threads | ops | ops/s | p50 µs | p99 µs | × floor | cpu % | note |\n"
      "|---|---|--:|--:|--:|--:|--:|--:|--:|---|\n";
  for (const Row& r : rows) {
    std::string ratio;
    if (r.floor_ops_per_second > 0 && r.m.ops > 0)
      ratio = Fixed(r.m.OpsPerSecond() / r.floor_ops_per_second, 2);
    std::string note = r.note;
    if (!r.m.error.ok()) {
      if (!note.empty()) note += "; ";
      note += "FAILED: " + r.m.error.ToString();
    }
    for (char& c : note) {
      if (c == '|' || c == '\n') c = ' ';
    }
    out += "| " + r.backend + " | " + r.operation + " | " + std::to_string(r.threads) + " | " +
           Grouped(static_cast<double>(r.m.ops)) + " | " + Grouped(r.m.OpsPerSecond()) + " | " +
           (r.latency ? Micros(r.m.p50_us) : "") + " | " + (r.latency ? Micros(r.m.p99_us) : "") +
           " | " + ratio + " | " +
           (r.m.seconds > 0 ? Fixed(100 * r.m.cpu_seconds / r.m.seconds, 0) : "") + " | " + note +
           " |\n";
  }
  return out;
}

std::string JsonRows(const std::vector<Row>& rows) {
  nlohmann::json a = nlohmann::json::array();
  for (const Row& r : rows) {
    nlohmann::json o = {{"backend", r.backend},           {"operation", r.operation},
                        {"threads", r.threads},           {"ops", r.m.ops},
                        {"seconds", r.m.seconds},         {"ops_per_second", r.m.OpsPerSecond()},
                        {"cpu_seconds", r.m.cpu_seconds}, {"note", r.note}};
    if (r.latency) {
      o["p50_us"] = r.m.p50_us;
      o["p99_us"] = r.m.p99_us;
    }
    if (r.floor_ops_per_second > 0) {
      o["floor_ops_per_second"] = r.floor_ops_per_second;
      o["ratio_to_floor"] = r.m.OpsPerSecond() / r.floor_ops_per_second;
    }
    if (!r.m.error.ok()) o["error"] = r.m.error.ToString();
    a.push_back(std::move(o));
  }
  return a.dump(2);
}

}  // namespace bver::bench
