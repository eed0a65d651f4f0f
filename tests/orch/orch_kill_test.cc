// Orchestrators through the real bver binary, on SQLite and PostgreSQL: a
// `bver orch start --wait` process is killed with SIGKILL while its run's
// slow job (the exec plugin tests/orch/plugins/orchtest) is running; `bver
// orch resume` in a new process finishes the run, and every step committed
// exactly once (counted in the event log by the run's correlation id).
// Also the CLI's errors and exit codes, and the substation example's
// design_site run by `bver up` through REST.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

struct Project {
  fs::path dir;
  std::string store;  // --store value ("" : the default SQLite file)

  std::vector<std::string> Args(std::vector<std::string> args) const {
    std::vector<std::string> all = {"-C", dir.string()};
    all.insert(all.end(), args.begin(), args.end());
    if (!store.empty()) {
      all.push_back("--store");
      all.push_back(store);
    }
    return all;
  }
  bver::testing::CommandResult Bver(std::vector<std::string> args) const {
    return bver::testing::RunCommand(BVER_EXE, Args(std::move(args)), dir / "scratch");
  }
  json BverJson(std::vector<std::string> args, int expect_code = 0) const {
    args.push_back("--json");
    bver::testing::CommandResult r = Bver(args);
    EXPECT_EQ(r.code, expect_code) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j.is_discarded() ? json::object() : j;
  }
  // Every event of the log (bver events tail --json prints one per line).
  std::vector<json> Events() const {
    bver::testing::CommandResult r = Bver({"events", "tail", "--limit", "10000", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<json> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(json::parse(line));
    }
    return out;
  }
};

Project NewProject(const std::string& name) {
  Project p;
  p.dir = fs::temp_directory_path() / ("bver_orch_cli_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p.dir);
  fs::create_directories(p.dir / "scratch");
  fs::copy_file(BVER_SOURCE_DIR "/tests/orch/bver.yaml", p.dir / "bver.yaml");
  return p;
}

// `bver ARGS` in the background, output to DIR/NAME.log.
pid_t Spawn(const Project& p, const std::string& name, std::vector<std::string> args) {
  return bver::testing::StartCommand(BVER_EXE, p.Args(std::move(args)), p.dir / (name + ".log"));
}

int Reap(pid_t pid, int sig) { return bver::testing::StopCommand(pid, sig); }

const json& Step(const json& run, const std::string& id) {
  for (const json& s : run["steps"]) {
    if (s["id"] == id) return s;
  }
  static const json kNone = json::object();
  return kNone;
}

class OrchCli : public ::testing::TestWithParam<std::string> {
 protected:
  // The project folders go however the test ends; on a failure, the logs of
  // the processes it started are shown first (the end of each).
  void TearDown() override {
    for (const fs::path& dir : dirs_) {
      if (HasFailure() && fs::exists(dir)) {
        for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
          if (e.path().extension() != ".log") continue;
          std::string text = bver::testing::ReadFileForTest(e.path());
          if (text.size() > 4000) text = text.substr(text.size() - 4000);
          std::cerr << "---- " << e.path().filename().string() << " (end)\n" << text << "\n";
        }
      }
      if (std::getenv("BVER_KEEP_TEST_DIRS") == nullptr) fs::remove_all(dir);
    }
  }
  Project Open(const std::string& name) {
    Project p = NewProject(name + "_" + GetParam());
    dirs_.push_back(p.dir);
    if (GetParam() == "postgresql") {
      bver::Result<std::string> url = bver::testing::TestDatabaseUrl("orch_cli_" + name);
      EXPECT_TRUE(url.ok()) << url.status().ToString();
      if (url.ok()) p.store = *url;
    }
    return p;
  }
  std::vector<fs::path> dirs_;
};

TEST_P(OrchCli, KilledMidRunTheRunResumesAndEveryStepCommitsOnce) {
  Project p = Open("kill");
  bver::testing::CommandResult inst = p.Bver({"plugins", "install", BVER_SOURCE_DIR "/tests/orch/plugins/orchtest"});
  ASSERT_EQ(inst.code, 0) << inst.out << inst.err;
  ASSERT_EQ(p.Bver({"ref", "create", "sites/site", "--id", "s1", "--data", R"({"name":"S1"})"}).code, 0);

  pid_t a = Spawn(p, "start", {"orch", "start", "slow", "--input", R"({"site":"bver://sites/site/s1","sleep_s":2})",
                               "--wait", "--lease-seconds", "1", "--json"});
  // Until the run's slow job is running.
  std::string run_id;
  json run;
  for (int i = 0; i < 600 && run_id.empty(); ++i) {
    json list = p.BverJson({"orch", "list"});
    for (const json& summary : list.value("runs", json::array())) {
      // The list has each step's state; the run itself has its calls.
      if (Step(summary, "slow").value("state", "") != "running") continue;
      json r = p.BverJson({"orch", "status", summary["run_id"]});
      const json& slow = Step(r, "slow");
      if (slow.contains("calls") && slow["calls"][0]["state"] == "waiting_job") {
        run_id = r["run_id"];
        run = r;
      }
    }
    if (run_id.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(run_id.empty()) << bver::testing::ReadFileForTest(p.dir / "start.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the plugin is sleeping
  EXPECT_EQ(Reap(a, SIGKILL), 128 + SIGKILL);
  json mid = p.BverJson({"orch", "status", run_id});
  EXPECT_EQ(mid["state"], "running");
  EXPECT_EQ(Step(mid, "first")["state"], "succeeded");
  EXPECT_EQ(Step(mid, "last")["state"], "pending");

  // A new process takes the run over (the job once the dead one's 1 s lease lapses).
  json done = p.BverJson({"orch", "resume", run_id, "--wait", "120", "--lease-seconds", "1"});
  ASSERT_EQ(done["state"], "succeeded") << done.dump(2);
  EXPECT_EQ(Step(done, "slow")["job_ids"], Step(run, "slow")["job_ids"]);  // the same job, not a second one

  std::string corr = done["correlation_id"];
  int patched = 0, queued = 0, asset_created = 0, run_succeeded = 0, first_done = 0;
  for (const json& e : p.Events()) {
    std::string type = e["event_type"];
    if (type == "ref.created" && e["object_pointer"].get<std::string>().rfind("bver://assets/asset/s1-slow", 0) == 0) {
      ++asset_created;
    }
    if (e["correlation_id"] != corr) continue;
    patched += type == "ref.patched";
    queued += type == "job.queued";
    run_succeeded += type == "orch.succeeded";
    first_done += type == "orch.step.succeeded" && e["payload"]["step"] == "first";
  }
  EXPECT_EQ(patched, 2);  // first and last, once each
  EXPECT_EQ(queued, 1);
  EXPECT_EQ(asset_created, 1);
  EXPECT_EQ(run_succeeded, 1);
  EXPECT_EQ(first_done, 1);
  json site = p.BverJson({"ref", "get", "bver://sites/site/s1"});
  EXPECT_EQ(site["version"], 3);
  EXPECT_EQ(site["body"]["status"], "ready");
  EXPECT_EQ(site["body"]["note"], "first");
  fs::remove_all(p.dir);
}

TEST_P(OrchCli, BverUpKilledMidRunContinuesTheRunAfterARestart) {
  Project p = Open("up_kill");
  ASSERT_EQ(p.Bver({"plugins", "install", BVER_SOURCE_DIR "/tests/orch/plugins/orchtest"}).code, 0);
  ASSERT_EQ(p.Bver({"ref", "create", "sites/site", "--id", "s1", "--data", R"({"name":"S1"})"}).code, 0);
  std::vector<std::string> up_args = {"--listen", "127.0.0.1:0", "--job-lease-seconds", "1"};
  if (!p.store.empty()) up_args.insert(up_args.end(), {"--store", p.store});
  bver::testing::ServerProcess up = bver::testing::StartBverUp(BVER_EXE, p.dir, up_args);
  ASSERT_GT(up.port, 0) << bver::testing::ReadFileForTest(up.stderr_path);
  bver::testing::HttpReply started = bver::testing::HttpRequestOnce(
      up.port, "POST", "/v1/orchestrators/slow/runs", R"({"site":"bver://sites/site/s1","sleep_s":2})");
  ASSERT_EQ(started.status, 202) << started.body;
  std::string run_id = started.Json()["run_id"];
  // Until the slow job runs inside bver up; then kill -9 the runtime.
  for (int i = 0; i < 600; ++i) {
    json r = p.BverJson({"orch", "status", run_id});
    const json& slow = Step(r, "slow");
    if (slow.contains("calls") && !slow["calls"].empty() && slow["calls"][0]["state"] == "waiting_job") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(bver::testing::StopServer(up, SIGKILL), 128 + SIGKILL);
  json mid = p.BverJson({"orch", "status", run_id});
  ASSERT_EQ(mid["state"], "running") << mid.dump(2);
  EXPECT_EQ(Step(mid, "last")["state"], "pending");

  // A new bver up: its engine resumes the run without being asked.
  up = bver::testing::StartBverUp(BVER_EXE, p.dir, up_args);
  ASSERT_GT(up.port, 0) << bver::testing::ReadFileForTest(up.stderr_path);
  bver::testing::HttpReply done =
      bver::testing::HttpRequestOnce(up.port, "GET", "/v1/orchestrators/slow/runs/" + run_id + "?wait=60", "");
  ASSERT_EQ(done.status, 200) << done.body;
  ASSERT_EQ(done.Json()["state"], "succeeded") << done.body;
  EXPECT_EQ(bver::testing::StopServer(up, SIGTERM), 0);

  std::string corr = done.Json()["correlation_id"];
  int patched = 0, queued = 0, asset_created = 0, run_succeeded = 0;
  for (const json& e : p.Events()) {
    std::string type = e["event_type"];
    if (type == "ref.created" && e["object_pointer"].get<std::string>().rfind("bver://assets/asset/s1-slow", 0) == 0) {
      ++asset_created;
    }
    if (e["correlation_id"] != corr) continue;
    patched += type == "ref.patched";
    queued += type == "job.queued";
    run_succeeded += type == "orch.succeeded";
  }
  EXPECT_EQ(patched, 2);  // first and last, once each
  EXPECT_EQ(queued, 1);   // the job was taken over, not queued again
  EXPECT_EQ(asset_created, 1);
  EXPECT_EQ(run_succeeded, 1);
  json site = p.BverJson({"ref", "get", "bver://sites/site/s1"});
  EXPECT_EQ(site["version"], 3);
  EXPECT_EQ(site["body"]["status"], "ready");
  fs::remove_all(p.dir);
}

TEST_P(OrchCli, StartWaitStatusListCancelAndErrors) {
  Project p = Open("cli");
  ASSERT_EQ(p.Bver({"ref", "create", "sites/site", "--id", "s1", "--data", R"({"name":"S1"})"}).code, 0);
  json ok = p.BverJson({"orch", "start", "chain", "--input", R"({"name":"alpha"})", "--wait", "60"});
  EXPECT_EQ(ok["state"], "succeeded") << ok.dump(2);
  json st = p.BverJson({"orch", "status", ok["run_id"]});
  EXPECT_EQ(st["state"], "succeeded");
  bver::testing::CommandResult human = p.Bver({"orch", "status", ok["run_id"]});
  EXPECT_EQ(human.code, 0);
  EXPECT_THAT(human.out, HasSubstr("note  succeeded  refs.site.patch"));
  // Recorded without --wait: it stays running until an engine runs; cancel it.
  json queued = p.BverJson({"orch", "start", "slow", "--input", R"({"site":"bver://sites/site/s1","sleep_s":0})"});
  EXPECT_EQ(queued["state"], "running");
  json cancelled = p.BverJson({"orch", "cancel", queued["run_id"]});
  EXPECT_EQ(cancelled["state"], "cancelled");
  EXPECT_EQ(p.Bver({"orch", "status", queued["run_id"]}).code, 1);  // a cancelled run
  json list = p.BverJson({"orch", "list"});
  EXPECT_EQ(list["runs"].size(), 2u);
  json only = p.BverJson({"orch", "list", "--state", "cancelled"});
  ASSERT_EQ(only["runs"].size(), 1u);
  EXPECT_EQ(only["runs"][0]["run_id"], queued["run_id"]);
  // Errors: structured, and nothing stored.
  json unknown = p.BverJson({"orch", "start", "nope"}, 1);
  EXPECT_EQ(unknown["error"]["code"], "not_found");
  json invalid = p.BverJson({"orch", "start", "chain", "--input", R"({"name":""})"}, 1);
  EXPECT_EQ(invalid["error"]["code"], "invalid_argument");
  json bad_json = p.BverJson({"orch", "start", "chain", "--input", "[1]"}, 1);
  EXPECT_EQ(bad_json["error"]["code"], "invalid_argument");
  json no_run = p.BverJson({"orch", "status", "01890000-0000-7000-8000-000000000000"}, 1);
  EXPECT_EQ(no_run["error"]["code"], "not_found");
  EXPECT_EQ(p.BverJson({"orch", "list"})["runs"].size(), 2u);
  EXPECT_EQ(p.Bver({"orch", "start"}).code, 2);  // usage
  EXPECT_EQ(p.Bver({"orch", "start", "--help"}).code, 0);
  // A failed run exits 1.
  json failed = p.BverJson({"orch", "start", "flaky", "--input", R"({"fail_times":1})", "--wait", "60"}, 1);
  EXPECT_EQ(failed["state"], "failed");
  fs::remove_all(p.dir);
}

// The substation example's design_site (skeleton generator, sanity
// validator, then status ready) run by `bver up`'s engine, through REST.
TEST(OrchEndToEnd, SubstationDesignSiteThroughRest) {
  Project p;
  p.dir = fs::temp_directory_path() / ("bver_orch_cli_" + std::to_string(::getpid()) + "_substation");
  fs::remove_all(p.dir);
  fs::create_directories(p.dir / "scratch");
  fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", p.dir / "bver.yaml");
  struct RemovedAtEnd {
    fs::path dir;
    ~RemovedAtEnd() {
      if (std::getenv("BVER_KEEP_TEST_DIRS") == nullptr) fs::remove_all(dir);
    }
  } removed_at_end{p.dir};
  for (const std::string& plugin :
       {std::string(BVER_BINARY_DIR "/plugins/substation-starter"), std::string(BVER_SOURCE_DIR "/plugins/substation-checks")}) {
    bver::testing::CommandResult r = p.Bver({"plugins", "install", plugin});
    ASSERT_EQ(r.code, 0) << plugin << ": " << r.out << r.err;
  }
  ASSERT_EQ(p.Bver({"ref", "create", "sites/site", "--kind", "power.substation", "--id", "north", "--data",
                    R"({"name":"North","voltage_levels_kv":[400,132],"fault_level_ka":35})"})
                .code,
            0);
  bver::testing::ServerProcess s = bver::testing::StartBverUp(BVER_EXE, p.dir, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(s.port, 0) << bver::testing::ReadFileForTest(s.stderr_path);
  bver::testing::HttpReply started = bver::testing::HttpRequestOnce(s.port, "POST", "/v1/orchestrators/design_site/runs",
                                                                    R"({"site":"bver://sites/site/north"})");
  ASSERT_EQ(started.status, 202) << started.body;
  std::string id = started.Json().value("run_id", "");
  EXPECT_EQ(started.Header("location"), "/v1/orchestrators/design_site/runs/" + id);
  json run;
  for (int i = 0; i < 10; ++i) {
    bver::testing::HttpReply st =
        bver::testing::HttpRequestOnce(s.port, "GET", "/v1/orchestrators/design_site/runs/" + id + "?wait=30");
    ASSERT_EQ(st.status, 200) << st.body;
    run = st.Json();
    if (run["state"] != "running") break;
  }
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2);
  EXPECT_EQ(Step(run, "validate")["output"]["passed"], true) << run.dump(2);
  EXPECT_EQ(Step(run, "mark_ready")["state"], "succeeded");
  bver::testing::HttpReply site = bver::testing::HttpRequestOnce(s.port, "GET", "/v1/refs/sites/site/north");
  EXPECT_EQ(site.Json()["body"]["status"], "ready") << site.body;
  bver::testing::HttpReply list = bver::testing::HttpRequestOnce(s.port, "GET", "/v1/orchestrators/runs?state=succeeded");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.Json()["runs"].size(), 1u);
  // The whole run is one link away.
  const std::string href = list.Json()["runs"][0].value("href", "");
  bver::testing::HttpReply whole = bver::testing::HttpRequestOnce(s.port, "GET", href);
  ASSERT_EQ(whole.status, 200) << href << ": " << whole.body;
  EXPECT_TRUE(whole.Json()["steps"][0].contains("calls")) << whole.body.substr(0, 500);
  bver::testing::HttpReply bad =
      bver::testing::HttpRequestOnce(s.port, "POST", "/v1/orchestrators/design_site/runs", R"({"site":7})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  bver::testing::HttpReply missing = bver::testing::HttpRequestOnce(
      s.port, "GET", "/v1/orchestrators/design_site/runs/01890000-0000-7000-8000-000000000000");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(bver::testing::StopServer(s), 0);  // it used to outlive the test
  fs::remove_all(p.dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, OrchCli, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
