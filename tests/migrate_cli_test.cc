// bver migrate end to end with the real binary: 10,000 references on
// SQLite, `bver migrate apply` killed with SIGKILL at random points (at
// least five times) and run again until done -- every reference migrated
// exactly once, nothing lost, the ledger whole; and the same migration
// through a running `bver up` (REST), which serves reads and refuses writes
// until it is applied.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/migrate/migrate.h"
#include "src/store/open.h"
#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
using namespace bver;

constexpr char kV1[] = R"(bver: 1
platform: { id: people, version: 1.0.0 }
namespaces:
  org:
    owner: core
    repos:
      person:
        schema:
          type: object
          required: [name]
          additionalProperties: false
          properties:
            name: { type: string }
            mail: { type: string }
)";

constexpr char kV2[] = R"(bver: 1
platform: { id: people, version: 2.0.0 }
namespaces:
  org:
    owner: core
    repos:
      person:
        schema:
          type: object
          required: [name, team]
          additionalProperties: false
          properties:
            name: { type: string }
            email: { type: string, x-bver-renamed-from: mail }
            team: { type: string, default: core }
)";

struct Opened {
  std::shared_ptr<const domain::Platform> platform;
  json manifest;
  std::string fingerprint;
  std::unique_ptr<store::Store> store;
};

class MigrateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bver_migrate_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "scratch");
    // SQLite's temporary files (etilqs_*) are unlinked right after they are
    // opened; a SIGKILL in between leaves one. Keep them in our folder.
    fs::create_directories(dir_ / "sqlite-tmp");
    ::setenv("SQLITE_TMPDIR", (dir_ / "sqlite-tmp").c_str(), 1);
  }
  void TearDown() override {
    if (server_.pid > 0) bver::testing::StopServer(server_);
    ::unsetenv("SQLITE_TMPDIR");
    fs::remove_all(dir_);
  }

  void WriteDomain(const char* yaml) { std::ofstream(dir_ / "bver.yaml") << yaml; }

  // The project's store, opened as the runtime opens it (with the open check).
  Opened OpenStore() {
    Opened o;
    Result<domain::Platform> p = domain::CompileFile((dir_ / "bver.yaml").string());
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    o.manifest = domain::ToManifest(*p);
    o.fingerprint = *domain::ManifestFingerprint(o.manifest);
    o.platform = std::make_shared<const domain::Platform>(std::move(p).value());
    Result<std::unique_ptr<store::Store>> s =
        store::OpenStore("sqlite:" + (dir_ / ".bver" / "bver.db").string(), dir_.string(), o.platform, o.fingerprint);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) o.store = std::move(s).value();
    if (o.store) {
      EXPECT_TRUE(migrate::CheckOnOpen(*o.store, o.manifest, o.fingerprint).ok());
    }
    return o;
  }

  void Seed(int n) {
    fs::create_directories(dir_ / ".bver");
    Opened o = OpenStore();
    ASSERT_TRUE(o.store);
    store::WriteContext ctx;
    ctx.actor = "seed";
    for (int start = 0; start < n; start += 1000) {
      std::vector<store::Change> batch;
      for (int i = start; i < std::min(n, start + 1000); ++i) {
        store::Change c;
        c.repo = "org/person";
        c.id = Id(i);
        json body = {{"name", "P" + std::to_string(i)}};
        if (i % 2 == 0) body["mail"] = "p" + std::to_string(i) + "@example.org";
        c.body = std::make_shared<const json>(body);
        batch.push_back(std::move(c));
      }
      ASSERT_TRUE(o.store->Apply(batch, ctx).ok());
    }
  }

  static std::string Id(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "p%05d", i);
    return buf;
  }

  bver::testing::CommandResult Bver(std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", dir_.string()});
    return bver::testing::RunCommand(BVER_EXE, args, dir_ / "scratch");
  }

  fs::path dir_;
  bver::testing::ServerProcess server_;
};

