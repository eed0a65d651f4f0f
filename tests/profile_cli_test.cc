// Profiles end to end with the real binary: `bver up --profile prod` refuses
// to start without auth; with a JWT secret named in its wiring it serves,
// stamps its policy revision on events and receipts, records the switch
// from the previous profile as an audit event, and the planted secret is
// found nowhere: not in the store, its folder, the logs, the manifest, the
// events, `bver status` or `bver profiles`. A profile's rate limit answers
// 429 with Retry-After.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/auth/crypto.h"
#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// At least 32 bytes (HS256); unlike anything the runtime would write.
constexpr char kPlanted[] = "planted-7f3a9c2e-secret-Qx81-zzTOPxx-do-not-leak";

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
)";

constexpr char kConfig[] = R"(profiles:
  prod:
    description: production on this machine
    wiring:
      listen: 127.0.0.1:0
      jwt: { hs256_secret_env: BVER_TEST_PLANTED_SECRET, issuer: test-idp }
  staging:
    extends: prod
    wiring:
      listen: 127.0.0.1:0
  limited:
    policy:
      rate_limit: { requests_per_second: 0.5, burst: 3 }
)";

class ProfileCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_profile_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "scratch");
    std::ofstream(dir_ / "bver.yaml") << kDomain;
    std::ofstream(dir_ / "bver.config.yaml") << kConfig;
    ::unsetenv("BVER_TEST_PLANTED_SECRET");
  }
  void TearDown() override {
    if (server_.pid > 0) bver::testing::StopServer(server_);
    ::unsetenv("BVER_TEST_PLANTED_SECRET");
    fs::remove_all(dir_);
  }

  bver::testing::CommandResult Bver(std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", dir_.string()});
    return bver::testing::RunCommand(BVER_EXE, args, dir_ / "scratch");
  }

  // A bver up that must fail to start: its exit code and what it said.
  std::pair<int, std::string> FailedUp(const std::vector<std::string>& args) {
    bver::testing::ServerProcess s = bver::testing::StartBverUp(BVER_EXE, dir_, args);
    int code = s.port == 0 ? bver::testing::WaitServer(s, 30) : bver::testing::StopServer(s);
    std::string err = bver::testing::ReadFileForTest(s.stderr_path);
    EXPECT_EQ(s.port, 0) << "it started: " << err;
    return {code, err};
  }

  // An HS256 JWT with the admin scope, signed with `secret`.
  static std::string Token(const std::string& secret) {
    using bver::auth::internal::Base64UrlEncode;
    long now = static_cast<long>(std::time(nullptr));
    std::string head = Base64UrlEncode(json{{"alg", "HS256"}, {"typ", "JWT"}}.dump());
    std::string claims = Base64UrlEncode(
        json{{"sub", "ops"}, {"scope", "admin"}, {"iss", "test-idp"}, {"iat", now}, {"exp", now + 3600}}.dump());
    std::string signing = head + "." + claims;
    return signing + "." + Base64UrlEncode(bver::auth::internal::HmacSha256(secret, signing));
  }

  fs::path dir_;
  bver::testing::ServerProcess server_;
};

// Every file under `root` whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const fs::path& root, const std::string& needle) {
  std::vector<std::string> hits;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    if (bver::testing::ReadFileForTest(e.path()).find(needle) != std::string::npos) hits.push_back(e.path().string());
  }
  return hits;
}

TEST_F(ProfileCli, ProdRefusesToStartWithoutAuth) {
  // staging extends prod (auth required) and configures no JWT; the store has no API key.
  auto [code, err] = FailedUp({"--profile", "staging"});
  EXPECT_NE(code, 0);
  EXPECT_THAT(err, HasSubstr("profile staging requires auth"));
  // prod names its secret's variable, which is not set: the variable is named, and nothing starts.
  auto [code2, err2] = FailedUp({"--profile", "prod"});
  EXPECT_NE(code2, 0);
  EXPECT_THAT(err2, HasSubstr("BVER_TEST_PLANTED_SECRET is not set"));
  // An unknown profile is named with the known ones.
  bver::testing::CommandResult r = Bver({"status", "--profile", "nope"});
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("no profile \"nope\"; known: local, dev, prod, limited, staging"));
  // The built-in local profile still serves without auth on loopback.
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  EXPECT_EQ(bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/refs/org/person").status, 200);
}

