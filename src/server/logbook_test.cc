// The structured log: records are valid JSON whatever the text holds, the
// levels filter, the readable form, rotation, and the transition records
// made from event envelopes.
#include "src/server/logbook.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/runtime/broker.h"
#include "tests/support/store_backends.h"

namespace bver::server {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::vector<json> Records(const fs::path& file) {
  std::ifstream in(file);
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));  // throws (fails the test) on a bad line
  return out;
}

class LogbookTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = bver::testing::FreshTestDir("bver_logbook"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(LogbookTest, RecordsAreJsonWhateverTheyHoldAndLevelsFilter) {
  std::ostringstream terminal;
  LogOptions o;
  o.path = (dir_ / "logs" / "bver.jsonl").string();
  o.terminal = &terminal;
  o.terminal_level = LogLevel::kWarn;
  auto log = Logbook::Open(o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  (*log)->Log(LogLevel::kDebug, "op", "not written", "", nullptr);
  (*log)->Log(LogLevel::kInfo, "op", "quote \" backslash \\ newline \n tab \t bell \x07", "c-1", json{{"n", 3}});
  runtime::CallRecord call;
  call.operation = "refs.person.create";
  call.transport = "http";
  call.subject = "key:\"odd\"";
  call.correlation_id = "c-2";
  call.code = StatusCode::kInternal;
  call.duration_us = 2500;
  call.internal_detail = "disk I/O error\nat page 7";
  LogCall(**log, call);
  (*log)->Flush();
  std::vector<json> r = Records(o.path);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["msg"], "quote \" backslash \\ newline \n tab \t bell \x07");
  EXPECT_EQ(r[0]["level"], "info");
  EXPECT_EQ(r[0]["correlation_id"], "c-1");
  EXPECT_EQ(r[0]["n"], 3);
  EXPECT_EQ(r[1]["level"], "error");
  EXPECT_EQ(r[1]["operation"], "refs.person.create");
  EXPECT_EQ(r[1]["code"], "internal");
  EXPECT_EQ(r[1]["duration_ms"], 2.5);
  EXPECT_EQ(r[1]["subject"], "key:\"odd\"");
  EXPECT_EQ(r[1]["detail"], "disk I/O error\nat page 7");
  EXPECT_TRUE(std::regex_match(r[1]["ts"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")))
      << r[1]["ts"];
  // The terminal shows warn and up: the error only, readable, marked.
  EXPECT_THAT(terminal.str(), ::testing::Not(HasSubstr("quote")));
  EXPECT_THAT(terminal.str(), ::testing::ContainsRegex(
                                  R"(ERROR op +refs\.person\.create internal 2\.5 ms by key:"odd" via http: disk I/O error)"));
  EXPECT_THAT(terminal.str(), HasSubstr("[c-2]"));
}

TEST_F(LogbookTest, RotatesAndKeepsTheNewestFiles) {
  LogOptions o;
  o.path = (dir_ / "bver.jsonl").string();
  o.max_bytes = 2000;
  o.keep = 2;
  {
    auto log = Logbook::Open(o);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 200; ++i) {
      (*log)->Log(LogLevel::kInfo, "op", "record " + std::to_string(i) + std::string(40, 'x'), "", nullptr);
      if (i % 10 == 9) (*log)->Flush();  // batches: rotation happens between them
    }
  }  // the destructor writes what is queued
  EXPECT_TRUE(fs::exists(o.path + ".1"));
  EXPECT_TRUE(fs::exists(o.path + ".2"));
  EXPECT_FALSE(fs::exists(o.path + ".3"));
  std::vector<json> current = Records(o.path);
  ASSERT_FALSE(current.empty());
  EXPECT_THAT(current.back()["msg"].get<std::string>(), HasSubstr("record 199"));
  for (const char* f : {".1", ".2"}) EXPECT_FALSE(Records(o.path + f).empty());
}

TEST(TransitionRecordTest, JobsRunsTriggersAndAuditButNotReferenceChanges) {
  json failed = {{"event_type", "job.failed"}, {"channel", "control"}, {"correlation_id", "c"}, {"offset", 9},
                 {"payload", {{"job", "sanity"}, {"job_id", "01a2bbbbcccc"}, {"error", {{"code", "internal"}, {"message", "boom"}}}}}};
  json r = TransitionRecord(failed);
  EXPECT_EQ(r["level"], "error");
  EXPECT_EQ(r["component"], "job");
  EXPECT_EQ(r["msg"], "job sanity failed (01a2bbbb): internal boom");
  json step = {{"event_type", "orch.step.failed"}, {"channel", "control"},
               {"payload", {{"orchestrator", "design"}, {"run_id", "r1"}, {"step", "check"}, {"op", "jobs.x.start"}}}};
  EXPECT_EQ(TransitionRecord(step)["msg"], "run design r1 step check failed (jobs.x.start)");
  EXPECT_EQ(TransitionRecord(step)["level"], "error");
  json suppressed = {{"event_type", "trigger.suppressed"}, {"channel", "control"},
                     {"payload", {{"trigger", "t"}, {"reason", "chain_limit"}}}};
  EXPECT_EQ(TransitionRecord(suppressed)["level"], "warn");
  json audit = {{"event_type", "policy.activated"}, {"channel", "audit"}, {"object_pointer", "policy"}};
  EXPECT_EQ(TransitionRecord(audit)["component"], "audit");
  EXPECT_TRUE(TransitionRecord({{"event_type", "ref.created"}, {"channel", "traffic"}}).is_null());
  EXPECT_EQ(ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("loud").has_value());
}

}  // namespace
}  // namespace bver::server
