// Triggers through the real binary: `bver up` runs the trigger processor
// (first start at the end of the log, a failed start recorded with a
// trigger.failed event, GET /v1/triggers and /v1/triggers/fires), and
// `bver triggers list|fires|reset` read and move it afterwards
// (docs/triggers.md). Domain: tests/triggers/bver.yaml, whose plugins are
// not installed here, so every start fails with failed_precondition.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

class TriggersUpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_triggers_up_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(BVER_SOURCE_DIR "/tests/triggers/bver.yaml", dir_ / "bver.yaml");
  }
  void TearDown() override {
    if (server_.pid > 0) bver::testing::StopServer(server_, SIGTERM);
    fs::remove_all(dir_);
  }
  bver::testing::CommandResult Bver(std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", dir_.string()});
    return bver::testing::RunCommand(BVER_EXE, args, dir_);
  }
  json Get(const std::string& target) {
    bver::testing::HttpReply h = bver::testing::HttpRequestOnce(server_.port, "GET", target);
    EXPECT_EQ(h.status, 200) << target << ": " << h.body;
    return h.status == 200 ? json::parse(h.body) : json::object();
  }
  json Trigger(const json& list, const std::string& name) {
    for (const json& t : list["triggers"]) {
      if (t["name"] == name) return t;
    }
    return json::object();
  }

  fs::path dir_;
  bver::testing::ServerProcess server_;
};

TEST_F(TriggersUpTest, BverUpFiresAndTheCliShowsIt) {
  // Before any processor ran: no cursor, and this thing never fires.
  bver::testing::CommandResult r = Bver({"ref", "create", "other/thing", "--id", "before", "--data", "{}"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  r = Bver({"triggers", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(json::parse(r.out)["cursor"].is_null()) << r.out;

  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  json list = Get("/v1/triggers");
  EXPECT_EQ(list["running"], true);
  EXPECT_EQ(list["cursor"], 2) << list.dump();  // the end of the log at the first start
  EXPECT_EQ(Trigger(list, "on_thing")["on"], json({{"event_type", "ref.created"}, {"repo", "other/thing"}}));

  bver::testing::HttpReply h =
      bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/refs/other/thing?id=after", "{}");
  ASSERT_EQ(h.status, 201) << h.body;
  for (int i = 0; i < 500 && Trigger(list, "on_thing")["failed"] != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    list = Get("/v1/triggers");
  }
  EXPECT_EQ(Trigger(list, "on_thing")["failed"], 1) << list.dump();
  EXPECT_EQ(Trigger(list, "on_thing")["fired"], 0);
  json fires = Get("/v1/triggers/fires?trigger=on_thing");
  ASSERT_EQ(fires["fires"].size(), 1u) << fires.dump();
  EXPECT_EQ(fires["fires"][0]["object"], "bver://other/thing/after");
  EXPECT_EQ(fires["fires"][0]["state"], "failed");
  EXPECT_EQ(fires["fires"][0]["error"]["code"], "failed_precondition");
  json events = Get("/v1/events?from=1&limit=100")["events"];
  int failed_events = 0;
  for (const json& e : events) failed_events += e["event_type"] == "trigger.failed";
  EXPECT_EQ(failed_events, 1) << events.dump();
  h = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/triggers/fires?trigger=nope");
  EXPECT_EQ(h.status, 404) << h.body;
  ASSERT_EQ(bver::testing::StopServer(server_, SIGTERM), 0) << bver::testing::ReadFileForTest(server_.stderr_path);

  // The CLI, with the server stopped.
  r = Bver({"triggers", "list"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("on_thing  on event_type=ref.created repo=other/thing  -> jobs.missing.start  fired 0, "
                               "failed 1, suppressed 0"));
  EXPECT_THAT(r.out, HasSubstr("4 trigger(s); cursor: next event offset"));
  r = Bver({"triggers", "fires", "--trigger", "on_thing"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("bver://other/thing/after  failed  jobs.missing.start  failed_precondition: "));
  EXPECT_THAT(r.out, HasSubstr("1 firing(s)"));
  r = Bver({"triggers", "fires", "--trigger", "nope", "--json"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out)["error"]["code"], "not_found");
  r = Bver({"triggers", "reset", "--from", "999", "--json"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("past the end of the log"));
  r = Bver({"triggers", "reset"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;  // --from is required

  // bver up --no-triggers serves the rows but runs no processor: nothing fires.
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0", "--no-triggers"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  h = bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/refs/other/thing?id=unseen", "{}");
  ASSERT_EQ(h.status, 201) << h.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  list = Get("/v1/triggers");
  EXPECT_EQ(list["running"], false);
  EXPECT_EQ(Trigger(list, "on_thing")["failed"], 1) << list.dump();
  ASSERT_EQ(bver::testing::StopServer(server_, SIGTERM), 0);

  // Replay from the start: the two things created without a processor fire now; the other not again.
  r = Bver({"triggers", "reset", "--from", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out)["cursor"], 1);
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  for (int i = 0; i < 500 && Trigger(list, "on_thing")["failed"] != 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    list = Get("/v1/triggers");
  }
  EXPECT_EQ(Trigger(list, "on_thing")["failed"], 3) << list.dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  fires = Get("/v1/triggers/fires?trigger=on_thing");
  ASSERT_EQ(fires["fires"].size(), 3u) << fires.dump();
  ASSERT_EQ(bver::testing::StopServer(server_, SIGTERM), 0);
  r = Bver({"triggers", "fires", "--json", "--limit", "1"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out)["fires"].size(), 1u);
  EXPECT_TRUE(json::parse(r.out)["next_cursor"].is_string());
}

}  // namespace
