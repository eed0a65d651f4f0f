// Runs the real bver binary the way a user or a script would, and checks
// output, --json shapes and exit codes.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/run_command.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

using RunResult = bver::testing::CommandResult;

std::string Slurp(const fs::path& p) { return bver::testing::ReadFileForTest(p); }

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bver_cli_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  RunResult Run(std::vector<std::string> args) { return bver::testing::RunCommand(BVER_EXE, args, dir_); }

  fs::path Write(const std::string& name, const std::string& content) {
    fs::path p = dir_ / name;
    std::ofstream(p) << content;
    return p;
  }

  fs::path dir_;
  const std::string example_ = BVER_SOURCE_DIR "/examples/substation/bver.yaml";
};

TEST_F(CliTest, HelpForEveryCommand) {
  RunResult r = Run({"--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* cmd : {"compile", "plan", "pointer", "schema", "version"}) {
    EXPECT_THAT(r.out, HasSubstr(cmd));
  }
  for (std::vector<std::string> cmd :
       {std::vector<std::string>{"compile", "--help"}, {"plan", "--help"},
        {"pointer", "parse", "--help"}, {"schema", "validate", "--help"}, {"version", "--help"}}) {
    RunResult h = Run(cmd);
    EXPECT_EQ(h.code, 0) << cmd[0];
    EXPECT_THAT(h.out, HasSubstr("--json")) << cmd[0];
  }
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Run({}).code, 2);
  EXPECT_EQ(Run({"frobnicate"}).code, 2);
  RunResult r = Run({"pointer", "parse"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("POINTER"));
  EXPECT_EQ(Run({"compile", "--no-such-flag"}).code, 2);
}

TEST_F(CliTest, VersionJson) {
  RunResult r = Run({"version", "--json"});
  ASSERT_EQ(r.code, 0);
  json v = json::parse(r.out);
  EXPECT_EQ(v["manifest_format"], 1);
}

TEST_F(CliTest, PointerParse) {
  RunResult r = Run({"pointer", "parse", "bver://sites/site/123~4@meta.owner", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json v = json::parse(r.out);
  EXPECT_EQ(v["namespace"], "sites");
  EXPECT_EQ(v["repo"], "site");
  EXPECT_EQ(v["id"], "123");
  EXPECT_EQ(v["version"], 4);
  EXPECT_EQ(v["path"], "meta.owner");
  EXPECT_EQ(v["segments"], json::parse(R"([{"key":"meta"},{"key":"owner"}])"));

  RunResult human = Run({"pointer", "parse", "bver://sites/site/123"});
  EXPECT_EQ(human.code, 0);
  EXPECT_THAT(human.out, HasSubstr("version:   latest"));
}

TEST_F(CliTest, MalformedPointerNamesTheColumn) {
  RunResult r = Run({"pointer", "parse", "bver://sites/Site/1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("column 14"));
  RunResult j = Run({"pointer", "parse", "bver://sites/Site/1", "--json"});
  EXPECT_EQ(j.code, 1);
  json e = json::parse(j.out);
  EXPECT_EQ(e["error"]["code"], "invalid_argument");
  EXPECT_EQ(e["error"]["violations"][0]["path"], "column 14");
}

TEST_F(CliTest, SchemaValidate) {
  fs::path schema = Write("s.json", R"({"type":"object","required":["name"],
      "properties":{"name":{"type":"string"},"n":{"type":"integer","maximum":3}}})");
  fs::path good = Write("good.json", R"({"name":"x","n":2})");
  fs::path bad = Write("bad.json", R"({"n":9})");
  EXPECT_EQ(Run({"schema", "validate", "--schema", schema, "--instance", good}).code, 0);
  RunResult r = Run({"schema", "validate", "--schema", schema, "--instance", bad, "--json"});
  EXPECT_EQ(r.code, 1);
  json e = json::parse(r.out);
  std::vector<std::string> paths;
  for (const json& v : e["error"]["violations"]) paths.push_back(v["path"]);
  EXPECT_THAT(paths, ::testing::UnorderedElementsAre("", "n"));
  fs::path broken = Write("broken.json", "{\"name\": ");
  RunResult b = Run({"schema", "validate", "--schema", schema, "--instance", broken});
  EXPECT_EQ(b.code, 1);
  EXPECT_THAT(b.err, HasSubstr("broken.json"));
}

TEST_F(CliTest, CompileWritesManifestAndPrintsFingerprint) {
  fs::path out = dir_ / "out";
  RunResult r = Run({"compile", "-f", example_, "-o", out, "--json"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  json v = json::parse(r.out);
  EXPECT_THAT(v["manifest_fingerprint"].get<std::string>(), ::testing::MatchesRegex("sha256:[0-9a-f]{64}"));
  EXPECT_TRUE(fs::exists(out / "bver.manifest.json"));
  EXPECT_TRUE(fs::exists(out / "platform.json"));
  // Same input, same fingerprint.
  RunResult again = Run({"compile", "-f", example_, "-o", out, "--json"});
  EXPECT_EQ(json::parse(again.out)["manifest_fingerprint"], v["manifest_fingerprint"]);
}

TEST_F(CliTest, CompileErrorNamesFileLineColumnAndWritesNothing) {
  std::string text = Slurp(example_);
  text.replace(text.find("    owner: core"), 15, "    ownr: core");
  fs::path bad = Write("bver.yaml", text);
  RunResult r = Run({"compile", "-f", bad, "-o", dir_ / "out"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, ::testing::ContainsRegex("bver\\.yaml:[0-9]+:5: namespaces\\.sites\\.ownr: unknown key"));
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(CliTest, CompileMissingFile) {
  RunResult r = Run({"compile", "-f", (dir_ / "nope.yaml").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("nope.yaml"));
}

TEST_F(CliTest, PlanListsWhatWillBeGenerated) {
  RunResult r = Run({"plan", "-f", example_});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"sites/site", "assets/asset", "documents/document", "power.substation",
                        "pointer site -> sites/site", "refs.site.create", "refs.asset.diff",
                        "resolve", "substation.skeleton@1.0.0", "adapters required",
                        "substation-starter"}) {
    EXPECT_THAT(r.out, HasSubstr(s));
  }
  RunResult j = Run({"plan", "-f", example_, "--json"});
  ASSERT_EQ(j.code, 0);
  json v = json::parse(j.out);
  EXPECT_EQ(v["repos"].size(), 3u);
  EXPECT_GE(v["operations"].size(), 27u);
}

TEST_F(CliTest, PlanAgainstOlderDefinition) {
  std::string text = Slurp(example_);
  // The new definition drops the "ready" status: destructive.
  std::string newer = text;
  newer.replace(newer.find("enum: [draft, ready]"), 20, "enum: [draft, live]");
  fs::path nf = Write("bver.yaml", newer);
  RunResult r = Run({"plan", "-f", nf, "--against", example_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("destructive sites/site: status: enum value removed"));
  EXPECT_THAT(r.out, HasSubstr("touches sites/site where status in [\"ready\"]"));
  EXPECT_THAT(r.err, HasSubstr("--allow-destructive"));
  EXPECT_EQ(Run({"plan", "-f", nf, "--against", example_, "--allow-destructive"}).code, 0);
  RunResult j = Run({"plan", "-f", nf, "--against", example_, "--json"});
  EXPECT_EQ(j.code, 1);
  json v = json::parse(j.out);
  EXPECT_EQ(v["summary"]["destructive"], 1);
  EXPECT_EQ(v["accepted"], false);

  // Against a compiled manifest works the same.
  fs::path out = dir_ / "old";
  ASSERT_EQ(Run({"compile", "-f", example_, "-o", out}).code, 0);
  RunResult m = Run({"plan", "-f", nf, "--against", (out / "bver.manifest.json").string()});
  EXPECT_EQ(m.code, 1);
  EXPECT_THAT(m.out, HasSubstr("enum value removed"));
}

TEST_F(CliTest, DirectoryFlag) {
  RunResult r = Run({"-C", BVER_SOURCE_DIR "/examples/substation", "plan", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["platform"]["id"], "substation");
  EXPECT_EQ(Run({"-C", "/nonexistent", "plan"}).code, 2);
}

TEST_F(CliTest, ReferenceLifecycleOverTheEmbeddedStore) {
  fs::copy_file(example_, dir_ / "bver.yaml");
  std::string d = dir_.string();
  RunResult c = Run({"-C", d, "ref", "create", "site", "--kind", "power.substation", "--id", "n1", "--data",
                     R"({"name":"North","voltage_levels_kv":[110,20]})", "--json"});
  ASSERT_EQ(c.code, 0) << c.err << c.out;
  json created = json::parse(c.out);
  EXPECT_EQ(created["pointer"], "bver://sites/site/n1~1");
  EXPECT_EQ(created["body"]["status"], "draft");
  EXPECT_TRUE(fs::exists(dir_ / ".bver" / "bver.db")) << "default store is .bver/bver.db";

  RunResult p = Run({"-C", d, "ref", "patch", "bver://sites/site/n1", "--merge", R"({"status":"ready"})",
                     "--expect-version", "1", "--json"});
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(json::parse(p.out)["version"], 2);
  RunResult stale = Run({"-C", d, "ref", "patch", "bver://sites/site/n1", "--merge", R"({"status":"draft"})",
                         "--expect-version", "1", "--json"});
  EXPECT_EQ(stale.code, 1);
  // The same problem REST answers (412) for a stale expected version.
  EXPECT_EQ(json::parse(stale.out)["code"], "failed_precondition");
  EXPECT_EQ(json::parse(stale.out)["status"], 412);

  RunResult r = Run({"-C", d, "resolve", "bver://sites/site/n1~1@status", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["value"], "draft");

  RunResult l = Run({"-C", d, "ref", "list", "site", "--where", "status=ready", "--json"});
  ASSERT_EQ(l.code, 0) << l.err;
  ASSERT_EQ(json::parse(l.out)["items"].size(), 1u) << l.out;  // REST's page: items, next_cursor
  EXPECT_EQ(json::parse(l.out)["items"][0]["id"], "n1");

  RunResult h = Run({"-C", d, "ref", "history", "bver://sites/site/n1", "--json"});
  ASSERT_EQ(h.code, 0);
  EXPECT_THAT(h.out, HasSubstr("\"change\":\"patched\""));

  RunResult df = Run({"-C", d, "ref", "diff", "bver://sites/site/n1", "--from", "1", "--to", "2", "--json"});
  ASSERT_EQ(df.code, 0);
  EXPECT_EQ(json::parse(df.out)["patch"], json::parse(R"([{"op":"replace","path":"/status","value":"ready"}])"));

  RunResult e = Run({"-C", d, "events", "tail", "--json"});
  ASSERT_EQ(e.code, 0);
  EXPECT_THAT(e.out, HasSubstr("ref.patched"));
  RunResult v = Run({"-C", d, "ledger", "verify", "--json"});
  ASSERT_EQ(v.code, 0);
  EXPECT_EQ(json::parse(v.out)["entries"], 2);

  // Bad input: clear errors, exit 1, nothing written.
  RunResult bad = Run({"-C", d, "ref", "create", "site", "--data", R"({"name":5})", "--json"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(json::parse(bad.out)["errors"][0]["path"], "body.name");  // the input's path, as REST names it
  EXPECT_EQ(Run({"-C", d, "ref", "create", "site", "--data", "{not json"}).code, 1);
  EXPECT_EQ(Run({"-C", d, "ref", "get", "bver://sites/site/nobody"}).code, 1);
  EXPECT_EQ(Run({"-C", d, "ref", "get", "not-a-pointer"}).code, 1);
  EXPECT_EQ(Run({"-C", d, "ref", "list", "site", "--where", "a..b=1"}).code, 1);
  EXPECT_EQ(Run({"-C", d, "ref", "create", "site", "--data", "{}", "--store", "mysql://x"}).code, 1);
  RunResult after = Run({"-C", d, "events", "tail", "--json"});
  EXPECT_EQ(std::count(after.out.begin(), after.out.end(), '\n'), 2);

  // Filters, and durable consumers through the CLI.
  RunResult only_created = Run({"-C", d, "events", "tail", "--type", "ref.created", "--json"});
  ASSERT_EQ(only_created.code, 0) << only_created.err;
  EXPECT_EQ(std::count(only_created.out.begin(), only_created.out.end(), '\n'), 1);
  EXPECT_THAT(only_created.out, HasSubstr("\"event_type\":\"ref.created\""));
  RunResult followed = Run({"-C", d, "events", "tail", "--from", "1", "--follow", "--limit", "2", "--json"});
  ASSERT_EQ(followed.code, 0) << followed.err;  // --limit ends a follow
  EXPECT_EQ(std::count(followed.out.begin(), followed.out.end(), '\n'), 2);
  RunResult cons = Run({"-C", d, "events", "consumers", "create", "sites", "--from", "1", "--prefix",
                        "bver://sites/site/", "--json"});
  ASSERT_EQ(cons.code, 0) << cons.err;
  EXPECT_EQ(json::parse(cons.out)["next_offset"], 1);
  EXPECT_EQ(json::parse(cons.out)["lag"], 2);
  RunResult seek = Run({"-C", d, "events", "consumers", "seek", "sites", "2", "--json"});
  ASSERT_EQ(seek.code, 0) << seek.err;
  EXPECT_EQ(json::parse(seek.out)["next_offset"], 2);
  RunResult listed = Run({"-C", d, "events", "consumers", "list", "--json"});
  ASSERT_EQ(listed.code, 0);
  EXPECT_EQ(json::parse(listed.out)["consumers"].size(), 1u);
  // Bad input: exit 1 with the reason, the consumer unchanged; usage is 2.
  RunResult bad_name = Run({"-C", d, "events", "consumers", "create", "Bad Name", "--json"});
  EXPECT_EQ(bad_name.code, 1);
  // The operation's problem: the violation's path in its input, as REST names it.
  EXPECT_EQ(json::parse(bad_name.out)["errors"][0]["path"], "consumer.name");
  RunResult other = Run({"-C", d, "events", "consumers", "create", "sites", "--channel", "control"});
  EXPECT_EQ(other.code, 1);
  EXPECT_THAT(other.err, HasSubstr("exists"));
  EXPECT_EQ(Run({"-C", d, "events", "consumers", "show", "nobody"}).code, 1);
  EXPECT_EQ(Run({"-C", d, "events", "consumers", "seek", "sites", "0"}).code, 1);
  EXPECT_EQ(Run({"-C", d, "events", "consumers", "seek", "sites", "x"}).code, 2);
  RunResult still = Run({"-C", d, "events", "consumers", "show", "sites", "--json"});
  ASSERT_EQ(still.code, 0);
  EXPECT_EQ(json::parse(still.out)["next_offset"], 2);
  EXPECT_EQ(json::parse(still.out)["filter"]["pointer_prefix"], "bver://sites/site/");
  ASSERT_EQ(Run({"-C", d, "events", "consumers", "delete", "sites"}).code, 0);
  EXPECT_EQ(Run({"-C", d, "events", "consumers", "delete", "sites"}).code, 1);
}

}  // namespace
