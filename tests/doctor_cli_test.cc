// bver doctor end to end with the real binary: a fresh project is healthy;
// a plugin bver.yaml no longer agrees with fails with its reason; NATS is
// checked with a real nats-server running, then stopped, and on a closed
// port; a profile that requires auth fails until an API key exists; a store
// whose newest event is an hour ahead of the clock fails the clock check;
// the disk checks carry their figures. Every process a test starts is
// stopped and its folder removed, also when it fails.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/store/open.h"
#include "src/store/store.h"
#include "tests/support/nats_server.h"
#include "tests/support/run_command.h"

namespace {

namespace fs = std::filesystem;
using bver::testing::CommandResult;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kSource = BVER_SOURCE_DIR;

class DoctorCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bver_doctor_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "scratch");
    project_ = dir_ / "project";
  }
  void TearDown() override {
    bver::testing::StopNatsServer(nats_);
    fs::remove_all(dir_);
  }

  // `bver init` of the minimal template.
  void InitProject() {
    CommandResult r =
        bver::testing::RunCommand(BVER_EXE, {"init", project_.string()}, dir_ / "scratch", Env());
    ASSERT_EQ(r.code, 0) << r.out << r.err;
  }

  // The environment a user without BVER_* settings has, plus `extra`.
  static bver::testing::CommandOptions Env(std::map<std::string, std::string> extra = {}) {
    bver::testing::CommandOptions o;
    o.env = {{"BVER_NATS_URL", ""},
             {"BVER_PROFILE", ""},
             {"BVER_STORE", ""},
             {"BVER_ARTIFACTS_DIR", ""}};
    for (auto& [k, v] : extra) o.env[k] = v;
    return o;
  }

  CommandResult Bver(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {"-C", project_.string()});
    return bver::testing::RunCommand(BVER_EXE, args, dir_ / "scratch", Env(std::move(env)));
  }

  // bver doctor --json with `args`: the document, after checking the exit code.
  json Doctor(std::vector<std::string> args, int want_code,
              std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), "doctor");
    args.push_back("--json");
    CommandResult r = Bver(args, std::move(env));
    EXPECT_EQ(r.code, want_code) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out << r.err;
    return j.is_object() ? j : json::object();
  }

  static json Check(const json& doc, const std::string& name) {
    for (const json& c : doc.value("checks", json::array())) {
      if (c.value("name", "") == name) return c;
    }
    ADD_FAILURE() << "no check " << name << " in " << doc.dump();
    return json::object();
  }

  fs::path dir_;
  fs::path project_;
  bver::testing::NatsServer nats_;
};

