// bver init and bver reset with the real binary: every template initialised
// into a new folder and served by `bver up` at once (a reference created
// over REST); the refusals of init (a folder that is not empty, an unknown
// template); reset refused without --yes and without a terminal, while
// `bver up` serves the store, while another process has it open, and for a
// PostgreSQL store; asked and answered on a terminal (a pty); and with
// --yes the store gone and served again empty.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/child_registry.h"
#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class SandboxCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bver_sandbox_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "scratch");
  }
  void TearDown() override {
    for (bver::testing::ServerProcess& s : servers_) {
      if (s.pid > 0) bver::testing::StopServer(s);
    }
    fs::remove_all(dir_);
  }

  // bver ARGS in `cwd` (the test folder by default), standard input from
  // /dev/null (never a terminal), without a store chosen by the environment.
  bver::testing::CommandResult Bver(std::vector<std::string> args, const fs::path& cwd = {}) {
    args.insert(args.begin(), {"-C", (cwd.empty() ? dir_ : cwd).string()});
    bver::testing::CommandOptions options;
    options.stdin_file = "/dev/null";
    options.env = {{"BVER_STORE", ""}, {"BVER_ARTIFACTS_DIR", ""}};
    return bver::testing::RunCommand(BVER_EXE, args, dir_ / "scratch", options);
  }

  // `bver up` in `project` on a free loopback port, stopped by TearDown
  // when the test does not stop it.
  bver::testing::ServerProcess& Up(const fs::path& project) {
    servers_.push_back(bver::testing::StartBverUp(BVER_EXE, project, {"--listen", "127.0.0.1:0"}));
    return servers_.back();
  }

  static bool Ready(int port) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (bver::testing::HttpRequestOnce(port, "GET", "/readyz").status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  fs::path Init(const std::string& name, const std::string& template_name = "minimal") {
    bver::testing::CommandResult r = Bver({"init", "--template", template_name, name});
    EXPECT_EQ(r.code, 0) << r.err << r.out;
    return dir_ / name;
  }

  fs::path dir_;
  std::vector<bver::testing::ServerProcess> servers_;
};

std::string Slurp(const fs::path& p) { return bver::testing::ReadFileForTest(p); }

struct TemplateCase {
  std::string name;
  std::string example;     // the examples/ file it must equal; "" for none
  std::string repo;        // ns/repo to create in
  std::string body;
};

TEST_F(SandboxCli, EveryTemplateIsServedByBverUpAtOnce) {
  const std::vector<TemplateCase> cases = {
      {"minimal", "", "notes/note", R"({"title":"First note","tags":["start"]})"},
      {"substation", "examples/substation/bver.yaml", "sites/site", R"({"name":"North","voltage_levels_kv":[132,33]})"},
      {"grid", "examples/grid/bver.yaml", "grid/network", R"({"name":"Demo","base_mva":100})"},
  };
  for (const TemplateCase& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path project = dir_ / ("p-" + c.name);
    bver::testing::CommandResult init = Bver({"init", "--template", c.name, "--json", project.string()});
    ASSERT_EQ(init.code, 0) << init.err << init.out;
    json j = json::parse(init.out);
    EXPECT_EQ(j["template"], c.name);
    EXPECT_EQ(fs::path(j["dir"].get<std::string>()), fs::weakly_canonical(project));
    EXPECT_THAT(j["files"], Contains("bver.yaml"));
    EXPECT_THAT(j["files"], Contains("README.md"));
    EXPECT_THAT(j["files"], Contains(".gitignore"));
    EXPECT_TRUE(j["replaced"].empty());
    for (const json& f : j["files"]) EXPECT_TRUE(fs::exists(project / f.get<std::string>())) << f;
    if (!c.example.empty()) {
      // The examples' own files, embedded in the binary.
      EXPECT_EQ(Slurp(project / "bver.yaml"), Slurp(fs::path(BVER_SOURCE_DIR) / c.example));
    }
    if (c.name == "substation") {
      EXPECT_EQ(Slurp(project / "subscribers" / "doc_indexer.mjs"),
                Slurp(fs::path(BVER_SOURCE_DIR) / "examples/substation/subscribers/doc_indexer.mjs"));
    }
    EXPECT_THAT(Slurp(project / ".gitignore"), HasSubstr("\n.bver/\n"));
    EXPECT_THAT(Slurp(project / "README.md"), HasSubstr("bver up"));
    EXPECT_THAT(Slurp(project / "README.md"), HasSubstr("bver ref create"));

    bver::testing::CommandResult plan = Bver({"plan"}, project);
    EXPECT_EQ(plan.code, 0) << plan.err;

    bver::testing::ServerProcess& up = Up(project);
    ASSERT_GT(up.port, 0) << Slurp(up.stderr_path);
    ASSERT_TRUE(Ready(up.port)) << Slurp(up.stderr_path);
    bver::testing::HttpReply created =
        bver::testing::HttpRequestOnce(up.port, "POST", "/v1/refs/" + c.repo + "?id=first", c.body);
    EXPECT_EQ(created.status, 201) << created.body;
    bver::testing::HttpReply got = bver::testing::HttpRequestOnce(up.port, "GET", "/v1/refs/" + c.repo + "/first");
    EXPECT_EQ(got.status, 200) << got.body;
    EXPECT_EQ(bver::testing::StopServer(up), 0) << Slurp(up.stderr_path);
    EXPECT_TRUE(fs::exists(project / ".bver" / "bver.db"));
  }
}