int CountLines(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(MigrateCli, KilledAtRandomPointsAndRunAgainMigratesEveryReferenceExactlyOnce) {
  constexpr int kN = 10000;
  WriteDomain(kV1);
  Seed(kN);
  WriteDomain(kV2);

  // bver doctor says the store waits for a migration, and why.
  bver::testing::CommandResult doctor = Bver({"doctor", "--json"});
  ASSERT_EQ(doctor.code, 0) << doctor.err;
  json d = json::parse(doctor.out);
  EXPECT_EQ(d["project"]["migration"], "waiting") << doctor.out;
  EXPECT_THAT(d["project"].value("problem", ""), HasSubstr("bver migrate apply"));

  bver::testing::CommandResult plan = Bver({"migrate", "plan", "--json"});
  ASSERT_EQ(plan.code, 0) << plan.err << plan.out;
  json p = json::parse(plan.out);
  EXPECT_EQ(p["state"], "needs_apply");
  EXPECT_EQ(p["references"]["rewritten"], kN);
  EXPECT_FALSE(p["needs_yes"].get<bool>());

  // Writes wait for the migration, with the command to run.
  bver::testing::CommandResult write = Bver({"ref", "create", "person", "--data", R"({"name":"x"})"});
  EXPECT_NE(write.code, 0);
  EXPECT_THAT(write.err, HasSubstr("bver migrate apply"));

  std::mt19937 rng(20261205);
  int kills = 0;
  for (int round = 0; round < 12 && kills < 6; ++round) {
    fs::path log = dir_ / ("apply-" + std::to_string(round) + ".log");
    pid_t pid = bver::testing::StartCommand(
        BVER_EXE, {"-C", dir_.string(), "migrate", "apply", "--json", "--batch", "100"}, log);
    ASSERT_GT(pid, 0);
    // After a random number of batches (and a random moment within the
    // next one), SIGKILL.
    int wanted = std::uniform_int_distribution<int>(2, 6)(rng);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool finished = false;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string text = bver::testing::ReadFileForTest(log);
      if (text.find("\"state\"") != std::string::npos) {
        finished = true;
        break;
      }
      if (CountLines(text, "\"progress\"") >= wanted) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 20000)(rng)));
    int code = bver::testing::StopCommand(pid, SIGKILL);
    if (finished || code != 128 + SIGKILL) break;  // it finished before the kill
    ++kills;
    // Still halfway: the store says so.
    bver::testing::CommandResult mid = Bver({"migrate", "plan", "--json", "--limit", "0"});
    ASSERT_EQ(mid.code, 0) << mid.err;
    EXPECT_EQ(json::parse(mid.out)["state"], "in_progress") << "kill " << kills;
  }
  EXPECT_GE(kills, 5) << "the apply finished before five kills: make the batches smaller";

  bver::testing::CommandResult done = Bver({"migrate", "apply", "--json", "--batch", "100"});
  ASSERT_EQ(done.code, 0) << done.err << done.out;
  json result = json::parse(done.out.substr(done.out.rfind("\n{", done.out.size() - 2) + 1));
  EXPECT_EQ(result["state"], "migrated") << done.out;
  EXPECT_TRUE(result["resumed"].get<bool>());
  EXPECT_EQ(result["migrated"], kN);

  Opened o = OpenStore();
  ASSERT_TRUE(o.store);
  EXPECT_TRUE(o.store->MigrationPending().empty());
  for (int i = 0; i < kN; ++i) {
    Result<std::vector<store::VersionInfo>> h = o.store->History(Pointer("org", "person", Id(i)));
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    ASSERT_EQ(h->size(), 2u) << Id(i);
    EXPECT_EQ((*h)[1].change, store::ChangeType::kMigrated);
  }
  Result<store::Reference> r = o.store->Get(Pointer("org", "person", Id(42)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->body, json({{"name", "P42"}, {"email", "p42@example.org"}, {"team", "core"}}));
  // Offsets gap-free: the creates, one migrated event each, the platform's.
  EXPECT_EQ(*o.store->backend().LastEventOffset(), static_cast<std::uint64_t>(2 * kN + 1));
  Result<store::LedgerVerification> v = o.store->VerifyLedger();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->entries, static_cast<std::uint64_t>(2 * kN + 1));
  o.store.reset();

  bver::testing::CommandResult write_after = Bver({"ref", "create", "person", "--data", R"({"name":"x"})"});
  EXPECT_EQ(write_after.code, 0) << write_after.err;
  bver::testing::CommandResult doctor_after = Bver({"doctor"});
  EXPECT_EQ(doctor_after.code, 0);
  EXPECT_THAT(doctor_after.out, HasSubstr("migrated to it"));
}

