// The parts of bver doctor's checks that need no project: the disk
// thresholds, the clock against the store's newest event, timestamps, and the
// NATS probe against plain sockets that answer as a NATS server does, as
// something else does, or not at all. tests/doctor_cli_test.cc runs the
// whole command against real projects and a real nats-server.
#include "src/server/health.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

namespace bver::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t kMiB = 1ull << 20;

DiskSpace Space(std::uint64_t free_bytes, std::uint64_t total_bytes) {
  DiskSpace s;
  s.path = "/data";
  s.free_bytes = free_bytes;
  s.total_bytes = total_bytes;
  s.free_percent = 100.0 * static_cast<double>(free_bytes) / static_cast<double>(total_bytes);
  return s;
}

TEST(HealthDisk, ThresholdsByPercentAndBytes) {
  EXPECT_EQ(ClassifyDisk("disk.store", Space(50 * kGiB, 100 * kGiB)).status, HealthStatus::kOk);
  // Under 10 %, or under 1 GiB: warn.
  EXPECT_EQ(ClassifyDisk("disk.store", Space(9 * kGiB, 100 * kGiB)).status, HealthStatus::kWarn);
  EXPECT_EQ(ClassifyDisk("disk.store", Space(900 * kMiB, 2 * kGiB)).status, HealthStatus::kWarn);
  // Under 2 %, or under 100 MiB: fail.
  EXPECT_EQ(ClassifyDisk("disk.store", Space(1 * kGiB, 100 * kGiB)).status, HealthStatus::kFail);
  EXPECT_EQ(ClassifyDisk("disk.store", Space(90 * kMiB, 200 * kMiB)).status, HealthStatus::kFail);
  HealthCheck c = ClassifyDisk("disk.store", Space(90 * kMiB, 200 * kMiB));
  EXPECT_THAT(c.detail, HasSubstr("/data: 90.0 MiB free of 200.0 MiB (45.0 %)"));
  EXPECT_THAT(c.fix, HasSubstr("free space on the filesystem of /data"));
  nlohmann::json j = ToJson(c);
  EXPECT_EQ(j["status"], "fail");
  EXPECT_EQ(j["free_bytes"], 90 * kMiB);
  EXPECT_EQ(j["free_percent"], 45.0);
}

TEST(HealthDisk, AFolderNotYetCreatedIsMeasuredOnItsParent) {
  HealthCheck c = CheckDisk("disk.artifacts", "/tmp/bver-health-test-does-not-exist/artifacts");
  ASSERT_TRUE(c.disk) << c.detail;
  EXPECT_GT(c.disk->total_bytes, 0u);
  EXPECT_EQ(c.disk->path, "/tmp/bver-health-test-does-not-exist/artifacts");
}

TEST(HealthClock, BehindTheNewestEventFailsNamingTheDifference) {
  const std::int64_t now = 1'700'000'000'000'000;
  HealthCheck empty = CheckClock(std::nullopt, "", now, std::chrono::seconds(5));
  EXPECT_EQ(empty.status, HealthStatus::kOk) << empty.detail;

  HealthCheck close = CheckClock(now + 3'000'000, "t", now, std::chrono::seconds(5));
  EXPECT_EQ(close.status, HealthStatus::kOk) << "within the tolerance: " << close.detail;

  HealthCheck behind = CheckClock(now + (3 * 3600 + 120) * 1'000'000LL,
                                  "2023-11-15T01:15:20.000000Z", now, std::chrono::seconds(5));
  EXPECT_EQ(behind.status, HealthStatus::kFail);
  EXPECT_THAT(behind.detail,
              HasSubstr("3 h 2 min behind the store's newest event (2023-11-15T01:15:20.000000Z)"));
  EXPECT_FALSE(behind.fix.empty());

  HealthCheck ahead = CheckClock(now - 86400'000'000LL, "t", now, std::chrono::seconds(5));
  EXPECT_EQ(ahead.status, HealthStatus::kOk) << "a clock ahead of the store is fine";
}