TEST_F(ProfileCli, PlantedSecretIsFoundNowhereAndThePolicyIsStamped) {
  // First a local run, so the switch to prod is a recorded change.
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  ASSERT_EQ(bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/ops/refs.person.create",
                                           R"({"body": {"name": "before"}})")
                .status,
            200);
  ASSERT_EQ(bver::testing::StopServer(server_), 0);
  std::string local_revision = json::parse(Bver({"profiles", "local", "--json"}).out)["profiles"][0]["revision"];

  ::setenv("BVER_TEST_PLANTED_SECRET", kPlanted, 1);
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--profile", "prod"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  const int port = server_.port;
  // Auth is required even on loopback; a token signed with the planted secret works.
  EXPECT_EQ(bver::testing::HttpRequestOnce(port, "GET", "/v1/refs/org/person").status, 401);
  const std::map<std::string, std::string> auth = {{"Authorization", "Bearer " + Token(kPlanted)}};
  EXPECT_EQ(bver::testing::HttpRequestOnce(port, "GET", "/v1/refs/org/person", "",
                                           {{"Authorization", "Bearer " + Token(std::string(kPlanted) + "x")}})
                .status,
            401);
  for (int i = 0; i < 3; ++i) {
    bver::testing::HttpReply r = bver::testing::HttpRequestOnce(
        port, "POST", "/v1/ops/refs.person.create", json{{"body", {{"name", "P" + std::to_string(i)}}}}.dump(), auth);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // A receipt (this event is quarantined: its schema is not registered) carries the revision.
  json event = {{"event_id", "0190f1a0-0000-7000-8000-000000000001"},
                {"event_type", "orders.created"},
                {"payload_schema", "orders.created@1.0.0"},
                {"payload", {{"n", 1}}}};
  bver::testing::HttpReply ingest =
      bver::testing::HttpRequestOnce(port, "POST", "/v1/ingest", json{{"events", {event}}}.dump(), auth);
  ASSERT_EQ(ingest.status, 200) << ingest.body;
  const std::string revision = ingest.Json()["receipts"][0].value("policy_revision", "");
  EXPECT_THAT(revision, ::testing::MatchesRegex("prod#[0-9a-f]{12}"));

  bver::testing::HttpReply events = bver::testing::HttpRequestOnce(port, "GET", "/v1/events?from=1&limit=100", "", auth);
  ASSERT_EQ(events.status, 200) << events.body;
  int stamped = 0;
  bool activated = false;
  const json page = events.Json();
  for (const json& e : page["events"]) {
    if (e.value("event_type", "") == "ref.created" && e.value("policy_revision", "") == revision) ++stamped;
    if (e.value("event_type", "") == "policy.activated") {
      activated = true;
      EXPECT_EQ(e["payload"]["previous"], local_revision);
      EXPECT_EQ(e["payload"]["revision"], revision);
      EXPECT_EQ(e.value("channel", ""), "audit");
    }
  }
  EXPECT_EQ(stamped, 3) << events.body;
  EXPECT_TRUE(activated) << events.body;

  bver::testing::CommandResult status = Bver({"status", "--json"});
  EXPECT_EQ(status.code, 0) << status.err;
  EXPECT_EQ(json::parse(status.out)["profile"]["revision"], revision);
  bver::testing::CommandResult profiles = Bver({"profiles", "--json"});
  EXPECT_EQ(profiles.code, 0) << profiles.err;
  bver::testing::CommandResult compiled = Bver({"compile"});
  EXPECT_EQ(compiled.code, 0) << compiled.err;
  ASSERT_EQ(bver::testing::StopServer(server_), 0);

  // Everything the runtime wrote or said, in one folder: the store and its
  // WAL, the server's log, the manifest, the status and CLI outputs, the events.
  std::ofstream(dir_ / "scratch" / "outputs.txt") << events.body << ingest.body << status.out << status.err
                                                  << profiles.out << profiles.err << compiled.out << compiled.err;
  fs::remove(dir_ / "bver.config.yaml");  // names the variable, not the secret; keep the search honest
  std::vector<std::string> hits = FilesContaining(dir_, kPlanted);
  EXPECT_TRUE(hits.empty()) << "the secret leaked into: " << ::testing::PrintToString(hits);
  // The search finds what is there: a control file with the secret is found.
  std::ofstream(dir_ / "scratch" / "control") << "x" << kPlanted << "y";
  EXPECT_EQ(FilesContaining(dir_, kPlanted).size(), 1u);
  EXPECT_TRUE(fs::exists(dir_ / ".bver" / "build" / "bver.manifest.json"));
  EXPECT_TRUE(fs::exists(dir_ / ".bver" / "bver.db"));
}

TEST_F(ProfileCli, RateLimitAnswers429WithRetryAfter) {
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--profile", "limited", "--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  bver::testing::HttpConnection c(server_.port);
  int ok = 0;
  bver::testing::HttpReply limited;
  for (int i = 0; i < 6 && limited.status == 0; ++i) {
    bver::testing::HttpReply r = c.Request("GET", "/v1/refs/org/person");
    if (r.status == 200) ++ok;
    if (r.status == 429) limited = r;
  }
  EXPECT_EQ(ok, 3);  // the burst
  ASSERT_EQ(limited.status, 429);
  EXPECT_GE(std::stoi(limited.Header("retry-after")), 1);
  EXPECT_THAT(limited.Json().value("detail", ""), HasSubstr("profile limited allows 0.5 per second"));
  // Probes are never limited.
  EXPECT_EQ(c.Request("GET", "/healthz").status, 200);
}

}  // namespace
