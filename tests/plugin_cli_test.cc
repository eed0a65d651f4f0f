// bver plugins install | list | show | remove and bver doctor, end to end:
// the real binary on a copy of the substation example, with the first-party
// plugins (the native one as CMake built it).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/run_command.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using bver::testing::CommandResult;

const fs::path kSource = BVER_SOURCE_DIR;
const fs::path kStarter = fs::path(BVER_BINARY_DIR) / "plugins/substation-starter";
const fs::path kChecks = kSource / "plugins/substation-checks";

class PluginCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bver_plugin_cli_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "scratch");
    fs::copy_file(kSource / "examples/substation/bver.yaml", dir_ / "bver.yaml");
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", dir_.string()});
    return bver::testing::RunCommand(BVER_EXE, args, dir_ / "scratch");
  }

  json RunJson(std::vector<std::string> args, int want_code = 0) {
    args.push_back("--json");
    CommandResult r = Run(args);
    EXPECT_EQ(r.code, want_code) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  fs::path CopyChecks(const std::string& name) {
    fs::path to = dir_ / name;
    fs::copy(kChecks, to, fs::copy_options::recursive);
    return to;
  }

  static void Rewrite(const fs::path& file, const std::string& from, const std::string& to) {
    std::string text = bver::testing::ReadFileForTest(file);
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    std::ofstream(file) << text;
  }

  fs::path dir_;
};

TEST_F(PluginCli, DoctorPrintsTheApiLevelAndNetworkIsolation) {
  json d = RunJson({"doctor"});
  EXPECT_EQ(d["runtime_api"], 1);
  EXPECT_EQ(d["plugin_abi"], 1);
  EXPECT_EQ(d["plugin_protocol"], 1);
  ASSERT_TRUE(d["network_isolation"]["available"].is_boolean());
  if (!d["network_isolation"]["available"].get<bool>()) {
    EXPECT_FALSE(d["network_isolation"]["reason"].get<std::string>().empty());
  }
  CommandResult text = Run({"doctor"});
  EXPECT_EQ(text.code, 0);
  EXPECT_THAT(text.out, HasSubstr("runtime API level: 1"));
  EXPECT_THAT(text.out, HasSubstr("network isolation for exec plugins: "));
}

TEST_F(PluginCli, InstallListShowRemove) {
  json empty = RunJson({"plugins", "list"});
  EXPECT_TRUE(empty["plugins"].empty());
  EXPECT_EQ(empty["missing"].size(), 2u) << empty.dump();

  json starter = RunJson({"plugins", "install", kStarter.string()});
  EXPECT_EQ(starter["plugin_id"], "substation-starter");
  EXPECT_EQ(starter["kind"], "native");
  fs::path installed = dir_ / ".bver/plugins/substation-starter/1.0.0";
  EXPECT_EQ(starter["folder"], fs::weakly_canonical(installed).string());
  EXPECT_TRUE(fs::exists(installed / "substation_starter.so"));

  CommandResult checks = Run({"plugins", "install", kChecks.string()});
  ASSERT_EQ(checks.code, 0) << checks.err;
  EXPECT_THAT(checks.out, HasSubstr("installed substation-checks 1.0.0 (exec)"));
  EXPECT_THAT(checks.out, HasSubstr("substation.sanity (validator 1.0.0)"));

  json list = RunJson({"plugins", "list"});
  ASSERT_EQ(list["plugins"].size(), 2u);
  EXPECT_EQ(list["plugins"][0]["plugin_id"], "substation-checks");
  EXPECT_EQ(list["plugins"][1]["plugin_id"], "substation-starter");
  for (const json& p : list["plugins"]) {
    EXPECT_EQ(p["compatible"], true) << p.dump();
    EXPECT_EQ(p["manifest_digest"].get<std::string>().rfind("sha256:", 0), 0u);
  }
  EXPECT_TRUE(list["missing"].empty());
  CommandResult human = Run({"plugins", "list"});
  EXPECT_THAT(human.out, HasSubstr("substation-starter  1.0.0  native  substation.skeleton (generator 1.0.0)  compatible: yes"));
  EXPECT_THAT(human.out, HasSubstr("2 plugin(s)"));

  json show = RunJson({"plugins", "show", "substation-starter"});
  EXPECT_EQ(show["capabilities"][0]["writes"], json({"assets/asset"}));
  EXPECT_EQ(show["capabilities"][0]["limits"]["timeout_seconds"], 30);
  EXPECT_EQ(show["runtime_api"], json({{"min", 1}, {"max", 1}}));

  json removed = RunJson({"plugins", "remove", "substation-checks"});
  EXPECT_EQ(removed["removed"], true);
  EXPECT_FALSE(fs::exists(dir_ / ".bver/plugins/substation-checks"));
  json gone = RunJson({"plugins", "show", "substation-checks"}, 1);
  EXPECT_EQ(gone["error"]["code"], "not_found");
  json after = RunJson({"plugins", "list"});
  EXPECT_EQ(after["plugins"].size(), 1u);
  ASSERT_EQ(after["missing"].size(), 1u);
  EXPECT_THAT(after["missing"][0].get<std::string>(), HasSubstr("needs plugin substation-checks"));
  EXPECT_EQ(RunJson({"plugins", "remove", "substation-checks"}, 1)["error"]["code"], "not_found");
}

