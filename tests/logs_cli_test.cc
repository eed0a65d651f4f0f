// Logs end to end with the real binary: `bver up` writes a readable line per
// request and per run transition on its terminal (a failed run marked
// ERROR) and the same records as JSON lines in .bver/logs/bver.jsonl;
// `bver logs` filters them by correlation id, level and component, and
// --follow prints what is appended until it is stopped.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// An orchestrator whose one step reads a reference that does not exist:
// every run of it fails.
constexpr char kDomain[] = R"(bver: 1
platform: { id: people, version: 1.0.0 }
namespaces:
  org:
    repos:
      person:
        schema:
          type: object
          required: [name]
          properties:
            name: { type: string }
orchestrators:
  lookup:
    input: { properties: { id: { type: string } } }
    steps:
      - { id: fetch, op: refs.person.get, input: { id: "${input.id}" } }
)";

class LogsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_logs_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "scratch");
    std::ofstream(dir_ / "bver.yaml") << kDomain;
  }
  void TearDown() override {
    if (server_.pid > 0) bver::testing::StopServer(server_);
    if (follower_ > 0) bver::testing::StopCommand(follower_, SIGKILL);
    fs::remove_all(dir_);
  }

  bver::testing::CommandResult Bver(std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", dir_.string()});
    return bver::testing::RunCommand(BVER_EXE, args, dir_ / "scratch");
  }

  // Every JSON line of `text`.
  static std::vector<json> Lines(const std::string& text) {
    std::vector<json> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object()) out.push_back(std::move(j));
    }
    return out;
  }

  // Waits up to 10 s for `path` to contain `needle`.
  static bool WaitFor(const fs::path& path, const std::string& needle) {
    for (int i = 0; i < 200; ++i) {
      if (bver::testing::ReadFileForTest(path).find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  fs::path dir_;
  bver::testing::ServerProcess server_;
  pid_t follower_ = -1;
};

TEST_F(LogsCli, RequestsAndAFailedRunAreLoggedAndFiltered) {
  // Before any bver up there is no log: said, exit 1.
  bver::testing::CommandResult none = Bver({"logs"});
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.err, HasSubstr("no log yet"));

  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  const int port = server_.port;
  ASSERT_EQ(bver::testing::HttpRequestOnce(port, "POST", "/v1/ops/refs.person.create",
                                           R"({"body": {"name": "Ada"}, "id": "ada"})", {{"X-Correlation-ID", "corr-create-1"}})
                .status,
            200);
  bver::testing::HttpReply bad = bver::testing::HttpRequestOnce(port, "POST", "/v1/ops/refs.person.create",
                                                                R"({"body": {"nom": 1}})", {{"X-Correlation-ID", "corr-bad-1"}});
  ASSERT_EQ(bad.status, 400);
  bver::testing::HttpReply run = bver::testing::HttpRequestOnce(port, "POST", "/v1/ops/orch.lookup.start",
                                                                R"({"input": {"id": "nobody"}})",
                                                                {{"X-Correlation-ID", "corr-run-1"}});
  ASSERT_EQ(run.status, 200) << run.body;
  // The run fails in the background: its failure reaches the terminal, marked.
  ASSERT_TRUE(WaitFor(server_.stderr_path, "run lookup")) << bver::testing::ReadFileForTest(server_.stderr_path);
  ASSERT_TRUE(WaitFor(server_.stderr_path, " failed")) << bver::testing::ReadFileForTest(server_.stderr_path);
  ASSERT_EQ(bver::testing::StopServer(server_), 0);

  std::string terminal = bver::testing::ReadFileForTest(server_.stderr_path);
  EXPECT_THAT(terminal, ::testing::ContainsRegex(R"(INFO  op +refs\.person\.create ok [0-9.]+ ms by local:local via http  \[corr-cre\])"));
  EXPECT_THAT(terminal, ::testing::ContainsRegex(R"(WARN  op +refs\.person\.create invalid_argument)"));
  EXPECT_THAT(terminal, ::testing::ContainsRegex(R"(ERROR orch +run lookup [0-9a-f]+ failed)"));
  EXPECT_THAT(terminal, HasSubstr("INFO  up      serving http://127.0.0.1:"));

  // One correlation id: the start request and the run's transitions, nothing else.
  bver::testing::CommandResult corr = Bver({"logs", "--correlation-id", "corr-run-1", "--json", "-n", "0"});
  ASSERT_EQ(corr.code, 0) << corr.err;
  std::vector<json> records = Lines(corr.out);
  ASSERT_GE(records.size(), 3u) << corr.out;
  std::set<std::string> components;
  bool failed = false;
  for (const json& r : records) {
    EXPECT_EQ(r["correlation_id"], "corr-run-1") << r.dump();
    components.insert(r["component"].get<std::string>());
    if (r["component"] == "orch" && r["level"] == "error") failed = true;
    EXPECT_TRUE(r.contains("ts") && r.contains("msg")) << r.dump();
  }
  EXPECT_TRUE(components.count("op") && components.count("orch")) << corr.out;
  EXPECT_TRUE(failed) << corr.out;
  // Errors only; one component; readable form.
  bver::testing::CommandResult errors = Bver({"logs", "--level", "error", "--json", "-n", "0"});
  ASSERT_EQ(errors.code, 0);
  for (const json& r : Lines(errors.out)) EXPECT_EQ(r["level"], "error") << r.dump();
  EXPECT_FALSE(Lines(errors.out).empty());
  bver::testing::CommandResult ops = Bver({"logs", "--component", "op", "-n", "2"});
  ASSERT_EQ(ops.code, 0);
  EXPECT_EQ(std::count(ops.out.begin(), ops.out.end(), '\n'), 2) << ops.out;
  EXPECT_THAT(ops.out, HasSubstr(" op "));
  // Bad input: a level that does not exist.
  bver::testing::CommandResult wrong = Bver({"logs", "--level", "loud"});
  EXPECT_EQ(wrong.code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("--level is debug, info, warn or error"));
}

TEST_F(LogsCli, FollowPrintsWhatIsAppendedUntilStopped) {
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0", "--quiet"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  follower_ = bver::testing::StartCommand(BVER_EXE, {"-C", dir_.string(), "logs", "--follow", "-n", "0"},
                                          dir_ / "scratch" / "follow.out");
  // The line for "serving" is there already; a new request appears while following.
  ASSERT_TRUE(WaitFor(dir_ / "scratch" / "follow.out", "serving http"));
  ASSERT_EQ(bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/refs/org/person/nobody", "",
                                           {{"X-Correlation-ID", "corr-follow-1"}})
                .status,
            404);
  EXPECT_TRUE(WaitFor(dir_ / "scratch" / "follow.out", "refs.person.get not_found"))
      << bver::testing::ReadFileForTest(dir_ / "scratch" / "follow.out");
  EXPECT_EQ(bver::testing::StopCommand(follower_, SIGTERM), 0);
  follower_ = -1;
  // --quiet: no request lines on the terminal, the file has them.
  EXPECT_THAT(bver::testing::ReadFileForTest(server_.stderr_path), ::testing::Not(HasSubstr("refs.person.get")));
}

}  // namespace
