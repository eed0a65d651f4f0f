#include "src/api/metrics.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "bver/status.h"
#include "src/runtime/broker.h"

namespace bver::api {
namespace {

// From half a millisecond (a cached read) to ten seconds (the request timeout).
constexpr std::array<double, 14> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  5,     10};

constexpr std::string_view kOther = "_other";

struct Counter {
  std::atomic<std::uint64_t> value{0};
};

struct Histogram {
  // Per bucket (not cumulative; the last one is above every bound), summed when rendered.
  std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> buckets{};
  std::atomic<std::uint64_t> sum_us{0};

  void Add(std::int64_t micros) {
    if (micros < 0) micros = 0;
    double seconds = static_cast<double>(micros) / 1e6;
    std::size_t i = 0;
    while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
    buckets[i].fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(static_cast<std::uint64_t>(micros), std::memory_order_relaxed);
  }
};

// Label value escaping of the text format: backslash, double quote, newline.
void AppendEscaped(std::string* out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '"') {
      *out += "\\\"";
    } else if (c == '\n') {
      *out += "\\n";
    } else {
      out->push_back(c);
    }
  }
}

// HELP text escaping: backslash and newline.
std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// `name1="v1",name2="v2"` into *out (cleared first).
void LabelKey(std::string* out, std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  out->clear();
  for (const auto& [name, value] : labels) {
    if (!out->empty()) out->push_back(',');
    *out += name;
    *out += "=\"";
    AppendEscaped(out, value);
    out->push_back('"');
  }
}

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Plain decimals where they stay short ("0.0005", not "5e-04"), so bucket
  // bounds read as people write them; the shortest form otherwise.
  double a = std::fabs(v);
  bool fixed = a == 0 || (a >= 1e-6 && a < 1e15);
  auto [end, ec] = fixed ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                         : std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

bool ValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// One metric family: its series by rendered label set. Lookups of existing
// series take the shared lock only; a new series takes the exclusive lock.
template <typename Series>
class Family {
 public:
  // The series for `key` (a rendered label set); `other_key` once the family is full.
  Series& Get(const std::string& key, const std::string& other_key) {
    {
      std::shared_lock lock(mu_);
      auto it = series_.find(key);
      if (it != series_.end()) return *it->second;
    }
    std::unique_lock lock(mu_);
    const std::string& k = series_.size() < Metrics::kMaxSeries ? key : other_key;
    auto [it, inserted] = series_.try_emplace(k);
    if (inserted) it->second = std::make_unique<Series>();
    return *it->second;
  }

  template <typename Fn>
  void ForEach(Fn fn) const {
    std::shared_lock lock(mu_);
    for (const auto& [key, series] : series_) fn(key, *series);
  }

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<Series>> series_;  // guarded by mu_
};

void RenderHistogram(std::string* out, std::string_view name, const std::string& labels, const Histogram& h) {
  std::uint64_t total = 0;
  auto line = [&](std::string_view le, std::uint64_t n) {
    *out += name;
    *out += "_bucket{";
    *out += labels;
    if (!labels.empty()) out->push_back(',');
    *out += "le=\"";
    *out += le;
    *out += "\"} ";
    *out += std::to_string(n);
    out->push_back('\n');
  };
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    total += h.buckets[i].load(std::memory_order_relaxed);
    line(Number(kBuckets[i]), total);
  }
  total += h.buckets[kBuckets.size()].load(std::memory_order_relaxed);
  line("+Inf", total);
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out += std::string(name) + "_sum" + braces + " " +
          Number(static_cast<double>(h.sum_us.load(std::memory_order_relaxed)) / 1e6) + "\n";
  *out += std::string(name) + "_count" + braces + " " + std::to_string(total) + "\n";
}

std::string_view HttpMethodLabel(std::string_view m) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (m == known) return known;
  }
  return "other";
}

// Reused per thread so that counting an existing series allocates nothing.
thread_local std::string tls_key;

}  // namespace

struct Metrics::Impl {
  struct Gauge {
    std::string help;
    std::function<double()> value;
  };

  Family<Counter> calls;
  Family<Histogram> durations;
  Family<Counter> http_requests;
  Family<Histogram> http_durations;
  std::string calls_other, durations_other, http_other, http_durations_other;
  double start_time_seconds = 0;