TEST_F(PluginCli, RefusalsAreDomainErrorsWithReasons) {
  ASSERT_EQ(Run({"plugins", "install", kChecks.string()}).code, 0);
  fs::path v2 = CopyChecks("v2");
  Rewrite(v2 / "bver_plugin.yaml", "version: 1.0.0", "version: 1.1.0");
  json again = RunJson({"plugins", "install", v2.string()}, 1);
  EXPECT_EQ(again["error"]["code"], "already_exists");

  // Replacing with an incompatible version lists every problem, and keeps the old one.
  Rewrite(v2 / "bver_plugin.yaml", "type: validator", "type: evaluator");
  Rewrite(v2 / "bver_plugin.yaml", "runtime_api_max: 1", "runtime_api_max: 1\nowns: { namespaces: [sites] }");
  CommandResult bad = Run({"plugins", "install", "--replace", v2.string()});
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, HasSubstr("is not compatible (2 problem(s))"));
  EXPECT_THAT(bad.err, HasSubstr("provides it as a evaluator"));
  EXPECT_THAT(bad.err, HasSubstr("claims namespace sites, which bver.yaml gives to core"));
  EXPECT_EQ(RunJson({"plugins", "show", "substation-checks"})["version"], "1.0.0");

  // A manifest error names file:line:column.
  fs::path broken = CopyChecks("broken");
  Rewrite(broken / "bver_plugin.yaml", "kind: exec", "kind: exe");
  CommandResult b = Run({"plugins", "install", broken.string()});
  EXPECT_EQ(b.code, 1);
  EXPECT_THAT(b.err, HasSubstr("bver_plugin.yaml:8:1"));
  EXPECT_THAT(b.err, HasSubstr("unknown kind \"exe\""));
  EXPECT_EQ(Run({"plugins", "install", (dir_ / "nowhere").string()}).code, 1);

  // An edited installed copy shows as incompatible, with why.
  std::ofstream(dir_ / ".bver/plugins/substation-checks/1.0.0/bver_plugin.yaml", std::ios::app) << "# edited\n";
  json list = RunJson({"plugins", "list"});
  ASSERT_EQ(list["plugins"].size(), 1u);
  EXPECT_EQ(list["plugins"][0]["compatible"], false);
  EXPECT_THAT(list["plugins"][0]["problems"][0].get<std::string>(), HasSubstr("manifest changed since install"));
  ASSERT_EQ(list["missing"].size(), 1u) << list.dump();  // only the starter, never installed here
  EXPECT_THAT(list["missing"][0].get<std::string>(), HasSubstr("needs plugin substation-starter"))
      << "a damaged plugin is installed, not missing";
  ASSERT_EQ(Run({"plugins", "install", kChecks.string()}).code, 0);  // repairs it
  EXPECT_EQ(RunJson({"plugins", "list"})["plugins"][0]["compatible"], true);
}

TEST_F(PluginCli, InstallFromABundle) {
  std::string bundle = (dir_ / "checks.tgz").string();
  std::string cmd = "tar -czf " + bundle + " -C " + kChecks.parent_path().string() + " substation-checks";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  json p = RunJson({"plugins", "install", bundle});
  EXPECT_EQ(p["plugin_id"], "substation-checks");
  EXPECT_TRUE(fs::exists(dir_ / ".bver/plugins/substation-checks/1.0.0/checks.py"));
}

TEST_F(PluginCli, UsageAndHelp) {
  EXPECT_EQ(Run({"plugins"}).code, 2);
  EXPECT_EQ(Run({"plugins", "install"}).code, 2);
  for (const char* cmd : {"install", "list", "show", "remove"}) {
    CommandResult h = Run({"plugins", cmd, "--help"});
    EXPECT_EQ(h.code, 0) << cmd;
    EXPECT_THAT(h.out, HasSubstr("--json")) << cmd;
  }
  CommandResult d = Run({"doctor", "--help"});
  EXPECT_EQ(d.code, 0);
  EXPECT_THAT(d.out, HasSubstr("--json"));
}

}  // namespace
