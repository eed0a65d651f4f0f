// The runners end to end: misbehaving exec plugins each give their specific
// Status quickly and leave this process working; the native substation
// starter and the Python substation checks run on the substation example.
#include "src/plugin/runner.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/domain/compiler.h"
#include "src/plugin/contracts.h"
#include "src/schema/validator.h"

namespace bver::plugin {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path kSource = BVER_SOURCE_DIR;
const fs::path kBinary = BVER_BINARY_DIR;

Manifest LoadOrDie(const fs::path& folder) {
  Result<Manifest> m = LoadManifest(folder.string());
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) std::abort();
  return std::move(m).value();
}

class Misbehaving : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    manifest_ = new Manifest(LoadOrDie(kSource / "tests/plugins/misbehaving"));
  }
  static void TearDownTestSuite() { delete manifest_; }

  Result<json> Run(const std::string& capability, json input = json::object()) {
    Result<std::unique_ptr<Runner>> r = MakeExecRunner(*manifest_, capability);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return r.status();
    Invocation inv;
    inv.capability_id = capability;
    inv.capability_version = "1.0.0";
    inv.input = std::move(input);
    inv.job_id = "job-1";
    inv.attempt = 2;
    auto start = std::chrono::steady_clock::now();
    Result<json> out = (*r)->Invoke(inv);
    elapsed_ = std::chrono::steady_clock::now() - start;
    return out;
  }

  std::string Stderr(const Status& s) {
    for (const Violation& v : s.violations()) {
      if (v.path == "stderr") return v.message;
    }
    return "";
  }

  static Manifest* manifest_;
  std::chrono::steady_clock::duration elapsed_{};
};
Manifest* Misbehaving::manifest_ = nullptr;

// The request text written part by part is the protocol object, member for
// member, including the empty defaults and text that needs escaping.
TEST(RequestText, EqualsTheProtocolObject) {
  Invocation inv;
  inv.capability_id = "grid.powerflow";
  inv.capability_version = "1.0.0";
  inv.input = {{"network", "bver://grid/network/n"}, {"note", "quote \" and \u00e9"}};
  inv.resolved = {{"bver://grid/network/n", {{"pointer", "bver://grid/network/n~2"}, {"body", {{"base_mva", 100}}}}}};
  inv.related = {{"bver://grid/network/n", nlohmann::json::array({{{"pointer", "bver://grid/bus/b~1"}}})}};
  inv.artifacts = {{"sha256:00", "/tmp/x"}};
  inv.job_id = "j1";
  inv.attempt = 2;
  EXPECT_EQ(nlohmann::json::parse(RequestText(inv)), RequestJson(inv));
  Invocation empty;
  EXPECT_EQ(nlohmann::json::parse(RequestText(empty)), RequestJson(empty));
}