TEST_F(SandboxCli, TextOutputNamesTheFilesAndTheNextCommands) {
  bver::testing::CommandResult r = Bver({"init", "notes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("created a minimal project in notes"));
  EXPECT_THAT(r.out, HasSubstr("  bver.yaml\n"));
  EXPECT_THAT(r.out, HasSubstr("cd notes && bver up"));
  EXPECT_THAT(r.out, HasSubstr("bver ref create note --data"));
  for (const char* cmd : {"init", "reset"}) {
    bver::testing::CommandResult help = Bver({cmd, "--help"});
    EXPECT_EQ(help.code, 0) << cmd;
    EXPECT_THAT(help.out, HasSubstr("--json")) << cmd;
  }
}

TEST_F(SandboxCli, InitRefusesAFolderThatIsNotEmptyUnlessForce) {
  const fs::path project = dir_ / "busy";
  fs::create_directories(project);
  std::ofstream(project / "notes.txt") << "mine\n";
  std::ofstream(project / ".gitignore") << "build/";

  bver::testing::CommandResult refused = Bver({"init", project.string()});
  EXPECT_EQ(refused.code, 2) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("is not empty"));
  EXPECT_THAT(refused.err, HasSubstr("--force"));
  EXPECT_FALSE(fs::exists(project / "bver.yaml"));

  bver::testing::CommandResult refused_json = Bver({"init", "--json", project.string()});
  EXPECT_EQ(refused_json.code, 2);
  EXPECT_EQ(json::parse(refused_json.out)["error"]["code"], "already_exists") << refused_json.out;

  std::ofstream(dir_ / "file") << "x";
  bver::testing::CommandResult not_a_folder = Bver({"init", (dir_ / "file").string()});
  EXPECT_EQ(not_a_folder.code, 2);
  EXPECT_THAT(not_a_folder.err, HasSubstr("not a folder"));

  bver::testing::CommandResult forced = Bver({"init", "--force", "--json", project.string()});
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(Slurp(project / "notes.txt"), "mine\n") << "--force deletes nothing";
  EXPECT_TRUE(fs::exists(project / "bver.yaml"));
  EXPECT_THAT(json::parse(forced.out)["replaced"], Contains(".gitignore"));
  const std::string gitignore = Slurp(project / ".gitignore");
  EXPECT_EQ(gitignore.rfind("build/\n", 0), 0u) << "the folder's own lines stay first: " << gitignore;
  EXPECT_THAT(gitignore, HasSubstr("\n.bver/\n"));

  // Again: bver.yaml and README.md are replaced, .gitignore already names .bver/.
  bver::testing::CommandResult again = Bver({"init", "--force", "--json", project.string()});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(json::parse(again.out)["replaced"], Contains("bver.yaml"));
  EXPECT_EQ(Slurp(project / ".gitignore"), gitignore);
}

TEST_F(SandboxCli, InitRefusesAnUnknownTemplate) {
  bver::testing::CommandResult r = Bver({"init", "--template", "nope", "x"});
  EXPECT_EQ(r.code, 2);
  for (const char* name : {"minimal", "substation", "grid"}) EXPECT_THAT(r.err, HasSubstr(name));
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}

TEST_F(SandboxCli, ResetWantsYesWithoutATerminalThenDeletesTheStoreAndKeepsBackups) {
  const fs::path project = Init("notes");
  bver::testing::CommandResult created =
      Bver({"ref", "create", "note", "--id", "n1", "--data", R"({"title":"kept?"})"}, project);
  ASSERT_EQ(created.code, 0) << created.err;
  fs::create_directories(project / ".bver" / "backups");
  std::ofstream(project / ".bver" / "backups" / "pre-migrate-x.db") << "snapshot";
  fs::create_directories(project / ".bver" / "artifacts");
  std::ofstream(project / ".bver" / "artifacts" / "blob") << "content";

  bver::testing::CommandResult refused = Bver({"reset"}, project);
  EXPECT_EQ(refused.code, 1) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("--yes"));
  bver::testing::CommandResult refused_json = Bver({"reset", "--json"}, project);
  EXPECT_EQ(refused_json.code, 1);
  EXPECT_EQ(json::parse(refused_json.out)["error"]["code"], "failed_precondition") << refused_json.out;
  EXPECT_TRUE(fs::exists(project / ".bver" / "bver.db"));
  EXPECT_TRUE(fs::exists(project / ".bver" / "artifacts" / "blob"));
  EXPECT_EQ(Bver({"ref", "get", "bver://notes/note/n1"}, project).code, 0) << "nothing was deleted";

  bver::testing::CommandResult reset = Bver({"reset", "--yes", "--json"}, project);
  ASSERT_EQ(reset.code, 0) << reset.err << reset.out;
  json j = json::parse(reset.out);
  EXPECT_THAT(j["removed"], Contains(".bver/bver.db"));
  EXPECT_THAT(j["removed"], Contains(".bver/artifacts"));
  EXPECT_THAT(j["kept"], Contains(".bver/backups"));
  EXPECT_FALSE(fs::exists(project / ".bver" / "bver.db"));
  EXPECT_FALSE(fs::exists(project / ".bver" / "bver.db-wal"));
  EXPECT_FALSE(fs::exists(project / ".bver" / "artifacts"));
  EXPECT_EQ(Slurp(project / ".bver" / "backups" / "pre-migrate-x.db"), "snapshot");
  EXPECT_TRUE(fs::exists(project / "bver.yaml"));

  // Served again, empty.
  bver::testing::ServerProcess& up = Up(project);
  ASSERT_GT(up.port, 0) << Slurp(up.stderr_path);
  ASSERT_TRUE(Ready(up.port)) << Slurp(up.stderr_path);
  bver::testing::HttpReply list = bver::testing::HttpRequestOnce(up.port, "GET", "/v1/refs/notes/note");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_TRUE(list.Json()["items"].empty()) << list.body;
  EXPECT_EQ(bver::testing::StopServer(up), 0);

  // Nothing more to delete than the empty store that up created; then nothing.
  EXPECT_EQ(Bver({"reset", "--yes"}, project).code, 0);
  bver::testing::CommandResult nothing = Bver({"reset", "--yes"}, project);
  EXPECT_EQ(nothing.code, 0) << nothing.err;
  EXPECT_THAT(nothing.out, HasSubstr("nothing to reset"));
}

