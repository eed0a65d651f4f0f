// bver call: every operation from the command line, the same row REST and
// MCP serve -- in-process, and against a running `bver up` (--server). The
// same input gives the same output shape and the same problem through the
// CLI (local and remote) and REST; a write carries the caller's correlation
// id into its event; bad input changes nothing. Also the newcomer's paper
// cuts: an unknown command suggests the nearest, `bver status` outside a
// project says so.
#include <unistd.h>

#include <filesystem>
#include <fstream>

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

class CallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_call_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir_ / "bver.yaml");
  }
  void TearDown() override {
    if (server_.pid > 0) bver::testing::StopServer(server_);
    fs::remove_all(dir_);
  }

  bver::testing::CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", dir_.string()});
    return bver::testing::RunCommand(BVER_EXE, args, dir_);
  }
  // bver call OP --input INPUT --json [extra...]: the exit code and the one JSON line.
  std::pair<int, json> Call(const std::string& op, const json& input, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"call", op, "--input", input.dump(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    bver::testing::CommandResult r = Run(args);
    return {r.code, json::parse(r.out, nullptr, false)};
  }
  std::string Server() const { return "http://127.0.0.1:" + std::to_string(server_.port); }

  fs::path dir_;
  bver::testing::ServerProcess server_;
};

const json kNode = {{"id", "t1"}, {"kind", "telecom.node"}, {"body", {{"name", "Tower 1"}, {"operator", "acme"}}}};