TEST_F(Misbehaving, EchoSeesTheProtocolACleanEnvironmentAndItsFolder) {
  Result<json> out = Run("test.echo", {{"site", "bver://sites/site/s1"}, {"n", 3}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const json& m = (*out)["metrics"];
  EXPECT_EQ(m["input"], json({{"site", "bver://sites/site/s1"}, {"n", 3}}));
  EXPECT_EQ(m["job"], json({{"id", "job-1"}, {"attempt", 2}}));
  EXPECT_EQ(m["protocol"], 1);
  EXPECT_EQ(m["cwd"], manifest_->folder);
  std::set<std::string> keys;
  for (auto it = m["env"].begin(); it != m["env"].end(); ++it) keys.insert(it.key());
  EXPECT_EQ(keys, (std::set<std::string>{"HOME", "LANG", "PATH"}));
  EXPECT_EQ(m["env"]["PATH"], kPluginPath);
  EXPECT_EQ(m["env"]["LANG"], "C.UTF-8");
  std::string home = m["env"]["HOME"];
  EXPECT_THAT(home, HasSubstr("bver-plugin-" + std::to_string(getpid()) + "-"));
  EXPECT_FALSE(fs::exists(home)) << "the temporary HOME is removed after the run";
}

TEST(PluginHomes, ThoseOfDeadRuntimesAreRemovedLiveOnesKept) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // now a pid no process has
  const fs::path tmp = fs::temp_directory_path();
  const fs::path dead = tmp / ("bver-plugin-" + std::to_string(child) + "-abcdef");
  const fs::path mine = tmp / ("bver-plugin-" + std::to_string(getpid()) + "-abcdef");
  const fs::path other = tmp / "bver-plugin-test-not-a-home";
  for (const fs::path& d : {dead, mine, other}) fs::create_directories(d / "sub");
  std::ofstream(dead / "sub" / "left-behind") << "x";

  EXPECT_GE(RemoveHomesOfDeadRuntimes(), 1);
  EXPECT_FALSE(fs::exists(dead)) << "a dead runtime's HOME is removed";
  EXPECT_TRUE(fs::exists(mine)) << "a live runtime's HOME is kept";
  EXPECT_TRUE(fs::exists(other)) << "a folder not named like a HOME is kept";
  for (const fs::path& d : {dead, mine, other}) fs::remove_all(d);
}

TEST_F(Misbehaving, CrashIsInternalNamingTheSignalWithStderr) {
  Result<json> out = Run("test.crash");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInternal) << out.status().ToString();
  EXPECT_THAT(out.status().message(), HasSubstr("plugin misbehaving (capability test.crash) crashed with SIGSEGV"));
  EXPECT_THAT(out.status().message(), HasSubstr("about to crash"));
  EXPECT_THAT(Stderr(out.status()), HasSubstr("about to crash"));
}

TEST_F(Misbehaving, HangIsDeadlineExceededAndItsWholeGroupIsKilled) {
  Result<json> out = Run("test.hang");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kDeadlineExceeded) << out.status().ToString();
  EXPECT_THAT(out.status().message(), HasSubstr("did not answer within 1 s"));
  EXPECT_LT(elapsed_, std::chrono::seconds(5));
  // The grandchild (sleep 60) was in the plugin's process group: it is gone
  // (or a zombie waiting for init) too.
  std::string err = Stderr(out.status());
  auto at = err.find("grandchild ");
  ASSERT_NE(at, std::string::npos) << err;
  int pid = std::stoi(err.substr(at + 11));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    gone = !stat || line.empty() || (close != std::string::npos && line.substr(close + 2, 1) == "Z");
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "grandchild " << pid << " still running";
}

TEST_F(Misbehaving, CancelKillsARunningPlugin) {
  auto r = MakeExecRunner(*manifest_, "test.hang");
  ASSERT_TRUE(r.ok());
  std::atomic<bool> cancel{false};
  Invocation inv;
  inv.capability_id = "test.hang";
  inv.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  Result<json> out = (*r)->Invoke(inv);
  auto elapsed = std::chrono::steady_clock::now() - start;
  canceller.join();
  EXPECT_EQ(out.status().code(), StatusCode::kCancelled) << out.status().ToString();
  // Cancelled, not timed out (the code says which); and promptly.
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST_F(Misbehaving, GarbageIsDataLossQuotingTheStart) {
  Result<json> out = Run("test.garbage");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(out.status().message(), HasSubstr("plugin misbehaving answered non-JSON: this is not JSON <<<?>>>"));
}

TEST_F(Misbehaving, RefusalKeepsThePluginsCodeAndMessage) {
  Result<json> out = Run("test.refuse");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(out.status().message(), HasSubstr("the site has no voltage levels"));
}

TEST_F(Misbehaving, NonZeroExitIsInternalWithTheLastStderrLine) {
  Result<json> out = Run("test.exit_nonzero");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInternal);
  EXPECT_THAT(out.status().message(), HasSubstr("exited with status 3 (stderr: fatal: cannot continue)"));
}