TEST_F(SandboxCli, ResetRefusesWhileTheStoreIsServedOrOpen) {
  const fs::path project = Init("served");
  bver::testing::ServerProcess& up = Up(project);
  ASSERT_GT(up.port, 0) << Slurp(up.stderr_path);

  bver::testing::CommandResult refused = Bver({"reset", "--yes"}, project);
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("bver down"));
  EXPECT_THAT(refused.err, HasSubstr(std::to_string(up.pid)));

  // Another project naming the same database: no up.json of its own, but
  // SQLite's lock says the file is open.
  const fs::path other = Init("other");
  const std::string db = "sqlite:" + (project / ".bver" / "bver.db").string();
  bver::testing::CommandResult locked = Bver({"reset", "--yes", "--store", db}, other);
  EXPECT_EQ(locked.code, 1);
  EXPECT_THAT(locked.err, HasSubstr("open in another process"));
  EXPECT_TRUE(fs::exists(project / ".bver" / "bver.db"));
  EXPECT_EQ(bver::testing::StopServer(up), 0);
}

TEST_F(SandboxCli, ResetRefusesAPostgresStoreAndOutsideAProject) {
  const fs::path project = Init("pg");
  bver::testing::CommandResult r =
      Bver({"reset", "--yes", "--store", "postgresql://bver:secret@127.0.0.1:1/bver"}, project);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("PostgreSQL tools"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("secret")));

  bver::testing::CommandResult outside = Bver({"reset", "--yes"}, dir_ / "scratch");
  EXPECT_EQ(outside.code, 1);
  EXPECT_THAT(outside.err, HasSubstr("not a BVER project folder"));
}

