#include "src/api/metrics.h"

#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/runtime/broker.h"

namespace bver::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

runtime::CallRecord Record(std::string op, std::string transport, StatusCode code, std::int64_t us) {
  runtime::CallRecord r;
  r.operation = std::move(op);
  r.transport = std::move(transport);
  r.code = code;
  r.duration_us = us;
  return r;
}

// The value of the sample line that starts with `series` followed by a space, or -1.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

TEST(MetricsTest, CountsCallsByOperationTransportAndCode) {
  Metrics m;
  m.Observe(Record("refs.site.get", "http", StatusCode::kOk, 300));
  m.Observe(Record("refs.site.get", "http", StatusCode::kOk, 300));
  m.Observe(Record("refs.site.get", "http", StatusCode::kNotFound, 300));
  m.Observe(Record("refs.site.get", "mcp", StatusCode::kOk, 300));
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# HELP bver_operation_calls_total "));
  EXPECT_THAT(text, HasSubstr("# TYPE bver_operation_calls_total counter\n"));
  EXPECT_EQ(Sample(text, R"(bver_operation_calls_total{operation="refs.site.get",transport="http",code="ok"})"), 2);
  EXPECT_EQ(Sample(text, R"(bver_operation_calls_total{operation="refs.site.get",transport="http",code="not_found"})"),
            1);
  EXPECT_EQ(Sample(text, R"(bver_operation_calls_total{operation="refs.site.get",transport="mcp",code="ok"})"), 1);
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Metrics m;
  m.Observe(Record("op", "http", StatusCode::kOk, 400));        // 0.0004 s: first bucket
  m.Observe(Record("op", "http", StatusCode::kOk, 20'000));     // 0.02 s
  m.Observe(Record("op", "http", StatusCode::kOk, 60'000'000)); // 60 s: above every bound
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE bver_operation_duration_seconds histogram\n"));
  const std::string b = "bver_operation_duration_seconds_bucket{operation=\"op\",le=";
  EXPECT_EQ(Sample(text, b + "\"0.0005\"}"), 1);
  EXPECT_EQ(Sample(text, b + "\"0.01\"}"), 1);
  EXPECT_EQ(Sample(text, b + "\"0.025\"}"), 2);
  EXPECT_EQ(Sample(text, b + "\"10\"}"), 2);
  EXPECT_EQ(Sample(text, b + "\"+Inf\"}"), 3);
  EXPECT_EQ(Sample(text, "bver_operation_duration_seconds_count{operation=\"op\"}"), 3);
  EXPECT_DOUBLE_EQ(Sample(text, "bver_operation_duration_seconds_sum{operation=\"op\"}"), 60.0204);
  // Cumulative: never decreasing, in the order of the bounds.
  double last = -1;
  for (double le : Metrics::DurationBuckets()) {
    std::ostringstream bound;
    bound << le;
    double v = Sample(text, b + "\"" + bound.str() + "\"}");
    ASSERT_GE(v, 0) << "no bucket le=" << bound.str() << " in\n" << text;
    EXPECT_GE(v, last);
    last = v;
  }
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Metrics m;
  m.Observe(Record("a\"b\\c\nd", "http", StatusCode::kNotFound, 1));
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr(R"(operation="a\"b\\c\nd")"));
  // No raw newline inside a sample line: every line is a comment or a sample.
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    EXPECT_TRUE(line[0] == '#' || line.rfind("bver_", 0) == 0) << line;
  }
}

TEST(MetricsTest, HttpCountersAndGauges) {
  Metrics m;
  m.ObserveHttp("GET", 200, 0.002);
  m.ObserveHttp("GET", 200, 0.003);
  m.ObserveHttp("BREW", 405, 0.001);
  double depth = 7;
  m.SetGauge("bver_test_depth", "A test gauge\nwith a newline.", [&depth] { return depth; });
  m.SetGauge("bad name", "ignored", [] { return 1.0; });
  m.SetGauge("bver_operation_calls_total", "cannot shadow a built-in family", [] { return 1.0; });
  std::string text = m.Render();
  EXPECT_EQ(Sample(text, R"(bver_http_requests_total{method="GET",status="200"})"), 2);
  EXPECT_EQ(Sample(text, R"(bver_http_requests_total{method="other",status="405"})"), 1);
  EXPECT_EQ(Sample(text, R"(bver_http_request_duration_seconds_count{method="GET"})"), 2);
  EXPECT_THAT(text, HasSubstr("# HELP bver_test_depth A test gauge\\nwith a newline.\n# TYPE bver_test_depth gauge\n"));
  EXPECT_EQ(Sample(text, "bver_test_depth"), 7);
  depth = 9;
  EXPECT_EQ(Sample(m.Render(), "bver_test_depth"), 9);
  EXPECT_THAT(text, Not(HasSubstr("bad name")));
  EXPECT_THAT(text, Not(HasSubstr("cannot shadow")));
  EXPECT_GT(Sample(text, "bver_process_start_time_seconds"), 1.7e9);
  // Each family once, in name order.
  std::vector<std::string> types;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) types.push_back(line.substr(7, line.find(' ', 7) - 7));
  }
  EXPECT_TRUE(std::is_sorted(types.begin(), types.end()));
  EXPECT_EQ(std::adjacent_find(types.begin(), types.end()), types.end());
}

TEST(MetricsTest, LabelSetsAreBounded) {
  Metrics m;
  for (std::size_t i = 0; i < Metrics::kMaxSeries + 10; ++i) {
    m.Observe(Record("unknown." + std::to_string(i), "http", StatusCode::kNotFound, 1));
  }
  std::string text = m.Render();
  EXPECT_EQ(Sample(text, R"(bver_operation_calls_total{operation="_other",transport="_other",code="_other"})"), 10);
  EXPECT_EQ(Sample(text, R"(bver_operation_duration_seconds_count{operation="_other"})"), 10);
}

TEST(MetricsTest, ConcurrentObserversLoseNothing) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 1000; ++i) {
        m.Observe(Record("op" + std::to_string(i % 3), "http", StatusCode::kOk, i));
        m.ObserveHttp("POST", 201, 0.001);
        if (t == 0 && i % 100 == 0) (void)m.Render();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::string text = m.Render();
  double total = 0;
  for (int i = 0; i < 3; ++i) {
    total += Sample(text, "bver_operation_calls_total{operation=\"op" + std::to_string(i) +
                              "\",transport=\"http\",code=\"ok\"}");
  }
  EXPECT_EQ(total, 4000);
  EXPECT_EQ(Sample(text, R"(bver_http_requests_total{method="POST",status="201"})"), 4000);
}

}  // namespace
}  // namespace bver::api