TEST_F(Misbehaving, SchemaInvalidOutputBreaksTheValidatorContract) {
  Result<json> out = Run("test.bad_output");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto contract = OutputContract::Make("test.bad_output", domain::Primitive::kValidator, {}, {});
  ASSERT_TRUE(contract.ok()) << contract.status().ToString();
  Status s = (*contract)->Check(*out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("breaks the validator contract"));
  std::set<std::string> paths;
  for (const Violation& v : s.violations()) paths.insert(v.path);
  EXPECT_TRUE(paths.count("passed")) << s.ToString();
  EXPECT_TRUE(paths.count("findings[0].severity")) << s.ToString();
  EXPECT_TRUE(paths.count("findings[0]")) << s.ToString();  // pointer and message missing
}

TEST_F(Misbehaving, WritesOutsideTheDeclaredReposArePermissionDenied) {
  Result<json> out = Run("test.outside_writes");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const CapabilitySpec* cap = manifest_->FindCapability("test.outside_writes");
  auto contract = OutputContract::Make(cap->id, cap->primitive, {cap->output_schema}, cap->writes);
  ASSERT_TRUE(contract.ok());
  Status s = (*contract)->Check(*out);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("may write only assets/asset, but changeset.creates[1] targets sites/site"));
  ASSERT_EQ(s.violations().size(), 2u) << s.ToString();
  EXPECT_EQ(s.violations()[0].path, "changeset.creates[1]");
  EXPECT_EQ(s.violations()[1].path, "changeset.patches[0]");
}

TEST_F(Misbehaving, MemoryHogSaysItMayHaveExceededItsLimit) {
  Result<json> out = Run("test.memory");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().ToString();
  EXPECT_THAT(out.status().message(), HasSubstr("may have exceeded its memory limit of 128 MiB"));
}

TEST_F(Misbehaving, CpuHogHitsItsCpuLimit) {
  Result<json> out = Run("test.spin");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().ToString();
  EXPECT_THAT(out.status().message(), HasSubstr("exceeded its CPU limit of 1 s"));
  EXPECT_LT(elapsed_, std::chrono::seconds(10));
}

TEST_F(Misbehaving, HugeOutputIsCutOff) {
  Result<json> out = Run("test.huge_output");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().ToString();
  EXPECT_THAT(out.status().message(), HasSubstr("more than 16 MiB on stdout"));
}

// A listening socket on 127.0.0.1 (port 0): connections complete in the
// kernel's backlog without accept.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Listener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(Misbehaving, NetworkIsDeniedUnlessDeclared) {
  Listener l;
  Result<json> allowed = Run("test.net_allowed", {{"port", l.port()}});
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_EQ((*allowed)["metrics"]["connected"], 1) << "the listener must be reachable with network: true";
  std::string why;
  if (!NetworkIsolationAvailable(&why)) GTEST_SKIP() << "no network isolation here: " << why;
  Result<json> denied = Run("test.net_denied", {{"port", l.port()}});
  ASSERT_TRUE(denied.ok()) << denied.status().ToString();
  EXPECT_EQ((*denied)["metrics"]["connected"], 0) << (*denied).dump();
}

TEST_F(Misbehaving, ThisProcessKeepsWorkingAfterEveryFailure) {
  for (const char* cap : {"test.crash", "test.garbage", "test.exit_nonzero"}) {
    EXPECT_FALSE(Run(cap).ok()) << cap;
  }
  Result<json> out = Run("test.echo", {{"after", true}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)["metrics"]["input"]["after"], true);
}

TEST_F(Misbehaving, ConcurrentInvocationsKeepTheirOwnPipes) {
  auto r = MakeExecRunner(*manifest_, "test.echo");
  ASSERT_TRUE(r.ok());
  Runner& runner = **r;
  constexpr int kThreads = 6;
  std::vector<Result<json>> results(kThreads, Result<json>(json()));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Invocation inv;
      inv.capability_id = "test.echo";
      inv.input = {{"n", i}, {"pad", std::string(100000 + i, 'x')}};  // bigger than a pipe buffer
      results[i] = runner.Invoke(inv);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status().ToString();
    EXPECT_EQ((*results[i])["metrics"]["input"]["n"], i);
    EXPECT_EQ((*results[i])["metrics"]["input"]["pad"].get<std::string>().size(), 100000u + i);
  }
}

