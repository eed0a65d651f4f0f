// Jobs through the real bver binary: `bver worker` processes killed with
// SIGKILL mid-job (the job runs again elsewhere, its changeset committed
// once), and the substation example end to end -- the skeleton generator
// and the sanity validator installed with `bver plugins install`, run
// through the CLI and through REST (`bver up`).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
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

  bver::testing::CommandResult Bver(std::vector<std::string> args) const {
    std::vector<std::string> all = {"-C", dir.string()};
    all.insert(all.end(), args.begin(), args.end());
    if (!store.empty()) {
      all.push_back("--store");
      all.push_back(store);
    }
    return bver::testing::RunCommand(BVER_EXE, all, dir / "scratch");
  }
  json BverJson(std::vector<std::string> args, int expect_code = 0) const {
    args.push_back("--json");
    bver::testing::CommandResult r = Bver(args);
    EXPECT_EQ(r.code, expect_code) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j.is_discarded() ? json::object() : j;
  }
};

Project NewProject(const std::string& name, const std::string& yaml) {
  Project p;
  p.dir = fs::temp_directory_path() / ("bver_jobs_cli_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p.dir);
  fs::create_directories(p.dir / "scratch");
  fs::copy_file(yaml, p.dir / "bver.yaml");
  return p;
}

// `bver -C dir worker ARGS` in the background (output to a file).
pid_t StartWorker(const Project& p, const std::string& name, std::vector<std::string> args) {
  std::vector<std::string> all = {"-C", p.dir.string(), "worker"};
  all.insert(all.end(), args.begin(), args.end());
  if (!p.store.empty()) {
    all.push_back("--store");
    all.push_back(p.store);
  }
  return bver::testing::StartCommand(BVER_EXE, all, p.dir / (name + ".log"));
}

int Reap(pid_t pid, int sig) { return bver::testing::StopCommand(pid, sig); }

class JobsCli : public ::testing::TestWithParam<std::string> {};

// A worker runs a generator that sleeps; it is killed with SIGKILL mid-job.
// Another worker takes the job over once its lease (1 s) has expired and
// commits the changeset: exactly one version, one job.succeeded.
TEST_P(JobsCli, KilledWorkersJobRunsAgainAndCommitsOnce) {
  Project p = NewProject("kill_" + GetParam(), BVER_SOURCE_DIR "/tests/jobs/bver.yaml");
  if (GetParam() == "postgresql") {
    bver::Result<std::string> url = bver::testing::TestDatabaseUrl("jobs_cli_kill");
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    p.store = *url;
  }
  bver::testing::CommandResult inst = p.Bver({"plugins", "install", BVER_SOURCE_DIR "/tests/jobs/plugins/jobtest"});
  ASSERT_EQ(inst.code, 0) << inst.out << inst.err;
  ASSERT_EQ(p.Bver({"ref", "create", "sites/site", "--id", "s1", "--data", R"({"name":"S1"})"}).code, 0);
  json started = p.BverJson({"job", "start", "sleep", "--input", R"({"site":"bver://sites/site/s1","sleep_s":2.5})"});
  ASSERT_EQ(started["state"], "queued") << started.dump();
  std::string id = started["job_id"];

  pid_t a = StartWorker(p, "worker_a", {"--threads", "1", "--lease-seconds", "1"});
  json st;
  for (int i = 0; i < 300; ++i) {
    st = p.BverJson({"job", "status", id});
    if (st["state"] == "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(st["state"], "running") << st.dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Reap(a, SIGKILL), 128 + SIGKILL);

  pid_t b = StartWorker(p, "worker_b", {"--threads", "2", "--lease-seconds", "1"});
  json end = p.BverJson({"job", "status", id, "--wait", "60"});
  EXPECT_EQ(Reap(b, SIGTERM), 0) << bver::testing::ReadFileForTest(p.dir / "worker_b.log");
  EXPECT_EQ(end["state"], "succeeded") << end.dump() << bver::testing::ReadFileForTest(p.dir / "worker_b.log");
  EXPECT_EQ(end["attempts"], 2);

  // One version, made by this job (its provenance names it).
  bver::testing::CommandResult h = p.Bver({"ref", "history", "bver://assets/asset/s1-slept", "--json"});
  EXPECT_EQ(h.code, 0) << h.err;
  EXPECT_THAT(h.out, HasSubstr(id));
  EXPECT_EQ(std::count(h.out.begin(), h.out.end(), '\n'), 1) << h.out;
  int started_n = 0, succeeded_n = 0, asset_created = 0;
  bver::testing::CommandResult ev = p.Bver({"events", "tail", "--limit", "10000", "--json"});
  std::stringstream ss(ev.out);
  std::string line;
  while (std::getline(ss, line)) {
    json e = json::parse(line, nullptr, false);
    if (e.is_discarded()) continue;
    if (e.value("object_pointer", "") == "job:" + id) {
      started_n += e["event_type"] == "job.started";
      succeeded_n += e["event_type"] == "job.succeeded";
    }
    if (e.value("event_type", "") == "ref.created" &&
        e.value("object_pointer", "").rfind("bver://assets/asset/s1-slept", 0) == 0) {
      ++asset_created;
    }
  }
  EXPECT_EQ(started_n, 2) << ev.out;
  EXPECT_EQ(succeeded_n, 1);
  EXPECT_EQ(asset_created, 1);
  fs::remove_all(p.dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, JobsCli, ::testing::Values("sqlite", "postgresql"));

// The substation example: the starter skeleton (native) and the sanity
// check (Python), through the CLI and through REST.
TEST(JobsEndToEnd, SubstationSkeletonAndSanityThroughCliAndRest) {
  Project p = NewProject("substation", BVER_SOURCE_DIR "/examples/substation/bver.yaml");
  for (const std::string& plugin :
       {std::string(BVER_BINARY_DIR "/plugins/substation-starter"), std::string(BVER_SOURCE_DIR "/plugins/substation-checks")}) {
    bver::testing::CommandResult r = p.Bver({"plugins", "install", plugin});
    ASSERT_EQ(r.code, 0) << plugin << ": " << r.out << r.err;
  }
  ASSERT_EQ(p.Bver({"ref", "create", "sites/site", "--kind", "power.substation", "--id", "north", "--data",
                    R"({"name":"North","voltage_levels_kv":[400,132],"fault_level_ka":35})"})
                .code,
            0);
  json gen = p.BverJson({"job", "start", "skeleton", "--input", R"({"site":"bver://sites/site/north"})", "--wait"});
  ASSERT_EQ(gen["state"], "succeeded") << gen.dump();
  bver::testing::CommandResult assets = p.Bver({"ref", "list", "assets/asset", "--json"});
  EXPECT_THAT(assets.out, HasSubstr("north"));
  json check = p.BverJson({"job", "start", "sanity", "--input", R"({"site":"bver://sites/site/north"})", "--wait"});
  ASSERT_EQ(check["state"], "succeeded") << check.dump();
  EXPECT_EQ(check["result"]["passed"], true) << check.dump();

  // REST: the same check is a cache hit; a forced run goes through the workers.
  bver::testing::ServerProcess s = bver::testing::StartBverUp(BVER_EXE, p.dir, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(s.port, 0) << bver::testing::ReadFileForTest(s.stderr_path);
  bver::testing::HttpReply hit =
      bver::testing::HttpRequestOnce(s.port, "POST", "/v1/jobs/sanity", R"({"site":"bver://sites/site/north"})");
  EXPECT_EQ(hit.status, 200) << hit.body;  // a cache hit has ended: 200, not 202
  json h = hit.Json();
  EXPECT_EQ(h["state"], "succeeded") << hit.body;
  EXPECT_EQ(h["cache_hit"], true);
  EXPECT_EQ(hit.Header("location"), "/v1/jobs/" + h.value("job_id", ""));

  bver::testing::HttpReply run = bver::testing::HttpRequestOnce(s.port, "POST", "/v1/jobs/sanity?no_cache=true",
                                                                R"({"site":"bver://sites/site/north"})");
  ASSERT_EQ(run.status, 202) << run.body;
  std::string id = run.Json().value("job_id", "");
  json polled;
  for (int i = 0; i < 600; ++i) {
    bver::testing::HttpReply st = bver::testing::HttpRequestOnce(s.port, "GET", "/v1/jobs/" + id);
    ASSERT_EQ(st.status, 200) << st.body;
    polled = st.Json();
    if (polled["state"] == "succeeded" || polled["state"] == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(polled["state"], "succeeded") << polled.dump();
  EXPECT_EQ(polled["cache_hit"], false);
  EXPECT_EQ(polled["result"]["passed"], true);

  // wait= answers once ended; bad input is a problem document.
  bver::testing::HttpReply waited = bver::testing::HttpRequestOnce(
      s.port, "POST", "/v1/jobs/skeleton?no_cache=true&wait=30", R"({"site":"bver://sites/site/north"})");
  EXPECT_EQ(waited.status, 200) << waited.body;  // ended within the wait
  EXPECT_EQ(waited.Json()["state"], "succeeded") << waited.body;
  bver::testing::HttpReply bad =
      bver::testing::HttpRequestOnce(s.port, "POST", "/v1/jobs/sanity", R"({"site":"not a pointer"})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  bver::testing::HttpReply missing = bver::testing::HttpRequestOnce(
      s.port, "GET", "/v1/jobs/0190aaaa-0000-7000-8000-000000000000");
  EXPECT_EQ(missing.status, 404) << missing.body;
  bver::testing::HttpReply cancel = bver::testing::HttpRequestOnce(s.port, "POST", "/v1/jobs/" + id + "/cancel");
  EXPECT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_EQ(cancel.Json()["state"], "succeeded");  // already ended: answered as it is
  EXPECT_EQ(bver::testing::StopServer(s), 0);

  // MCP (stdio): the job is a tool; wait makes the call answer at the end.
  {
    std::ofstream in(p.dir / "mcp_in.jsonl");
    in << R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})"
       << "\n"
       << R"({"jsonrpc":"2.0","method":"notifications/initialized"})" << "\n"
       << R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"jobs.sanity.start","arguments":{"input":{"site":"bver://sites/site/north"},"no_cache":true,"wait":30}}})"
       << "\n";
  }
  bver::testing::CommandOptions mcp_options;
  mcp_options.stdin_file = (p.dir / "mcp_in.jsonl").string();
  bver::testing::CommandResult mcp =
      bver::testing::RunCommand(BVER_EXE, {"-C", p.dir.string(), "mcp"}, p.dir / "scratch", mcp_options);
  EXPECT_EQ(mcp.code, 0) << mcp.err;
  json call;
  std::stringstream lines(mcp.out);
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("id", 0) == 2) call = j;
  }
  ASSERT_TRUE(call.contains("result")) << mcp.out << mcp.err;
  EXPECT_EQ(call["result"].value("isError", false), false) << call.dump();
  EXPECT_THAT(call["result"].dump(), HasSubstr("succeeded"));
  EXPECT_THAT(call["result"].dump(), HasSubstr("\"passed\":true"));

  json list = p.BverJson({"job", "list"});
  EXPECT_GE(list["jobs"].size(), 5u);
  // jobs.list pages: one job, then the next one after its cursor.
  json first = p.BverJson({"call", "jobs.list", "--input", R"({"limit":1})"});
  ASSERT_EQ(first["jobs"].size(), 1u) << first.dump();
  ASSERT_TRUE(first["next_cursor"].is_string()) << first.dump();
  json second = p.BverJson({"call", "jobs.list", "--input",
                            json{{"limit", 1}, {"cursor", first["next_cursor"]}}.dump()});
  ASSERT_EQ(second["jobs"].size(), 1u) << second.dump();
  EXPECT_NE(second["jobs"][0]["job_id"], first["jobs"][0]["job_id"]);
  EXPECT_EQ(first["jobs"][0]["job_id"], list["jobs"][0]["job_id"]);
  fs::remove_all(p.dir);
}

}  // namespace