  mutable std::mutex gauges_mu;
  std::map<std::string, Gauge> gauges;  // guarded by gauges_mu
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
  LabelKey(&impl_->calls_other, {{"operation", kOther}, {"transport", kOther}, {"code", kOther}});
  LabelKey(&impl_->durations_other, {{"operation", kOther}});
  LabelKey(&impl_->http_other, {{"method", kOther}, {"status", kOther}});
  LabelKey(&impl_->http_durations_other, {{"method", kOther}});
  impl_->start_time_seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Metrics::~Metrics() = default;

std::span<const double> Metrics::DurationBuckets() { return kBuckets; }

void Metrics::Observe(const runtime::CallRecord& record) {
  std::string& key = tls_key;
  LabelKey(&key, {{"operation", record.operation},
                  {"transport", record.transport},
                  {"code", StatusCodeName(record.code)}});
  impl_->calls.Get(key, impl_->calls_other).value.fetch_add(1, std::memory_order_relaxed);
  LabelKey(&key, {{"operation", record.operation}});
  impl_->durations.Get(key, impl_->durations_other).Add(record.duration_us);
}

void Metrics::ObserveHttp(std::string_view method, int status, double seconds) {
  std::string_view m = HttpMethodLabel(method);
  char status_text[16];
  auto [end, ec] = std::to_chars(status_text, status_text + sizeof status_text, status);
  std::string_view s = ec == std::errc() ? std::string_view(status_text, end - status_text) : kOther;
  std::string& key = tls_key;
  LabelKey(&key, {{"method", m}, {"status", s}});
  impl_->http_requests.Get(key, impl_->http_other).value.fetch_add(1, std::memory_order_relaxed);
  LabelKey(&key, {{"method", m}});
  double micros = std::isfinite(seconds) && seconds > 0 ? std::round(seconds * 1e6) : 0;
  impl_->http_durations.Get(key, impl_->http_durations_other).Add(static_cast<std::int64_t>(micros));
}

void Metrics::SetGauge(std::string name, std::string help, std::function<double()> value) {
  if (!ValidMetricName(name) || !value) return;
  std::lock_guard lock(impl_->gauges_mu);
  impl_->gauges[std::move(name)] = Impl::Gauge{std::move(help), std::move(value)};
}

std::string Metrics::Render() const {
  // Families in name order: bver_http_* < bver_operation_* < bver_process_*;
  // registered gauges are merged in by name.
  std::vector<std::pair<std::string, std::string>> families;  // name, text

  auto counter_family = [](std::string_view name, std::string_view help, const Family<Counter>& f) {
    std::string text = "# HELP " + std::string(name) + " " + EscapeHelp(help) + "\n# TYPE " + std::string(name) +
                       " counter\n";
    f.ForEach([&](const std::string& labels, const Counter& c) {
      text += std::string(name) + "{" + labels + "} " + std::to_string(c.value.load(std::memory_order_relaxed)) + "\n";
    });
    return text;
  };
  auto histogram_family = [](std::string_view name, std::string_view help, const Family<Histogram>& f) {
    std::string text = "# HELP " + std::string(name) + " " + EscapeHelp(help) + "\n# TYPE " + std::string(name) +
                       " histogram\n";
    f.ForEach([&](const std::string& labels, const Histogram& h) { RenderHistogram(&text, name, labels, h); });
    return text;
  };
  auto gauge_family = [](const std::string& name, const std::string& help, double v) {
    return "# HELP " + name + " " + EscapeHelp(help) + "\n# TYPE " + name + " gauge\n" + name + " " + Number(v) + "\n";
  };

  families.emplace_back("bver_http_request_duration_seconds",
                        histogram_family("bver_http_request_duration_seconds",
                                         "Time from a parsed HTTP request to its answer, by method.",
                                         impl_->http_durations));
  families.emplace_back("bver_http_requests_total",
                        counter_family("bver_http_requests_total", "HTTP answers by method and status.",
                                       impl_->http_requests));
  families.emplace_back("bver_operation_calls_total",
                        counter_family("bver_operation_calls_total",
                                       "Broker calls by operation, transport and status code.", impl_->calls));
  families.emplace_back("bver_operation_duration_seconds",
                        histogram_family("bver_operation_duration_seconds",
                                         "Time the broker took per call, by operation.", impl_->durations));
  families.emplace_back("bver_process_start_time_seconds",
                        gauge_family("bver_process_start_time_seconds",
                                     "When this server started, in seconds since the Unix epoch.",
                                     impl_->start_time_seconds));

  std::vector<std::pair<std::string, Impl::Gauge>> gauges;
  {
    std::lock_guard lock(impl_->gauges_mu);
    gauges.assign(impl_->gauges.begin(), impl_->gauges.end());
  }
  for (const auto& [name, g] : gauges) {
    bool taken = false;
    for (const auto& f : families) taken = taken || f.first == name;
    if (taken) continue;  // a gauge cannot shadow a built-in family
    families.emplace_back(name, gauge_family(name, g.help, g.value()));
  }

  std::sort(families.begin(), families.end());
  std::string out;
  for (const auto& f : families) out += f.second;
  return out;
}

}  // namespace bver::api