TEST(ExecRunner, UnknownCapabilityAndMissingProgram) {
  Manifest m = LoadOrDie(kSource / "tests/plugins/misbehaving");
  Result<std::unique_ptr<Runner>> r = MakeExecRunner(m, "test.nope");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  m.entry = {"no-such-program-bver"};
  r = MakeExecRunner(m, "test.echo");
  ASSERT_TRUE(r.ok());
  Invocation inv;
  inv.capability_id = "test.echo";
  Result<json> out = (*r)->Invoke(inv);
  EXPECT_EQ(out.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(out.status().message(), HasSubstr("\"no-such-program-bver\" is not on PATH"));
}

TEST(ParseResponse, ProtocolErrors) {
  EXPECT_EQ(ParseResponse("p", "").status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(ParseResponse("p", "[1]").status().message(), HasSubstr("not a protocol response"));
  EXPECT_THAT(ParseResponse("p", R"({"ok": true})").status().message(), HasSubstr("without an \"output\" object"));
  Result<json> odd = ParseResponse("p", R"({"ok": false, "error": {"code": "weird", "message": "m"}})");
  EXPECT_EQ(odd.status().code(), StatusCode::kUnknown);
  EXPECT_THAT(odd.status().message(), HasSubstr("plugin p failed (weird): m"));
  Result<json> fine = ParseResponse("p", R"({"ok": true, "output": {"a": 1}})");
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(*fine, json({{"a", 1}}));
}

// --- native --------------------------------------------------------------

fs::path TempDir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("bver-plugin-test-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

const char* kSite = "bver://sites/site/north";

json SiteRef(json body) {
  return {{"pointer", std::string(kSite) + "~3"}, {"kind", "power.substation"}, {"body", std::move(body)}};
}

Invocation SkeletonInvocation(json site_body, json related = json::array()) {
  Invocation inv;
  inv.capability_id = "substation.skeleton";
  inv.capability_version = "1.0.0";
  inv.input = {{"site", kSite}, {"bays_per_level", 2}};
  inv.resolved = {{kSite, SiteRef(std::move(site_body))}};
  inv.related = {{kSite, std::move(related)}};
  inv.job_id = "j";
  return inv;
}

const json kNorth = {{"name", "North"}, {"voltage_levels_kv", {132, 400, 33}}, {"fault_level_ka", 35}};

class Native : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<domain::Platform> p = domain::CompileFile((kSource / "examples/substation/bver.yaml").string());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    platform_ = std::move(p).value();
    Result<Manifest> m = LoadManifest((kBinary / "plugins/substation-starter").string());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    manifest_ = std::move(m).value();
    auto lib = LoadNativeLibrary(manifest_);
    ASSERT_TRUE(lib.ok()) << lib.status().ToString();
    auto r = MakeNativeRunner(*lib, manifest_, "substation.skeleton");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    runner_ = std::move(r).value();
  }

  domain::Platform platform_;
  Manifest manifest_;
  std::unique_ptr<Runner> runner_;
};

// Created assets as a validator sees them in `related`.
json AsRelated(const json& creates) {
  json out = json::array();
  for (const json& c : creates) {
    out.push_back({{"pointer", "bver://assets/asset/" + c["id"].get<std::string>() + "~1"},
                   {"kind", c["kind"]},
                   {"body", c["body"]}});
  }
  return out;
}

TEST_F(Native, SkeletonValidatesAgainstTheExampleAssetSchema) {
  Result<json> out = runner_->Invoke(SkeletonInvocation(kNorth));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const domain::Capability* cap = platform_.FindCapability("substation.skeleton");
  ASSERT_NE(cap, nullptr);
  auto contract = OutputContract::Make(cap->id, cap->primitive, {cap->output_schema}, cap->writes);
  ASSERT_TRUE(contract.ok()) << contract.status().ToString();
  EXPECT_TRUE((*contract)->Check(*out).ok()) << (*contract)->Check(*out).ToString();

  const json& creates = (*out)["changeset"]["creates"];
  // 3 busbars, 2 breakers per level, 2 transformers (400/132, 132/33).
  ASSERT_EQ(creates.size(), 3u + 6u + 2u) << out->dump(2);
  const domain::Repo* repo = platform_.FindRepo("assets/asset");
  ASSERT_NE(repo, nullptr);
  std::set<std::string> ids;
  for (const json& c : creates) {
    EXPECT_EQ(c["repo"], "assets/asset");
    const domain::Kind* kind = repo->FindKind(c["kind"]);
    ASSERT_NE(kind, nullptr) << c.dump();
    auto v = schema::Validator::Compile(*kind->effective_schema);
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE((*v)->Validate(c["body"]).ok()) << c.dump() << "\n" << (*v)->Validate(c["body"]).ToString();
    EXPECT_EQ(c["body"]["site"], kSite);
    ids.insert(c["id"]);
  }
  EXPECT_TRUE(ids.count("north-bb-400") && ids.count("north-cb-33-2") && ids.count("north-tx-400-132") &&
              ids.count("north-tx-132-33"))
      << out->dump(2);
  for (const json& c : creates) {
    if (c["id"] == "north-tx-132-33") {
      EXPECT_EQ(c["body"]["winding_voltages_kv"], json({132, 33}));
      EXPECT_EQ(c["body"]["terminals"][0]["connects_to"], "bver://assets/asset/north-bb-132");
      EXPECT_EQ(c["body"]["terminals"][1]["connects_to"], "bver://assets/asset/north-bb-33");
    }
    if (c["kind"] == "breaker") {
      EXPECT_EQ(c["body"]["interrupting_rating_ka"], 40);
    }
  }

  // Same input, same changeset; with the assets already there, nothing new.
  Result<json> again = runner_->Invoke(SkeletonInvocation(kNorth));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *out);
  Result<json> rerun = runner_->Invoke(SkeletonInvocation(kNorth, AsRelated(creates)));
  ASSERT_TRUE(rerun.ok()) << rerun.status().ToString();
  EXPECT_TRUE((*rerun)["changeset"]["creates"].empty()) << rerun->dump();
}