TEST_F(CallTest, ListDescribeAndUnknownOperations) {
  bver::testing::CommandResult list = Run({"call", "--list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  std::vector<std::string> ids;
  const json listed = json::parse(list.out);
  for (const json& row : listed["operations"]) ids.push_back(row["id"]);
  for (const char* op : {"refs.site.create", "refs.asset.get", "resolve", "events.read", "ledger.verify",
                         "jobs.skeleton.start", "jobs.status", "orch.design_site.start", "triggers.list"}) {
    EXPECT_THAT(ids, ::testing::Contains(std::string(op)));
  }
  // Every row is in bver.manifest.json: the domain's operations and the
  // kernel modules' own (kernel_operations).
  ASSERT_EQ(Run({"compile"}).code, 0);
  const json manifest = json::parse(bver::testing::ReadFileForTest(dir_ / ".bver" / "build" / "bver.manifest.json"));
  std::vector<std::string> in_manifest;
  for (const char* section : {"operations", "kernel_operations"}) {
    for (const json& op : manifest[section]) in_manifest.push_back(op["id"]);
  }
  EXPECT_THAT(in_manifest, ::testing::UnorderedElementsAreArray(ids));
  bver::testing::CommandResult text = Run({"call", "--list"});
  ASSERT_EQ(text.code, 0);
  EXPECT_THAT(text.out, HasSubstr("refs.site.create"));
  EXPECT_THAT(text.out, HasSubstr("[POST /v1/refs/sites/site]"));

  bver::testing::CommandResult d = Run({"call", "refs.asset.create", "--describe"});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_THAT(d.out, HasSubstr("Create an asset"));
  EXPECT_THAT(d.out, HasSubstr("assets.asset:write"));
  EXPECT_THAT(d.out, HasSubstr("\"kind\""));

  bver::testing::CommandResult typo = Run({"call", "refs.site.gte"});
  EXPECT_EQ(typo.code, 1);
  EXPECT_THAT(typo.err, HasSubstr("no operation \"refs.site.gte\""));
  EXPECT_THAT(typo.err, HasSubstr("did you mean: refs.site.get"));
  EXPECT_EQ(Run({"call"}).code, 1);
}

TEST_F(CallTest, SameShapesAndProblemsLocallyRemotelyAndOverRest) {
  // Local: create with a correlation id, read it back.
  auto [created_code, created] = Call("refs.site.create", kNode, {"--correlation-id", "call-test-1"});
  ASSERT_EQ(created_code, 0) << created.dump();
  EXPECT_EQ(created["pointer"], "bver://sites/site/t1~1");
  EXPECT_EQ(created["ns"], "sites") << "the CLI answers the REST shape (ns, repo, timestamps)";
  EXPECT_TRUE(created.contains("created_at")) << created.dump();
  auto [events_code, events] = Call("events.read", json::object());
  ASSERT_EQ(events_code, 0) << events.dump();
  ASSERT_EQ(events["events"].size(), 1u) << events.dump();
  EXPECT_EQ(events["events"][0]["correlation_id"], "call-test-1") << events.dump();
  // The older subcommands are aliases of the same rows: REST's shape, and
  // the caller's correlation id on the write.
  bver::testing::CommandResult alias = Run({"ref", "create", "site", "--kind", "telecom.node", "--id", "t0", "--data",
                                            R"({"name":"Tower 0"})", "--correlation-id", "call-test-0", "--json"});
  ASSERT_EQ(alias.code, 0) << alias.err << alias.out;
  EXPECT_EQ(json::parse(alias.out)["ns"], "sites");
  auto [events0_code, events0] = Call("events.read", {{"from", 2}});
  ASSERT_EQ(events0_code, 0) << events0.dump();
  ASSERT_EQ(events0["events"].size(), 1u) << events0.dump();
  EXPECT_EQ(events0["events"][0]["correlation_id"], "call-test-0");
  auto [get_code, local] = Call("refs.site.get", {{"id", "t1"}});
  ASSERT_EQ(get_code, 0) << local.dump();

  // Bad input: a problem with the violation's path, exit 1, nothing written.
  json bad = kNode;
  bad["id"] = "t2";
  bad["body"]["name"] = 5;
  auto [bad_code, bad_local] = Call("refs.site.create", bad);
  EXPECT_EQ(bad_code, 1);
  EXPECT_EQ(bad_local["code"], "invalid_argument") << bad_local.dump();
  EXPECT_EQ(bad_local["status"], 400);
  ASSERT_FALSE(bad_local["errors"].empty()) << bad_local.dump();
  bver::testing::CommandResult text = Run({"call", "refs.site.create", "--input", bad.dump()});
  EXPECT_EQ(text.code, 1);
  EXPECT_THAT(text.err, HasSubstr("error: Invalid argument (invalid_argument)"));
  EXPECT_THAT(text.err, HasSubstr("correlation id: "));
  EXPECT_EQ(Run({"call", "refs.site.get", "--input", "{not json"}).code, 1);
  EXPECT_EQ(Run({"call", "refs.site.get", "--input", "@/nonexistent/input.json"}).code, 1);
  EXPECT_EQ(Run({"call", "refs.site.get", "--input", "{}", "--correlation-id", "bad id!"}).code, 1);
  auto [missing_code, missing] = Call("refs.site.get", {{"id", "nobody"}});
  EXPECT_EQ(missing_code, 1);
  EXPECT_EQ(missing["code"], "not_found");

  // The same calls against bver up: REST's generic route and bver call --server.
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  bver::testing::HttpReply rest = bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/ops/refs.site.get",
                                                                 R"({"id":"t1"})", {{"Content-Type", "application/json"}});
  ASSERT_EQ(rest.status, 200) << rest.body;
  EXPECT_EQ(rest.Json(), local);
  auto [remote_code, remote] = Call("refs.site.get", {{"id", "t1"}}, {"--server", Server()});
  ASSERT_EQ(remote_code, 0) << remote.dump();
  EXPECT_EQ(remote, local);
  bver::testing::CommandResult alias_remote = Run({"ref", "get", "bver://sites/site/t1", "--server", Server(), "--json"});
  ASSERT_EQ(alias_remote.code, 0) << alias_remote.err;
  EXPECT_EQ(json::parse(alias_remote.out), local);

  bver::testing::HttpReply rest_bad = bver::testing::HttpRequestOnce(
      server_.port, "POST", "/v1/ops/refs.site.create", bad.dump(), {{"Content-Type", "application/json"}});
  EXPECT_EQ(rest_bad.status, 400);
  EXPECT_EQ(rest_bad.Json()["code"], bad_local["code"]);
  EXPECT_EQ(rest_bad.Json()["errors"], bad_local["errors"]);
  auto [remote_bad_code, remote_bad] = Call("refs.site.create", bad, {"--server", Server()});
  EXPECT_EQ(remote_bad_code, 1);
  EXPECT_EQ(remote_bad["code"], "invalid_argument");
  EXPECT_EQ(remote_bad["errors"], bad_local["errors"]);

  // A remote write carries the caller's correlation id too.
  auto [patched_code, patched] = Call("refs.site.patch", {{"id", "t1"}, {"merge", {{"operator", "beta"}}}},
                                      {"--server", Server(), "--correlation-id", "call-test-2"});
  ASSERT_EQ(patched_code, 0) << patched.dump();
  EXPECT_EQ(patched["version"], 2);
  auto [tail_code, tail] = Call("events.read", {{"from", 3}}, {"--server", Server()});
  ASSERT_EQ(tail_code, 0) << tail.dump();
  ASSERT_GE(tail["events"].size(), 1u) << tail.dump();
  EXPECT_EQ(tail["events"][0]["correlation_id"], "call-test-2") << tail.dump();

  bver::testing::CommandResult remote_list = Run({"call", "--list", "--server", Server(), "--json"});
  ASSERT_EQ(remote_list.code, 0) << remote_list.err;
  bver::testing::CommandResult local_list = Run({"call", "--list", "--json"});
  EXPECT_EQ(json::parse(remote_list.out)["operations"].size(), json::parse(local_list.out)["operations"].size());

  // Bad servers: a clear error, exit 3 (the environment), not a hang.
  EXPECT_EQ(bver::testing::StopServer(server_), 0);
  bver::testing::CommandResult gone = Run({"call", "refs.site.get", "--input", R"({"id":"t1"})", "--server", Server()});
  EXPECT_EQ(gone.code, 3);
  EXPECT_THAT(gone.err, HasSubstr("cannot reach"));
  bver::testing::CommandResult tls = Run({"call", "refs.site.get", "--server", "https://127.0.0.1:1"});
  EXPECT_EQ(tls.code, 1);
  EXPECT_THAT(tls.err, HasSubstr("https"));
}

// bver login keeps a server's key (mode 0600) for --server calls; a wrong
// key is refused and nothing is kept; logout forgets it.
TEST_F(CallTest, LoginKeepsAKeyForTheServer) {
  bver::testing::CommandResult made = Run({"keys", "create", "--scopes", "admin", "--name", "login-test"});
  ASSERT_EQ(made.code, 0) << made.err;
  std::string key = made.out.substr(0, made.out.find('\n'));
  ASSERT_EQ(key.rfind("bver_", 0), 0u) << made.out;
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);

  const fs::path home = dir_ / "home";
  fs::create_directories(home);
  bver::testing::CommandOptions env;
  env.env = {{"HOME", home.string()}, {"XDG_CONFIG_HOME", ""}, {"BVER_API_KEY", ""}, {"BVER_SERVER", ""}};
  auto as_user = [&](std::vector<std::string> args, const std::string& stdin_text = "") {
    bver::testing::CommandOptions o = env;
    if (!stdin_text.empty()) {
      o.stdin_file = (dir_ / "stdin.txt").string();
      std::ofstream(o.stdin_file) << stdin_text;
    }
    args.insert(args.begin(), {"-C", dir_.string()});
    return bver::testing::RunCommand(BVER_EXE, args, dir_, o);
  };
  const std::vector<std::string> list = {"call", "refs.site.list", "--server", Server(), "--json"};
  bver::testing::CommandResult anonymous = as_user(list);
  EXPECT_EQ(anonymous.code, 1);
  EXPECT_EQ(json::parse(anonymous.out, nullptr, false)["code"], "unauthenticated") << anonymous.out;

  bver::testing::CommandResult wrong = as_user({"login", "--server", Server()}, "bver_not_a_key\n");
  EXPECT_EQ(wrong.code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("does not accept this key"));
  const fs::path file = home / ".config" / "bver" / "credentials.json";
  EXPECT_FALSE(fs::exists(file)) << "a refused key is not kept";

  bver::testing::CommandResult login = as_user({"login", "--server", Server() + "/"}, key + "\n");
  ASSERT_EQ(login.code, 0) << login.err;
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(fs::status(file).permissions() & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  bver::testing::CommandResult listed = as_user(list);
  EXPECT_EQ(listed.code, 0) << listed.out << listed.err;
  bver::testing::CommandResult alias = as_user({"ref", "list", "site", "--server", Server(), "--json"});
  EXPECT_EQ(alias.code, 0) << alias.out << alias.err;

  // Keys are operations too (admin): listed on the server, never a secret.
  bver::testing::CommandResult keys = as_user({"keys", "list", "--server", Server(), "--json"});
  ASSERT_EQ(keys.code, 0) << keys.err;
  EXPECT_EQ(json::parse(keys.out)["keys"].size(), 1u) << keys.out;
  EXPECT_EQ(keys.out.find(key.substr(22)), std::string::npos) << "no secret in a list";
  bver::testing::CommandResult typo = as_user({"keys", "create", "--scopes", "sites.site:raed", "--server", Server(), "--json"});
  EXPECT_EQ(typo.code, 1);
  EXPECT_EQ(json::parse(typo.out, nullptr, false)["errors"][0]["path"], "scopes[0]") << typo.out;

  EXPECT_EQ(as_user({"logout", "--server", Server()}).code, 0);
  EXPECT_EQ(as_user(list).code, 1);
}

TEST_F(CallTest, UnknownCommandsAndStatusOutsideAProject) {
  bver::testing::CommandResult typo = Run({"stauts"});
  EXPECT_EQ(typo.code, 2);
  EXPECT_THAT(typo.err, HasSubstr("unknown command 'stauts'"));
  EXPECT_THAT(typo.err, HasSubstr("did you mean 'status'?"));
  bver::testing::CommandResult unknown = Run({"frobnicate"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command 'frobnicate'"));
  EXPECT_THAT(unknown.err, ::testing::Not(HasSubstr("did you mean")));
  bver::testing::CommandResult init = Run({"init"});  // a command now: its folder is required
  EXPECT_EQ(init.code, 2);
  EXPECT_THAT(init.err, HasSubstr("DIR is required"));

  fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  bver::testing::CommandResult status = bver::testing::RunCommand(BVER_EXE, {"-C", empty.string(), "status"}, empty);
  EXPECT_EQ(status.code, 1);
  EXPECT_THAT(status.err, HasSubstr("no bver.yaml"));
  EXPECT_THAT(status.err, HasSubstr("not a BVER project"));
  EXPECT_FALSE(fs::exists(empty / ".bver")) << "status outside a project writes nothing";
}

}  // namespace
