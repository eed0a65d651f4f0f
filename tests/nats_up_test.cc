// `bver up --nats-url` end to end: the real binary with a real nats-server
// (tests/support/nats_server.h). Writes through REST reach the JetStream
// stream with Nats-Msg-Id = event_id, /metrics shows the relay, and an
// unreachable NATS leaves bver up serving and stopping as usual.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include "tests/support/nats_server.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

namespace fs = std::filesystem;
using bver::testing::CommandResult;
using bver::testing::RunCommand;
using nlohmann::json;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

class NatsUpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_nats_up_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir_ / "bver.yaml");
    ::unsetenv("BVER_NATS_URL");
  }
  void TearDown() override {
    if (server_.pid > 0) bver::testing::StopServer(server_, SIGKILL);
    bver::testing::StopNatsServer(nats_, SIGKILL);
    ::unsetenv("BVER_NATS_URL");
    fs::remove_all(dir_);
  }
  CommandResult Curl(std::vector<std::string> args) {
    args.insert(args.begin(), {"-sS", "--max-time", "30"});
    return RunCommand("/usr/bin/curl", args, dir_);
  }
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server_.port) + path; }
  std::string Metrics() { return Curl({Url("/metrics")}).out; }
  // The value of an unlabelled gauge in a /metrics page; -1 when absent.
  static long Gauge(const std::string& page, const std::string& name) {
    std::size_t at = page.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stol(page.substr(at + name.size() + 2));
  }

  fs::path dir_;
  bver::testing::ServerProcess server_;
  bver::testing::NatsServer nats_;
};

TEST_F(NatsUpTest, WritesReachTheStreamAndMetricsShowTheRelay) {
  std::string error;
  nats_ = bver::testing::StartNatsServer(dir_ / "nats", 0, &error);
  ASSERT_GT(nats_.pid, 0) << error;
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0", "--nats-url", nats_.url()});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);

  CommandResult created = Curl({"-X", "POST", "-H", "Content-Type: application/json", "-d",
                                R"({"name":"Alpha","bays":4})", Url("/v1/refs/sites/site?kind=power.substation")});
  ASSERT_EQ(created.code, 0) << created.err;
  json ref = json::parse(created.out, nullptr, false);
  ASSERT_TRUE(ref.contains("id")) << created.out;
  CommandResult patched = Curl({"-X", "PATCH", "-H", "Content-Type: application/json", "-d", R"({"bays":5})",
                                Url("/v1/refs/sites/site/" + ref["id"].get<std::string>())});
  ASSERT_EQ(patched.code, 0) << patched.err;

  // The relay catches up: its cursor (from /metrics) stops moving and the
  // stream holds that many messages. Triggers and orchestrators of the
  // example may add control events of their own beside the two writes.
  long cursor = -1, stable_rounds = 0;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline && stable_rounds < 10) {
    long now = Gauge(Metrics(), "bver_nats_relay_cursor");
    stable_rounds = now == cursor && now >= 2 ? stable_rounds + 1 : 0;
    cursor = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(cursor, 2) << bver::testing::ReadFileForTest(server_.stderr_path);
  std::string metrics = Metrics();
  EXPECT_EQ(Gauge(metrics, "bver_nats_relay_connected"), 1);
  EXPECT_EQ(Gauge(metrics, "bver_nats_relay_published"), cursor);

  // Every event once, in offset order, on <prefix>.<channel>, with its id.
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_.url().c_str()), NATS_OK);
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  jsStreamInfo* si = nullptr;
  ASSERT_EQ(js_GetStreamInfo(&si, js, "BVER", nullptr, nullptr), NATS_OK);
  EXPECT_EQ(static_cast<long>(si->State.Msgs), cursor);
  jsStreamInfo_Destroy(si);
  std::vector<json> got;
  for (long seq = 1; seq <= cursor; ++seq) {
    natsMsg* m = nullptr;
    ASSERT_EQ(js_GetMsg(&m, js, "BVER", static_cast<std::uint64_t>(seq), nullptr, nullptr), NATS_OK);
    json env = json::parse(std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))));
    EXPECT_EQ(natsMsg_GetSubject(m), "bver.events." + env["channel"].get<std::string>());
    const char* id = nullptr;
    ASSERT_EQ(natsMsgHeader_Get(m, "Nats-Msg-Id", &id), NATS_OK);
    EXPECT_EQ(env["event_id"], id);
    EXPECT_EQ(env["offset"], seq);
    got.push_back(env);
    natsMsg_Destroy(m);
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  // The two writes are there, on the traffic channel.
  std::vector<std::string> traffic;
  for (const json& e : got) {
    if (e["channel"] == "traffic") traffic.push_back(e["event_type"]);
  }
  EXPECT_EQ(traffic, (std::vector<std::string>{"ref.created", "ref.patched"}));
  EXPECT_THAT(bver::testing::ReadFileForTest(server_.stderr_path), HasSubstr("nats relay: connected to " + nats_.url()));
  EXPECT_EQ(bver::testing::StopServer(server_, SIGTERM), 0);
}

TEST_F(NatsUpTest, UnreachableNatsFromTheEnvironmentLeavesUpServingAndStoppable) {
  std::string url = "nats://127.0.0.1:" + std::to_string(bver::testing::FreeLoopbackPort());
  ::setenv("BVER_NATS_URL", url.c_str(), 1);
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  CommandResult created = Curl({"-X", "POST", "-H", "Content-Type: application/json", "-d",
                                R"({"name":"Alpha","bays":4})", Url("/v1/refs/sites/site?kind=power.substation")});
  EXPECT_THAT(created.out, HasSubstr("\"id\""));
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline &&
         bver::testing::ReadFileForTest(server_.stderr_path).find("cannot connect") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("bver_nats_relay_connected 0"));
  EXPECT_THAT(metrics, HasSubstr("bver_nats_relay_cursor 0"));
  EXPECT_THAT(bver::testing::ReadFileForTest(server_.stderr_path), HasSubstr("cannot connect to " + url));
  auto t0 = Clock::now();
  EXPECT_EQ(bver::testing::StopServer(server_, SIGTERM), 0);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
}

TEST_F(NatsUpTest, BadStreamNameStopsUpAtStart) {
  CommandResult r = RunCommand(BVER_EXE, {"-C", dir_.string(), "up", "--listen", "127.0.0.1:0", "--nats-url",
                                          "nats://127.0.0.1:4222", "--nats-stream", "a.b"},
                               dir_);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("stream name 'a.b'"));
}

}  // namespace