TEST_F(Native, PluginErrorsComeBackAsStatusesWithItsLog) {
  Result<json> none = runner_->Invoke(SkeletonInvocation({{"name", "Empty"}}));
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.status().message(), HasSubstr("declares no voltage_levels_kv"));

  Invocation missing = SkeletonInvocation(kNorth);
  missing.resolved = json::object();
  Result<json> out = runner_->Invoke(missing);
  EXPECT_EQ(out.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(out.status().message(), HasSubstr("was not resolved for this job"));

  Invocation bad = SkeletonInvocation(kNorth);
  bad.input["bays_per_level"] = "many";  // a type error inside the plugin is caught at the boundary
  Result<json> thrown = runner_->Invoke(bad);
  EXPECT_EQ(thrown.status().code(), StatusCode::kInternal);
  EXPECT_THAT(thrown.status().message(), HasSubstr("plugin substation-starter failed"));
}

TEST(NativeLoad, AbiMismatchIsAnErrorNotACrash) {
  fs::path dir = TempDir("bad-abi");
  fs::copy_file(kSource / "tests/plugins/bad-abi/bver_plugin.yaml", dir / "bver_plugin.yaml");
  fs::copy_file(kBinary / "tests/plugins/bad-abi/bad_abi.so", dir / "bad_abi.so");
  Manifest m = LoadOrDie(dir);
  auto lib = LoadNativeLibrary(m);
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(lib.status().message(), HasSubstr("plugin ABI version mismatch: the plugin was built for ABI 99, this runtime speaks ABI 1"));
  fs::remove_all(dir);
}