TEST_F(DoctorCli, AFreshProjectIsHealthy) {
  InitProject();
  json d = Doctor({}, 0);
  EXPECT_EQ(d["ok"], true) << d.dump(2);
  std::vector<std::string> names;
  for (const json& c : d["checks"]) {
    names.push_back(c["name"]);
    const std::string status = c["status"];
    ASSERT_TRUE(c["detail"].is_string()) << c.dump();
    EXPECT_FALSE(c["detail"].get<std::string>().empty()) << c.dump();
    EXPECT_EQ(c["detail"].get<std::string>().find('\n'), std::string::npos)
        << "one line: " << c.dump();
    if (c["name"] == "clock.sync" || c["name"] == "disk.store" || c["name"] == "disk.artifacts") {
      // Whether this machine's kernel says its clock is synchronized (a
      // container reports the host's), or its disk is nearly full, is the
      // machine's state, not the project's: a warning at most.
      EXPECT_THAT(status, ::testing::AnyOf("ok", "warn", "skipped")) << c.dump();
    } else {
      EXPECT_THAT(status, ::testing::AnyOf("ok", "skipped")) << c.dump();
    }
    if (status == "warn" || status == "fail") {
      EXPECT_TRUE(c["fix"].is_string()) << c.dump();
    } else {
      EXPECT_FALSE(c.contains("fix")) << c.dump();
    }
  }
  EXPECT_EQ(names, std::vector<std::string>({"store", "plugins", "nats", "disk.store",
                                             "disk.artifacts", "clock", "clock.sync", "profile"}));
  EXPECT_EQ(Check(d, "store")["status"], "ok");
  EXPECT_EQ(Check(d, "store")["migration"], "current");
  EXPECT_THAT(Check(d, "store")["detail"].get<std::string>(), HasSubstr("migrated to it"));
  EXPECT_EQ(Check(d, "plugins")["status"], "ok");
  EXPECT_EQ(Check(d, "plugins")["items"], json::array());
  EXPECT_EQ(Check(d, "nats")["status"], "skipped");
  EXPECT_THAT(Check(d, "nats")["detail"].get<std::string>(), HasSubstr("not configured"));
  EXPECT_EQ(Check(d, "clock")["status"], "ok");
  EXPECT_EQ(Check(d, "profile")["status"], "ok");
  EXPECT_EQ(Check(d, "profile")["profile"], "local");
  EXPECT_THAT(Check(d, "profile")["policy_revision"].get<std::string>(), HasSubstr("local#"));

  // Disk: where, and numbers a script can compare (the disk is not filled).
  for (const char* name : {"disk.store", "disk.artifacts"}) {
    json c = Check(d, name);
    ASSERT_TRUE(c["free_bytes"].is_number_unsigned()) << c.dump();
    ASSERT_TRUE(c["total_bytes"].is_number_unsigned()) << c.dump();
    ASSERT_TRUE(c["free_percent"].is_number()) << c.dump();
    EXPECT_GT(c["free_bytes"].get<std::uint64_t>(), 0u);
    EXPECT_LE(c["free_bytes"].get<std::uint64_t>(), c["total_bytes"].get<std::uint64_t>());
    EXPECT_THAT(c["path"].get<std::string>(), HasSubstr(project_.filename().string() + "/.bver"));
  }

  // The keys doctor printed before the checks are still there.
  EXPECT_EQ(d["project"]["migration"], "current");
  EXPECT_EQ(d["project"]["ok"], true);
  EXPECT_EQ(d["runtime_api"], 1);
  EXPECT_EQ(d["plugin_abi"], 1);
  EXPECT_TRUE(d["network_isolation"]["available"].is_boolean());
  EXPECT_TRUE(d["tools"].is_object());

  // For people: one line per check, with its mark.
  CommandResult text = Bver({"doctor"});
  EXPECT_EQ(text.code, 0) << text.out << text.err;
  EXPECT_THAT(text.out, HasSubstr("ok    store"));
  EXPECT_THAT(text.out, HasSubstr("skip  nats"));
  EXPECT_THAT(text.out, ::testing::ContainsRegex("(ok|warn)  +disk.store"));
  EXPECT_THAT(text.out, HasSubstr("runtime API level: 1"));
  EXPECT_THAT(text.out, HasSubstr("\nhealthy"));
  EXPECT_THAT(text.out, Not(HasSubstr("NOT HEALTHY")));
}

TEST_F(DoctorCli, OutsideAProjectTheProjectChecksAreSkipped) {
  fs::create_directories(project_);
  json d = Doctor({}, 0);
  EXPECT_TRUE(d["project"].is_null());
  for (const char* name : {"store", "plugins", "disk.store", "disk.artifacts", "profile"}) {
    EXPECT_EQ(Check(d, name)["status"], "skipped") << name;
    EXPECT_THAT(Check(d, name)["detail"].get<std::string>(), HasSubstr("not in a project folder"))
        << name;
  }
  EXPECT_EQ(Check(d, "clock")["status"], "ok");
}