TEST(HealthClock, ParsesTheStoresTimestamps) {
  EXPECT_EQ(*ParseUtcTimestamp("2023-11-14T22:13:20.000001Z"), 1'700'000'000'000'001);
  EXPECT_EQ(*ParseUtcTimestamp("2023-11-14T22:13:20Z"), 1'700'000'000'000'000);
  EXPECT_EQ(*ParseUtcTimestamp("2023-11-14T22:13:20.5+00:00"), 1'700'000'000'500'000);
  EXPECT_FALSE(ParseUtcTimestamp("2023-11-14 22:13:20Z").ok());
  EXPECT_FALSE(ParseUtcTimestamp("2023-11-14T22:13:20.Z").ok());
  EXPECT_FALSE(ParseUtcTimestamp("").ok());
}

TEST(HealthNats, UrlsAreShownWithoutTheirPassword) {
  EXPECT_EQ(WithoutUserInfo("nats://alice:s3cret@10.0.0.1:4222"), "nats://10.0.0.1:4222");
  EXPECT_EQ(WithoutUserInfo("nats://a:b@h1:1,nats://h2:2"), "nats://h1:1,nats://h2:2");
  EXPECT_EQ(WithoutUserInfo("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
}

// A loopback listener whose one accepted connection gets `greeting` (and is
// then held open until the test ends, as a server that says nothing more).
class FakeServer {
 public:
  explicit FakeServer(std::string greeting) : greeting_(std::move(greeting)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 4);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      if (!greeting_.empty()) (void)!::write(c, greeting_.data(), greeting_.size());
      while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ::close(c);
    });
  }
  ~FakeServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url(const std::string& userinfo = "") const {
    return "nats://" + userinfo + "127.0.0.1:" + std::to_string(port_);
  }

 private:
  std::string greeting_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(HealthNats, TheInfoLineMakesItOk) {
  FakeServer server(
      R"(INFO {"server_id":"X","version":"2.10.1","jetstream":true,"max_payload":1048576})"
      "\r\n");
  HealthCheck c = CheckNats(server.url("bob:pw@"), std::chrono::milliseconds(2000));
  EXPECT_EQ(c.status, HealthStatus::kOk) << c.detail;
  EXPECT_THAT(c.detail, HasSubstr("nats-server 2.10.1, JetStream on"));
  EXPECT_THAT(c.detail + c.facts["url"], Not(HasSubstr("pw")));
  EXPECT_EQ(c.facts["url"], server.url());
}

TEST(HealthNats, WithoutJetStreamItWarns) {
  FakeServer server("INFO {\"version\":\"2.9.0\"}\r\n");
  HealthCheck c = CheckNats(server.url(), std::chrono::milliseconds(2000));
  EXPECT_EQ(c.status, HealthStatus::kWarn) << c.detail;
  EXPECT_THAT(c.fix, HasSubstr("-js"));
}

TEST(HealthNats, SomethingElseOrSilenceFails) {
  FakeServer http("HTTP/1.1 400 Bad Request\r\n\r\n");
  HealthCheck c = CheckNats(http.url(), std::chrono::milliseconds(2000));
  EXPECT_EQ(c.status, HealthStatus::kFail);
  EXPECT_THAT(c.detail, HasSubstr("did not answer as NATS does"));

  FakeServer silent("");
  auto start = std::chrono::steady_clock::now();
  HealthCheck quiet = CheckNats(silent.url(), std::chrono::milliseconds(300));
  EXPECT_EQ(quiet.status, HealthStatus::kFail);
  EXPECT_THAT(quiet.detail, HasSubstr("no INFO line within 300 ms"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(HealthNats, AClosedPortFailsNamingTheUrl) {
  int port = 0;
  {
    FakeServer gone("");
    port = std::stoi(gone.url().substr(gone.url().rfind(':') + 1));
  }
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  HealthCheck c = CheckNats(url, std::chrono::milliseconds(1000));
  EXPECT_EQ(c.status, HealthStatus::kFail);
  EXPECT_THAT(c.detail, HasSubstr(url));
  EXPECT_THAT(c.fix, HasSubstr(url));
  EXPECT_EQ(CheckNats("nats://127.0.0.1:notaport", std::chrono::milliseconds(100)).status,
            HealthStatus::kFail);
}

}  // namespace
}  // namespace bver::server