TEST(NativeLoad, IdentityMustMatchTheManifestAndTheSoMustExist) {
  fs::path dir = TempDir("impostor");
  fs::path built = kBinary / "plugins/substation-starter";
  fs::copy_file(built / "substation_starter.so", dir / "substation_starter.so");
  std::string text;
  {
    std::ifstream in(built / "bver_plugin.yaml");
    std::stringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  std::string impostor = text;
  impostor.replace(impostor.find("plugin_id: substation-starter"), 29, "plugin_id: impostor");
  std::ofstream(dir / "bver_plugin.yaml") << impostor;
  Manifest m = LoadOrDie(dir);
  auto lib = LoadNativeLibrary(m);
  EXPECT_EQ(lib.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(lib.status().message(),
              HasSubstr("is plugin substation-starter 1.0.0 but the manifest declares impostor 1.0.0"));

  fs::remove(dir / "substation_starter.so");
  m.plugin_id = "substation-starter";
  EXPECT_THAT(LoadNativeLibrary(m).status().message(), HasSubstr("does not exist"));
  fs::remove_all(dir);
}

// plugin.hpp and the host callbacks, through a test plugin built with them.
class Probe : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("probe");
    fs::copy_file(kSource / "tests/plugins/native-probe/bver_plugin.yaml", dir_ / "bver_plugin.yaml");
    fs::copy_file(kBinary / "tests/plugins/native-probe/native_probe.so", dir_ / "native_probe.so");
    manifest_ = LoadOrDie(dir_);
    auto lib = LoadNativeLibrary(manifest_);
    ASSERT_TRUE(lib.ok()) << lib.status().ToString();
    lib_ = *lib;
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<json> Run(const std::string& cap, const json& input, const Invocation* base = nullptr) {
    auto r = MakeNativeRunner(lib_, manifest_, cap);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return r.status();
    Invocation inv = base != nullptr ? *base : Invocation();
    inv.capability_id = cap;
    inv.input = input;
    return (*r)->Invoke(inv);
  }

  fs::path dir_;
  Manifest manifest_;
  std::shared_ptr<NativeLibrary> lib_;
};

TEST_F(Probe, ResolveAnswersFromThePinnedReferencesOnly) {
  Invocation inv;
  inv.resolved = {{kSite, SiteRef(kNorth)}};
  inv.related = {{kSite, json::array({{{"pointer", "bver://assets/asset/a1~4"}, {"kind", "busbar"}, {"body", {{"name", "A"}}}}})}};
  Result<json> by_key = Run("test.resolve", {{"pointer", kSite}}, &inv);
  ASSERT_TRUE(by_key.ok()) << by_key.status().ToString();
  EXPECT_EQ((*by_key)["metrics"]["found"], true);
  EXPECT_EQ((*by_key)["metrics"]["ref"]["pointer"], std::string(kSite) + "~3");
  // A related reference, by its unpinned or its pinned pointer.
  for (const char* p : {"bver://assets/asset/a1", "bver://assets/asset/a1~4"}) {
    Result<json> rel = Run("test.resolve", {{"pointer", p}}, &inv);
    ASSERT_TRUE(rel.ok()) << rel.status().ToString();
    EXPECT_EQ((*rel)["metrics"]["ref"]["body"]["name"], "A") << p;
  }
  Result<json> other_version = Run("test.resolve", {{"pointer", "bver://assets/asset/a1~2"}}, &inv);
  ASSERT_TRUE(other_version.ok());
  EXPECT_EQ((*other_version)["metrics"]["found"], false);
  Result<json> unknown = Run("test.resolve", {{"pointer", "bver://sites/site/elsewhere"}}, &inv);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ((*unknown)["metrics"]["found"], false);
  EXPECT_THAT((*unknown)["metrics"]["error"].get<std::string>(), HasSubstr("not among the references pinned for this job"));
}

TEST_F(Probe, ExceptionsStopAtTheBoundaryWithTheLog) {
  Result<json> thrown = Run("test.throw", json::object());
  ASSERT_FALSE(thrown.ok());
  EXPECT_EQ(thrown.status().code(), StatusCode::kInternal);
  EXPECT_THAT(thrown.status().message(), HasSubstr("plugin native-probe failed: something broke inside"));
  ASSERT_EQ(thrown.status().violations().size(), 1u);
  EXPECT_EQ(thrown.status().violations()[0].path, "log");
  EXPECT_THAT(thrown.status().violations()[0].message, HasSubstr("warn: about to throw"));

  Result<json> refused = Run("test.refuse", json::object());
  EXPECT_EQ(refused.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(refused.status().message(), HasSubstr("no such thing as test.refuse"));
}

// --- the Python substation checks ------------------------------------------

class Checks : public Native {
 protected:
  void SetUp() override {
    Native::SetUp();
    if (HasFatalFailure()) return;
    Result<Manifest> m = LoadManifest((kSource / "plugins/substation-checks").string());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    checks_ = std::move(m).value();
    auto r = MakeExecRunner(checks_, "substation.sanity");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    sanity_ = std::move(r).value();
  }

  json Skeleton() {
    Result<json> out = runner_->Invoke(SkeletonInvocation(kNorth));
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? AsRelated((*out)["changeset"]["creates"]) : json::array();
  }

  Result<json> Check(const json& assets) {
    Invocation inv;
    inv.capability_id = "substation.sanity";
    inv.capability_version = "1.0.0";
    inv.input = {{"site", kSite}};
    inv.resolved = {{kSite, SiteRef(kNorth)}};
    inv.related = {{kSite, assets}};
    Result<json> out = sanity_->Invoke(inv);
    if (out.ok()) {
      const domain::Capability* cap = platform_.FindCapability("substation.sanity");
      auto contract = OutputContract::Make(cap->id, cap->primitive, {cap->output_schema}, cap->writes);
      EXPECT_TRUE(contract.ok());
      Status s = (*contract)->Check(*out);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return out;
  }

  Manifest checks_;
  std::unique_ptr<Runner> sanity_;
};

TEST_F(Checks, ACleanSkeletonPasses) {
  Result<json> out = Check(Skeleton());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)["passed"], true) << out->dump(2);
  for (const json& f : (*out)["findings"]) EXPECT_NE(f["severity"], "error") << f.dump();
}

TEST_F(Checks, PlantedViolationsAreFoundWithPointers) {
  json assets = Skeleton();
  ASSERT_FALSE(assets.empty());
  for (json& a : assets) {
    std::string p = a["pointer"];
    if (p == "bver://assets/asset/north-cb-400-1~1") a["body"]["interrupting_rating_ka"] = 20;  // < 35 kA
    if (p == "bver://assets/asset/north-tx-132-33~1") a["body"]["winding_voltages_kv"] = {132, 11};
  }
  // An asset of another site wired to this site's busbar.
  assets.push_back({{"pointer", "bver://assets/asset/stray~2"},
                    {"kind", "breaker"},
                    {"body",
                     {{"name", "Stray"},
                      {"site", "bver://sites/site/south"},
                      {"interrupting_rating_ka", 63},
                      {"terminals", {{{"label", "bus"}, {"connects_to", "bver://assets/asset/north-bb-400"}}}}}}});
  Result<json> out = Check(assets);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)["passed"], false);
  std::map<std::string, std::string> by_rule;
  for (const json& f : (*out)["findings"]) {
    if (f["severity"] == "error") by_rule[f["rule"]] = f["pointer"];
  }
  EXPECT_EQ(by_rule["breaker.interrupting_rating"],
            "bver://assets/asset/north-cb-400-1~1@interrupting_rating_ka")
      << out->dump(2);
  EXPECT_EQ(by_rule["transformer.winding_voltage"], "bver://assets/asset/north-tx-132-33~1@winding_voltages_kv")
      << out->dump(2);
  EXPECT_EQ(by_rule["asset.one_site"], "bver://assets/asset/stray~2@site") << out->dump(2);
}

}  // namespace
}  // namespace bver::plugin