TEST_F(MigrateCli, ARunningServerServesReadsRefusesWritesAndMigratesOverRest) {
  WriteDomain(kV1);
  Seed(50);
  WriteDomain(kV2);
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0", "--no-triggers"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);

  bver::testing::HttpReply get = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/refs/org/person/p00002");
  EXPECT_EQ(get.status, 200) << get.body;
  bver::testing::HttpReply refused =
      bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/refs/org/person", R"({"name":"late","team":"t"})");
  EXPECT_EQ(refused.status / 100, 4) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("bver migrate apply"));

  bver::testing::HttpReply plan = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/migrate/plan?limit=5");
  ASSERT_EQ(plan.status, 200) << plan.body;
  EXPECT_EQ(plan.Json()["state"], "needs_apply");
  EXPECT_EQ(plan.Json()["references"]["rewritten"], 50);
  bver::testing::HttpReply bad =
      bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/ops/migrate.apply", R"({"batch":0})");
  EXPECT_EQ(bad.status, 400) << bad.body;

  bver::testing::HttpReply applied =
      bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/ops/migrate.apply", R"({"batch":20})");
  ASSERT_EQ(applied.status, 200) << applied.body;
  EXPECT_EQ(applied.Json()["migrated"], 50);
  bver::testing::HttpReply created =
      bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/refs/org/person", R"({"name":"late"})");
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.Json()["body"]["team"], "core");
  bver::testing::HttpReply old = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/refs/org/person/p00002/versions/1");
  EXPECT_EQ(old.status, 200) << old.body;
  EXPECT_EQ(old.Json()["body"]["mail"], "p2@example.org");
}

TEST_F(MigrateCli, BadInputGetsAClearErrorAndChangesNothing) {
  WriteDomain(kV1);
  Seed(20);
  // A bver.yaml that no longer compiles: the error names the line.
  std::ofstream(dir_ / "bver.yaml") << "bver: 1\nplatform: { id: people, version: 2.0.0 }\nnamespaces:\n  org:\n"
                                       "    owner: core\n    repos:\n      person:\n        schema: { type: strin }\n";
  bver::testing::CommandResult broken = Bver({"migrate", "plan"});
  EXPECT_EQ(broken.code, 1) << broken.err;
  EXPECT_THAT(broken.err, HasSubstr("bver.yaml:8"));
  bver::testing::CommandResult broken_apply = Bver({"migrate", "apply", "--yes", "--json"});
  EXPECT_NE(broken_apply.code, 0);
  EXPECT_THAT(broken_apply.out, HasSubstr("\"error\""));

  WriteDomain(kV2);
  bver::testing::CommandResult limit = Bver({"migrate", "plan", "--limit", "5000", "--json"});
  EXPECT_EQ(limit.code, 1) << limit.out;
  EXPECT_THAT(limit.out, HasSubstr("limit"));
  bver::testing::CommandResult batch = Bver({"migrate", "apply", "--batch", "0"});
  EXPECT_EQ(batch.code, 1) << batch.err;
  EXPECT_THAT(batch.err, HasSubstr("batch"));
  bver::testing::CommandResult help = Bver({"migrate", "apply", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("--yes"));

  // Nothing was migrated by any of it.
  bver::testing::CommandResult plan = Bver({"migrate", "plan", "--json"});
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_EQ(json::parse(plan.out)["state"], "needs_apply");
  EXPECT_EQ(json::parse(plan.out)["references"]["rewritten"], 20);
}

}  // namespace