TEST_F(DoctorCli, APluginBverYamlNoLongerAgreesWithFailsWithItsReason) {
  fs::create_directories(project_);
  fs::copy_file(kSource / "examples/substation/bver.yaml", project_ / "bver.yaml");
  CommandResult installed =
      Bver({"plugins", "install", (kSource / "plugins/substation-checks").string()});
  ASSERT_EQ(installed.code, 0) << installed.err;

  // Installed and compatible; the example's other plugin is missing: a
  // warning (references, REST and events work without it), not a failure.
  json before = Doctor({}, 0);
  json plugins = Check(before, "plugins");
  EXPECT_EQ(plugins["status"], "warn") << plugins.dump();
  EXPECT_THAT(plugins["detail"].get<std::string>(), HasSubstr("substation-starter, not installed"));
  ASSERT_EQ(plugins["items"].size(), 1u);
  EXPECT_EQ(plugins["items"][0],
            json({{"name", "substation-checks 1.0.0"}, {"ok", true}, {"detail", "compatible"}}));

  // bver.yaml now wants a version 2 of the capability the plugin provides as 1.0.0.
  std::string yaml = bver::testing::ReadFileForTest(project_ / "bver.yaml");
  const std::string from = "  substation.sanity:\n    type: validator\n    version: 1.0.0";
  std::size_t at = yaml.find(from);
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, from.size(), "  substation.sanity:\n    type: validator\n    version: 2.0.0");
  std::ofstream(project_ / "bver.yaml") << yaml;

  json after = Doctor({}, 1);
  EXPECT_EQ(after["ok"], false);
  plugins = Check(after, "plugins");
  EXPECT_EQ(plugins["status"], "fail") << plugins.dump();
  EXPECT_THAT(plugins["detail"].get<std::string>(),
              HasSubstr("1 not compatible: substation-checks 1.0.0"));
  ASSERT_EQ(plugins["items"].size(), 1u);
  EXPECT_EQ(plugins["items"][0]["ok"], false);
  EXPECT_THAT(plugins["items"][0]["detail"].get<std::string>(),
              HasSubstr("substation.sanity 2.0.0"));
  EXPECT_THAT(plugins["fix"].get<std::string>(), HasSubstr("bver plugins install --replace"));

  CommandResult text = Bver({"doctor"});
  EXPECT_EQ(text.code, 1);
  EXPECT_THAT(text.out, HasSubstr("FAIL  plugins"));
  EXPECT_THAT(text.out, HasSubstr("FAIL  substation-checks 1.0.0: "));
  EXPECT_THAT(text.out, HasSubstr("NOT HEALTHY: 1 check(s) failed"));
}

TEST_F(DoctorCli, NatsIsCheckedWhereverItIsConfigured) {
  InitProject();
  std::string error;
  nats_ = bver::testing::StartNatsServer(dir_ / "nats", 0, &error);
  ASSERT_GT(nats_.pid, 0) << error;
  const std::string url = nats_.url();

  // --nats-url, then $BVER_NATS_URL, then the profile's wiring.
  json flag = Doctor({"--nats-url", url}, 0);
  json nats = Check(flag, "nats");
  EXPECT_EQ(nats["status"], "ok") << nats.dump();
  EXPECT_EQ(nats["url"], url);
  EXPECT_EQ(nats["source"], "--nats-url");
  EXPECT_THAT(nats["detail"].get<std::string>(), HasSubstr("JetStream on"));

  json env = Doctor({}, 0, {{"BVER_NATS_URL", url}});
  EXPECT_EQ(Check(env, "nats")["status"], "ok");
  EXPECT_EQ(Check(env, "nats")["source"], "$BVER_NATS_URL");

  std::ofstream(project_ / "bver.config.yaml")
      << "profiles:\n  dev:\n    wiring:\n      nats_url: " << url << "\n";
  json wired = Doctor({"--profile", "dev"}, 0);
  EXPECT_EQ(Check(wired, "nats")["status"], "ok") << Check(wired, "nats").dump();
  EXPECT_EQ(Check(wired, "nats")["source"], "profile dev");
  EXPECT_EQ(Check(Doctor({}, 0), "nats")["status"], "skipped") << "the local profile names no NATS";

  // Stopped: a failure naming the URL, and what to do.
  bver::testing::StopNatsServer(nats_);
  json down = Doctor({"--profile", "dev"}, 1);
  EXPECT_EQ(down["ok"], false);
  nats = Check(down, "nats");
  EXPECT_EQ(nats["status"], "fail") << nats.dump();
  EXPECT_THAT(nats["detail"].get<std::string>(), HasSubstr(url));
  EXPECT_THAT(nats["fix"].get<std::string>(), HasSubstr(url));
  CommandResult text = Bver({"doctor", "--profile", "dev"});
  EXPECT_EQ(text.code, 1);
  EXPECT_THAT(text.out, HasSubstr("FAIL  nats"));
}

