// Metrics: counters, histograms and gauges of a running server, rendered in
// the Prometheus text exposition format (version 0.0.4) for GET /metrics.
//
//   bver_operation_calls_total{operation,transport,code}    counter, per broker call
//   bver_operation_duration_seconds{operation}              histogram, per broker call
//   bver_http_requests_total{method,status}                 counter, per HTTP answer
//   bver_http_request_duration_seconds{method}              histogram, per HTTP answer
//   bver_process_start_time_seconds                         gauge, when this object was made (server start)
//   gauges registered with SetGauge                         read when rendered
//
// Observe is meant for the broker's observer (runtime::Broker::Options) and
// ObserveHttp for the transport; both are called on every request, so they
// take a shared lock for the series lookup and bump atomics: no allocation
// once a series exists. Label sets are bounded: after kMaxSeries distinct
// series of one family, new label values are counted under "_other" (an
// unknown operation name comes from the caller and must not grow memory).
//
// Thread safety: every method may be called from any number of threads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace bver::runtime {
struct CallRecord;
}

namespace bver::api {

class Metrics {
 public:
  // Most distinct label sets per family; more are folded into "_other".
  static constexpr std::size_t kMaxSeries = 4096;

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts one broker call (its operation, transport, status code and duration).
  void Observe(const runtime::CallRecord& record);
  // Counts one HTTP answer. Methods other than the standard ones count as "other".
  void ObserveHttp(std::string_view method, int status, double seconds);

  // Registers (or replaces) a gauge; `value` is called by Render, from the
  // rendering thread, and must be cheap and thread-safe. `name` must be a
  // valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*); an invalid one is ignored.
  void SetGauge(std::string name, std::string help, std::function<double()> value);

  // Every series in the text exposition format, families sorted by name.
  std::string Render() const;

  // The upper bounds (seconds) of the duration histograms' buckets, ascending; +Inf is implied.
  static std::span<const double> DurationBuckets();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bver::api