// `bver ARGS` on a pseudo-terminal: waits for `prompt`, types `answer`.
struct PtyRun {
  int code = -1;
  std::string output;
};

PtyRun RunOnTerminal(const std::vector<std::string>& args, const std::string& prompt, const std::string& answer) {
  PtyRun r;
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return r;
  if (pid == 0) {
    std::vector<std::string> all = {BVER_EXE};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::unsetenv("BVER_STORE");
    ::unsetenv("BVER_ARTIFACTS_DIR");
    ::execv(BVER_EXE, argv.data());
    ::_exit(127);
  }
  bver::testing::ChildRegistry::Get().Track(pid);
  bool answered = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: the child closed the terminal
    r.output.append(buf, static_cast<std::size_t>(n));
    if (!answered && r.output.find(prompt) != std::string::npos) {
      std::string line = answer + "\n";
      if (::write(master, line.data(), line.size()) != static_cast<ssize_t>(line.size())) break;
      answered = true;
    }
  }
  if (std::chrono::steady_clock::now() >= deadline) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  bver::testing::ChildRegistry::Get().Forget(pid);
  ::close(master);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

TEST_F(SandboxCli, ResetAsksOnATerminalForTheFolderName) {
  const fs::path project = Init("asked");
  ASSERT_EQ(Bver({"ref", "create", "note", "--data", R"({"title":"t"})"}, project).code, 0);

  PtyRun no = RunOnTerminal({"-C", project.string(), "reset"}, "or yes to delete it: ", "no");
  EXPECT_EQ(no.code, 1) << no.output;
  EXPECT_THAT(no.output, HasSubstr(".bver/bver.db"));
  EXPECT_THAT(no.output, HasSubstr("not confirmed; nothing was deleted"));
  EXPECT_TRUE(fs::exists(project / ".bver" / "bver.db"));

  PtyRun yes = RunOnTerminal({"-C", project.string(), "reset"}, "or yes to delete it: ", "asked");
  EXPECT_EQ(yes.code, 0) << yes.output;
  EXPECT_THAT(yes.output, HasSubstr("removed .bver/bver.db"));
  EXPECT_FALSE(fs::exists(project / ".bver" / "bver.db"));
}

}  // namespace