TEST_F(DoctorCli, ANatsUrlOnAClosedPortFails) {
  InitProject();
  const std::string url = "nats://127.0.0.1:" + std::to_string(bver::testing::FreeLoopbackPort());
  auto start = std::chrono::steady_clock::now();
  json d = Doctor({}, 1, {{"BVER_NATS_URL", url}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  json nats = Check(d, "nats");
  EXPECT_EQ(nats["status"], "fail") << nats.dump();
  EXPECT_THAT(nats["detail"].get<std::string>(), HasSubstr("not reachable: " + url));
  // Credentials in the URL are never printed.
  json secret = Doctor({"--nats-url", "nats://alice:planted-secret@127.0.0.1:" +
                                          std::to_string(bver::testing::FreeLoopbackPort())},
                       1);
  EXPECT_THAT(secret.dump(), Not(HasSubstr("planted-secret")));
}

TEST_F(DoctorCli, AProfileThatRequiresAuthFailsUntilAKeyExists) {
  InitProject();
  json before = Doctor({"--profile", "prod"}, 1);
  json profile = Check(before, "profile");
  EXPECT_EQ(profile["status"], "fail") << profile.dump();
  EXPECT_EQ(profile["profile"], "prod");
  EXPECT_EQ(profile["auth"], "required");
  EXPECT_THAT(profile["detail"].get<std::string>(),
              HasSubstr("requires auth, and none is configured"));
  EXPECT_THAT(profile["fix"].get<std::string>(), HasSubstr("bver keys create --scopes admin"));
  EXPECT_EQ(Check(Doctor({}, 0), "profile")["status"], "ok") << "local does not require it";

  CommandResult key = Bver({"keys", "create", "--scopes", "admin", "--profile", "prod"});
  ASSERT_EQ(key.code, 0) << key.out << key.err;
  json after = Doctor({"--profile", "prod"}, 0);
  profile = Check(after, "profile");
  EXPECT_EQ(profile["status"], "ok") << profile.dump();
  EXPECT_THAT(profile["detail"].get<std::string>(),
              HasSubstr("auth required: 1 active API key(s)"));
  EXPECT_THAT(profile["policy_revision"].get<std::string>(), HasSubstr("prod#"));
  EXPECT_EQ(after["ok"], true);
}

TEST_F(DoctorCli, AClockBehindTheStoresNewestEventFails) {
  InitProject();
  CommandResult created = Bver({"ref", "create", "note", "--data", R"({"title":"now"})"});
  ASSERT_EQ(created.code, 0) << created.err;
  json now = Doctor({}, 0);
  EXPECT_EQ(Check(now, "clock")["status"], "ok") << Check(now, "clock").dump();
  EXPECT_TRUE(Check(now, "clock")["newest_event_ts"].is_string());

  // An event stamped an hour ahead, as a writer with a clock an hour fast
  // would leave it.
  {
    using namespace bver;
    Result<domain::Platform> p = domain::CompileFile((project_ / "bver.yaml").string());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    json manifest = domain::ToManifest(*p);
    auto platform = std::make_shared<const domain::Platform>(std::move(p).value());
    Result<std::unique_ptr<store::Backend>> backend = store::OpenBackend(
        "sqlite:" + (project_ / ".bver" / "bver.db").string(), project_.string());
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    store::Store::Options options;
    options.manifest_fingerprint = *domain::ManifestFingerprint(manifest);
    options.clock = [] { return store::SystemClockMicros() + 3600LL * 1000000; };
    Result<std::unique_ptr<store::Store>> s =
        store::Store::Open(platform, std::move(backend).value(), options);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store::WriteContext ctx;
    ctx.actor = "doctor_cli_test";
    ASSERT_TRUE((*s)->AppendEvent("control", "test.future", "clock", json::object(), ctx).ok());
  }
  json behind = Doctor({}, 1);
  json clock = Check(behind, "clock");
  EXPECT_EQ(clock["status"], "fail") << clock.dump();
  EXPECT_THAT(clock["detail"].get<std::string>(), HasSubstr("behind the store's newest event"));
  EXPECT_THAT(clock["detail"].get<std::string>(),
              ::testing::ContainsRegex("is (59 min [0-9]+ s|1 h 0 min) behind"));
  EXPECT_FALSE(clock["fix"].get<std::string>().empty());
  CommandResult text = Bver({"doctor"});
  EXPECT_EQ(text.code, 1);
  EXPECT_THAT(text.out, HasSubstr("FAIL  clock"));
}

}  // namespace
