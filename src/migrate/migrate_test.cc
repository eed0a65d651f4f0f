// Domain migrations on every store backend (SQLite, PostgreSQL): a field
// added with a default, a field and a kind renamed, declared transforms,
// a field dropped, an enum tightened; the sweep, resumption after a stop,
// and the refusals (transform failing, newer store, plugins, pending writes).
#include "src/migrate/migrate.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/store/postgres/pg_dump.h"
#include "tests/support/store_backends.h"

namespace bver::migrate {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
using bver::testing::BackendCase;

// Version 1: people with a name, a mail, a status and a legacy note; one kind.
constexpr char kV1[] = R"(
bver: 1
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
            status: { type: string, enum: [active, retired, draft] }
            legacy: { type: string }
            address:
              type: object
              properties:
                town: { type: string }
        kinds:
          staff.internal:
            schema:
              properties:
                desk: { type: string }
)";

// Additive and compatible: `team` required with a default, mail renamed to
// email (also inside address: town -> city), the kind renamed.
constexpr char kV2Compatible[] = R"(
bver: 1
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
            status: { type: string, enum: [active, retired, draft] }
            legacy: { type: string }
            team: { type: string, default: core }
            address:
              type: object
              properties:
                city: { type: string, x-bver-renamed-from: town }
        kinds:
          staff.employee:
            renamed_from: staff.internal
            schema:
              properties:
                desk: { type: string }
)";

std::string V1With(const std::string& version, const std::string& from, const std::string& to,
                   const std::string& tail = "") {
  std::string y = kV1;
  y.replace(y.find("version: 1.0.0"), 14, "version: " + version);
  if (!from.empty()) y.replace(y.find(from), from.size(), to);
  return y + tail;
}

class Migrations : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override { dir_ = bver::testing::FreshTestDir("bver_migrate"); }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  // Opens the store under the domain `yaml` and runs the open check.
  OpenCheck Open(const std::string& yaml) {
    store_.reset();
    fs::path file = dir_ / "bver.yaml";
    std::ofstream(file) << yaml;
    Result<domain::Platform> p = domain::CompileFile(file.string());
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return {};
    manifest_ = domain::ToManifest(*p);
    fingerprint_ = *domain::ManifestFingerprint(manifest_);
    platform_ = std::make_shared<domain::Platform>(std::move(p).value());
    Result<std::unique_ptr<store::Backend>> b = GetParam().open(dir_);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    store::Store::Options o;
    o.manifest_fingerprint = fingerprint_;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(platform_, std::move(b).value(), o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    Result<OpenCheck> c = CheckOnOpen(*store_, manifest_, fingerprint_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : OpenCheck{};
  }

  // `n` people person-00000..; `body(i)` and `kind(i)` say what each holds.
  void Seed(int n, const std::function<json(int)>& body, const std::function<std::string(int)>& kind) {
    for (int start = 0; start < n; start += 500) {
      std::vector<store::Change> batch;
      for (int i = start; i < std::min(n, start + 500); ++i) {
        store::Change c;
        c.op = store::Change::Op::kCreate;
        c.repo = "org/person";
        c.kind = kind(i);
        c.id = Id(i);
        c.body = std::make_shared<const json>(body(i));
        batch.push_back(std::move(c));
      }
      Result<std::vector<store::Reference>> r = store_->Apply(batch, ctx_);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }

  static std::string Id(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "person-%05d", i);
    return buf;
  }
  static Pointer Ptr(int i) { return Pointer("org", "person", Id(i)); }

  // Every apply takes its snapshot first: VACUUM INTO for SQLite, pg_dump
  // for PostgreSQL.
  ApplyOptions Options(bool yes = false) {
    ApplyOptions o;
    o.yes = yes;
    o.backup = true;
    o.backup_dir = (dir_ / "backups").string();
    o.batch = 250;
    return o;
  }

  // The snapshot an apply took: a SQLite database, or a pg_dump archive
  // in its custom format (magic "PGDMP"), whole and not empty.
  void ExpectSnapshot(const std::string& path) {
    ASSERT_FALSE(path.empty());
    ASSERT_TRUE(fs::exists(path)) << path;
    std::ifstream in(path, std::ios::binary);
    char head[16] = {};
    in.read(head, sizeof head);
    const std::string magic(head, 15);
    if (GetParam().name == "sqlite") {
      EXPECT_EQ(magic, "SQLite format 3") << path;
    } else {
      EXPECT_EQ(magic.substr(0, 5), "PGDMP") << path;
      EXPECT_EQ(fs::path(path).extension(), ".pgdump");
    }
    EXPECT_GT(fs::file_size(path), 1000u);
  }

  std::uint64_t LastOffset() {
    Result<std::uint64_t> last = store_->backend().LastEventOffset();
    EXPECT_TRUE(last.ok()) << last.status().ToString();
    return last.ok() ? *last : 0;
  }

  json Head(int i) {
    Result<store::Reference> r = store_->Get(Ptr(i));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r->body : json();
  }
  std::uint64_t Version(int i) {
    Result<store::Reference> r = store_->Get(Ptr(i));
    return r.ok() ? r->version : 0;
  }

  void ExpectLedgerOk() {
    Result<store::LedgerVerification> v = store_->VerifyLedger();
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_TRUE(v->ok) << v->problem;
  }

  fs::path dir_;
  json manifest_;
  std::string fingerprint_;
  std::shared_ptr<domain::Platform> platform_;
  std::unique_ptr<store::Store> store_;
  store::WriteContext ctx_{"tester", "corr-1", "", std::nullopt, "", "", nullptr};
};

TEST_P(Migrations, DefaultsAndRenamesMigrateTenThousandReferencesWithHistoryIntact) {
  EXPECT_EQ(Open(kV1).state, OpenCheck::State::kAdopted);  // a new store records its manifest
  const std::string v1_fp = fingerprint_;
  constexpr int kN = 10000;
  Seed(
      kN,
      [](int i) {
        json b = {{"name", "P" + std::to_string(i)}, {"status", "active"}};
        if (i % 2 == 0) b["mail"] = "p" + std::to_string(i) + "@example.org";
        if (i % 5 == 0) b["address"] = {{"town", "Lyon"}};
        return b;
      },
      [](int i) { return i % 3 == 0 ? std::string("staff.internal") : std::string(); });
  EXPECT_EQ(Open(kV1).state, OpenCheck::State::kCurrent);

  OpenCheck pending = Open(kV2Compatible);
  ASSERT_EQ(pending.state, OpenCheck::State::kPending);
  EXPECT_THAT(pending.reason, HasSubstr("bver migrate apply"));
  // Reads are answered as stored; writes wait for the migration.
  EXPECT_EQ(Head(0)["mail"], "p0@example.org");
  Result<store::Reference> refused = store_->Create("person", "", {{"name", "x"}, {"team", "t"}}, ctx_, "late");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("bver migrate apply"));

  Result<json> plan = Plan(*store_, manifest_, fingerprint_);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ((*plan)["state"], "needs_apply");
  EXPECT_EQ((*plan)["summary"]["destructive"], 0) << plan->dump(2);
  EXPECT_FALSE((*plan)["needs_yes"].get<bool>());
  EXPECT_TRUE((*plan)["can_apply"].get<bool>());
  EXPECT_EQ((*plan)["references"]["examined"], kN);
  EXPECT_EQ((*plan)["references"]["rewritten"], kN);  // every one gets team
  std::set<std::string> whats;
  for (const json& c : (*plan)["changes"]) whats.insert(c["what"].get<std::string>());
  EXPECT_TRUE(whats.count("field renamed") && whats.count("kind renamed") &&
              whats.count("required field added with default"))
      << plan->dump(2);
  EXPECT_FALSE(whats.count("field removed")) << "a rename is never a drop and an add";

  std::uint64_t before = LastOffset();
  std::vector<std::uint64_t> seen;
  ApplyOptions o = Options();
  o.progress = [&](const Progress& p) { seen.push_back(p.done); };
  Result<json> done = Apply(*store_, manifest_, fingerprint_, o);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ((*done)["migrated"], kN);
  EXPECT_FALSE((*done)["resumed"].get<bool>());
  EXPECT_GE(seen.size(), static_cast<std::size_t>(kN / 250));
  EXPECT_EQ(seen.back(), static_cast<std::uint64_t>(kN));
  ExpectSnapshot((*done)["backup"].get<std::string>());
  EXPECT_TRUE(store_->MigrationPending().empty());
  // One event per migrated reference, then the platform's own.
  EXPECT_EQ(LastOffset() - before, static_cast<std::uint64_t>(kN + 1));

  for (int i : {0, 1, 3, 5, 9999}) {
    json b = Head(i);
    EXPECT_EQ(b["team"], "core") << i;
    EXPECT_FALSE(b.contains("mail")) << i;
    if (i % 2 == 0) {
      EXPECT_EQ(b["email"], "p" + std::to_string(i) + "@example.org");
    }
    if (i % 5 == 0) {
      EXPECT_EQ(b["address"], json({{"city", "Lyon"}}));
    }
    EXPECT_EQ(Version(i), 2u);
    Result<store::Reference> r = store_->Get(Ptr(i));
    EXPECT_EQ(r->kind, i % 3 == 0 ? "staff.employee" : "");
    // The old version answers the old shape, exactly as written.
    Result<store::Reference> v1 = store_->Get(Pointer("org", "person", Id(i), 1));
    ASSERT_TRUE(v1.ok());
    EXPECT_EQ(v1->kind, i % 3 == 0 ? "staff.internal" : "");
    EXPECT_FALSE(v1->body->contains("team"));
    Result<std::vector<store::VersionInfo>> h = store_->History(Ptr(i));
    ASSERT_TRUE(h.ok());
    ASSERT_EQ(h->size(), 2u);
    EXPECT_EQ((*h)[1].change, store::ChangeType::kMigrated);
    ASSERT_TRUE((*h)[1].provenance);
    EXPECT_EQ((*(*h)[1].provenance)["migration"]["from"], v1_fp);
    EXPECT_EQ((*(*h)[1].provenance)["migration"]["to"], fingerprint_);
  }
  // The migrated event and the ledger entry name both manifests.
  Result<std::vector<store::Event>> events = store_->ReadEvents(before + 1, 1);
  ASSERT_TRUE(events.ok() && !events->empty());
  EXPECT_EQ((*events)[0].envelope->value("change_type", ""), "migrated");
  EXPECT_EQ((*events)[0].envelope->value("manifest_fingerprint", ""), fingerprint_);
  Result<std::vector<store::LedgerRow>> ledger = store_->backend().ReadLedger(static_cast<std::uint64_t>(kN) + 1, 1);
  ASSERT_TRUE(ledger.ok() && !ledger->empty());
  json entry = json::parse((*ledger)[0].entry);
  EXPECT_EQ(entry["act"], "ref.migrated");
  EXPECT_EQ(entry["migration"]["from"], v1_fp);
  EXPECT_EQ(entry["migration"]["to"], fingerprint_);
  ExpectLedgerOk();

  // Writes flow again; a second apply has nothing to do; a reopen is current.
  EXPECT_TRUE(store_->Create("person", "", {{"name", "x"}}, ctx_, "late").ok());
  Result<json> again = Apply(*store_, manifest_, fingerprint_, Options());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["state"], "current");
  EXPECT_EQ(Open(kV2Compatible).state, OpenCheck::State::kCurrent);
  Result<std::optional<StoredPlatform>> stored = ReadStoredPlatform(store_->backend());
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->fingerprint, fingerprint_);
}

TEST_P(Migrations, AChangeThatRewritesNothingIsAdoptedOnOpen) {
  Open(kV1);
  Seed(10, [](int i) { return json{{"name", "P" + std::to_string(i)}}; }, [](int) { return std::string(); });
  std::uint64_t before = LastOffset();
  // An optional field and an enum value added: nothing stored changes.
  std::string v = V1With("1.1.0", "enum: [active, retired, draft]", "enum: [active, retired, draft, frozen]");
  v.replace(v.find("legacy: { type: string }"), 24, "legacy: { type: string }\n            phone: { type: string }");
  EXPECT_EQ(Open(v).state, OpenCheck::State::kAdopted);
  EXPECT_TRUE(store_->MigrationPending().empty());
  EXPECT_EQ(Version(0), 1u);
  EXPECT_EQ(LastOffset(), before + 1);  // the platform.adopted audit event
  ExpectLedgerOk();
}

TEST_P(Migrations, ATransformSplitsAFieldAndOneThatFailsWritesNothingAndNamesTheReference) {
  Open(kV1);
  Seed(300, [](int i) { return json{{"name", "Ada Lovelace " + std::to_string(i)}}; },
       [](int) { return std::string(); });
  const std::string split = R"(
migrations:
  split-name:
    from: 1.0.0
    repo: org/person
    steps:
      - { op: split, from: /name, into: [/first, /last] }
      - { op: add, path: /status, value: active }
)";
  std::string v2 = V1With("2.0.0", "required: [name]", "required: [first]");
  v2.replace(v2.find("name: { type: string }"), 22, "first: { type: string }\n            last: { type: string }");
  ASSERT_EQ(Open(v2 + split).state, OpenCheck::State::kPending);
  Result<json> plan = Plan(*store_, manifest_, fingerprint_);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE((*plan)["can_apply"].get<bool>()) << plan->dump(2);
  EXPECT_FALSE((*plan)["needs_yes"].get<bool>()) << "the transform carries name over: nothing is lost";
  Result<json> done = Apply(*store_, manifest_, fingerprint_, Options());
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(Head(7), json({{"first", "Ada"}, {"last", "Lovelace 7"}, {"status", "active"}}));
  ExpectLedgerOk();

  // Version 3's transform fails on one reference: nothing is written.
  ASSERT_TRUE(store_->Patch(Ptr(42), store::PatchFormat::kMergePatch, {{"last", nullptr}}, ctx_).ok());
  std::string v3 = v2;
  v3.replace(v3.find("version: 2.0.0"), 14, "version: 3.0.0");
  v3.replace(v3.find("last: { type: string }"), 22, "family: { type: string }");
  const std::string bad = R"(
migrations:
  need-last:
    from: 2.0.0
    repo: org/person
    steps:
      - { op: move, from: /last, path: /family }
)";
  ASSERT_EQ(Open(v3 + bad).state, OpenCheck::State::kPending);
  std::uint64_t before = LastOffset();
  Result<json> p3 = Plan(*store_, manifest_, fingerprint_);
  ASSERT_TRUE(p3.ok());
  EXPECT_FALSE((*p3)["can_apply"].get<bool>());
  EXPECT_EQ((*p3)["transform_failures"]["count"], 1);
  EXPECT_EQ((*p3)["transform_failures"]["first"][0]["pointer"], "bver://org/person/" + Id(42));
  Result<json> refused = Apply(*store_, manifest_, fingerprint_, Options(true));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr(Id(42)));
  EXPECT_THAT(refused.status().message(), HasSubstr("need-last"));
  EXPECT_EQ(LastOffset(), before);
  EXPECT_EQ(Version(7), 2u);
  EXPECT_EQ(Head(7)["last"], "Lovelace 7");
}

TEST_P(Migrations, ADroppedFieldIsRefusedWithoutYesAndTheSweepListsExactlyTheTouchedReferences) {
  Open(kV1);
  std::set<std::string> touched;
  Seed(
      700,
      [&](int i) {
        json b = {{"name", "P" + std::to_string(i)}};
        if (i % 7 == 0) {
          b["legacy"] = "old note";
          touched.insert("bver://org/person/" + Id(i));
        }
        return b;
      },
      [](int) { return std::string(); });
  std::string v2 = V1With("2.0.0", "            legacy: { type: string }\n", "");
  ASSERT_EQ(Open(v2).state, OpenCheck::State::kPending);
  Result<json> plan = Plan(*store_, manifest_, fingerprint_);
  ASSERT_TRUE(plan.ok());
  int index = -1;
  for (std::size_t i = 0; i < (*plan)["changes"].size(); ++i) {
    if ((*plan)["changes"][i]["what"] == "field removed") index = static_cast<int>(i);
  }
  ASSERT_GE(index, 0) << plan->dump(2);
  EXPECT_EQ((*plan)["changes"][index]["sweep"]["count"], touched.size());
  EXPECT_TRUE((*plan)["needs_yes"].get<bool>());
  // Every page of the sweep, 30 at a time: exactly the touched references.
  std::set<std::string> listed;
  for (std::size_t offset = 0;; offset += 30) {
    PlanOptions page;
    page.change = index;
    page.offset = offset;
    page.limit = 30;
    Result<json> p = Plan(*store_, manifest_, fingerprint_, page);
    ASSERT_TRUE(p.ok());
    const json& sweep = (*p)["changes"][index]["sweep"];
    for (const json& ptr : sweep["pointers"]) EXPECT_TRUE(listed.insert(ptr.get<std::string>()).second);
    if (!sweep["more"].get<bool>()) break;
  }
  EXPECT_EQ(listed, touched);

  std::uint64_t before = LastOffset();
  Result<json> refused = Apply(*store_, manifest_, fingerprint_, Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("--yes"));
  EXPECT_THAT(refused.status().message(), HasSubstr(std::to_string(touched.size()) + " reference(s)"));
  EXPECT_EQ(LastOffset(), before);

  Result<json> done = Apply(*store_, manifest_, fingerprint_, Options(true));
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ((*done)["migrated"], touched.size());  // the others do not change
  ExpectSnapshot((*done)["backup"].get<std::string>());
  EXPECT_EQ(Head(7), json({{"name", "P7"}}));
  EXPECT_EQ(Version(7), 2u);
  EXPECT_EQ(Version(8), 1u);
  Result<store::Reference> old = store_->Get(Pointer("org", "person", Id(7), 1));
  EXPECT_EQ((*old->body)["legacy"], "old note");  // history keeps what the head lost
  ExpectLedgerOk();
}

TEST_P(Migrations, ATightenedEnumListsTheReferencesAndATransformOrYesDecides) {
  Open(kV1);
  Seed(200, [](int i) { return json{{"name", "P" + std::to_string(i)}, {"status", i % 4 == 0 ? "retired" : "active"}}; },
       [](int) { return std::string(); });
  std::string v2 = V1With("2.0.0", "enum: [active, retired, draft]", "enum: [active, draft, inactive]");
  ASSERT_EQ(Open(v2).state, OpenCheck::State::kPending);
  Result<json> plan = Plan(*store_, manifest_, fingerprint_, PlanOptions{1000, -1, 0});
  ASSERT_TRUE(plan.ok());
  const json* change = nullptr;
  for (const json& c : (*plan)["changes"]) {
    if (c["what"] == "enum value removed") change = &c;
  }
  ASSERT_NE(change, nullptr) << plan->dump(2);
  EXPECT_EQ((*change)["sweep"]["count"], 50);
  EXPECT_EQ((*change)["sweep"]["pointers"].size(), 50u);
  EXPECT_EQ((*change)["sweep"]["pointers"][0], "bver://org/person/" + Id(0));
  EXPECT_FALSE(Apply(*store_, manifest_, fingerprint_, Options()).ok());

  // A transform decides: retired becomes inactive, nothing is lost.
  const std::string map = R"(
migrations:
  retire:
    from: 1.0.0
    repo: org/person
    steps:
      - { op: map, path: /status, values: { retired: inactive } }
)";
  ASSERT_EQ(Open(v2 + map).state, OpenCheck::State::kPending);
  Result<json> mapped = Plan(*store_, manifest_, fingerprint_);
  ASSERT_TRUE(mapped.ok());
  EXPECT_FALSE((*mapped)["needs_yes"].get<bool>()) << mapped->dump(2);
  Result<json> done = Apply(*store_, manifest_, fingerprint_, Options());
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ((*done)["migrated"], 50);
  EXPECT_EQ(Head(4)["status"], "inactive");
  EXPECT_EQ(Head(5)["status"], "active");

  // Version 3 drops "inactive" with no transform: --yes removes the value.
  std::string v3 = V1With("3.0.0", "enum: [active, retired, draft]", "enum: [active, draft]");
  ASSERT_EQ(Open(v3).state, OpenCheck::State::kPending);
  Result<json> yes = Apply(*store_, manifest_, fingerprint_, Options(true));
  ASSERT_TRUE(yes.ok()) << yes.status().ToString();
  EXPECT_FALSE(Head(4).contains("status"));
  EXPECT_EQ(Head(5)["status"], "active");
  ExpectLedgerOk();
}

TEST_P(Migrations, AnApplyStoppedHalfwayResumesAndMigratesEveryReferenceOnce) {
  Open(kV1);
  constexpr int kN = 2000;
  Seed(kN, [](int i) { return json{{"name", "P" + std::to_string(i)}, {"mail", "m"}}; },
       [](int) { return std::string(); });
  ASSERT_EQ(Open(kV2Compatible).state, OpenCheck::State::kPending);
  for (std::uint64_t stop_after : {1u, 2u, 3u}) {
    ApplyOptions o = Options();
    auto in_this_run = std::make_shared<std::uint64_t>(0);
    o.after_batch = [stop_after, in_this_run](std::uint64_t) -> Status {
      return ++*in_this_run >= stop_after ? AbortedError("stopped by the test") : Status::Ok();
    };
    Result<json> stopped = Apply(*store_, manifest_, fingerprint_, o);
    ASSERT_FALSE(stopped.ok());
    EXPECT_THAT(stopped.status().message(), HasSubstr("stopped by the test"));
    // Reopened (as after a kill): the store knows a migration is halfway.
    OpenCheck c = Open(kV2Compatible);
    EXPECT_EQ(c.state, OpenCheck::State::kPending);
    EXPECT_THAT(c.reason, HasSubstr("stopped halfway"));
  }
  // A different bver.yaml cannot start another migration meanwhile.
  OpenCheck other = Open(V1With("9.0.0", "", ""));
  EXPECT_THAT(other.reason, HasSubstr("stopped halfway"));
  Result<json> refused = Apply(*store_, manifest_, fingerprint_, Options(true));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("restore the bver.yaml of that migration"));

  Open(kV2Compatible);
  Result<json> done = Apply(*store_, manifest_, fingerprint_, Options());
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_TRUE((*done)["resumed"].get<bool>());
  EXPECT_EQ((*done)["migrated"], kN);
  EXPECT_EQ((*done)["migrated_this_run"], kN - 6 * 250);
  for (int i = 0; i < kN; ++i) {
    Result<std::vector<store::VersionInfo>> h = store_->History(Ptr(i));
    ASSERT_TRUE(h.ok());
    ASSERT_EQ(h->size(), 2u) << Id(i) << " was migrated " << h->size() - 1 << " times";
  }
  ExpectLedgerOk();
}

TEST_P(Migrations, AWriteByAProcessThatDoesNotKnowOfTheMigrationIsNeverOverwritten) {
  Open(kV1);
  Seed(1000, [](int i) { return json{{"name", "P" + std::to_string(i)}, {"mail", "old"}}; },
       [](int) { return std::string(); });
  // A second process still running the old domain (it opened the store
  // before bver.yaml changed, so nothing holds its writes back).
  std::shared_ptr<domain::Platform> old_platform = platform_;
  Result<std::unique_ptr<store::Backend>> b = GetParam().open(dir_);
  ASSERT_TRUE(b.ok());
  Result<std::unique_ptr<store::Store>> stale = store::Store::Open(old_platform, std::move(b).value(), {});
  ASSERT_TRUE(stale.ok());
  ASSERT_EQ(Open(kV2Compatible).state, OpenCheck::State::kPending);
  ApplyOptions o = Options();
  o.after_batch = [&](std::uint64_t batches) -> Status {
    if (batches == 1) {
      return (*stale)->Patch(Ptr(900), store::PatchFormat::kMergePatch, {{"mail", "written meanwhile"}}, ctx_).status();
    }
    return Status::Ok();
  };
  // Written between two batches: the later batch reads the new head and
  // migrates it; nothing is lost.
  Result<json> done = Apply(*store_, manifest_, fingerprint_, o);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(Head(900)["email"], "written meanwhile");
  EXPECT_EQ(Version(900), 3u);
  EXPECT_EQ(Version(899), 2u);
  // Written between a batch's read and its commit: the migrated version
  // is refused rather than written over the new head.
  ASSERT_TRUE(store_->Patch(Ptr(5), store::PatchFormat::kMergePatch, {{"email", "newer"}}, ctx_).ok());
  store::Change late;
  late.op = store::Change::Op::kMigrate;
  late.target = Ptr(5);
  late.body = std::make_shared<const json>(json{{"name", "P5"}, {"team", "core"}});
  late.base_version = 2;
  Result<std::vector<store::Reference>> refused = store_->Apply({late}, ctx_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kAborted);
  EXPECT_THAT(refused.status().message(), HasSubstr("changed while it was being migrated"));
  EXPECT_EQ(Head(5)["email"], "newer");
  ExpectLedgerOk();
}

TEST_P(Migrations, RefusesAStoreMigratedByANewerBverAndIncompatiblePlugins) {
  Open(kV1);
  json newer = manifest_;
  newer["runtime_api"] = 99;
  ASSERT_TRUE(store_->backend()
                  .PutRecord(store::RecordRow{"platform", "current",
                                              json{{"fingerprint", "sha256:newer"}, {"manifest", newer}}.dump(), 0})
                  .ok());
  Result<OpenCheck> c = CheckOnOpen(*store_, manifest_, fingerprint_);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("newer BVER"));
  EXPECT_FALSE(Plan(*store_, manifest_, fingerprint_).ok());
  EXPECT_FALSE(Apply(*store_, manifest_, fingerprint_, Options(true)).ok());

  ASSERT_TRUE(store_->backend().DeleteRecord("platform", "current").ok());
  Open(kV1);
  Seed(5, [](int i) { return json{{"name", "P" + std::to_string(i)}}; }, [](int) { return std::string(); });
  ASSERT_EQ(Open(kV2Compatible).state, OpenCheck::State::kPending);
  ApplyOptions o = Options();
  o.check_plugins = [] { return FailedPreconditionError("plugin grid-tools needs runtime API 2"); };
  Result<json> refused = Apply(*store_, manifest_, fingerprint_, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("grid-tools needs runtime API 2"));
  EXPECT_EQ(Version(0), 1u);
}

// One figment used by three repos (one of them through a kind), changed once:
// `owner` renamed to `steward`, a required `tier` with a default, its rule
// rewritten for the new name.
constexpr char kFigmentV1[] = R"(
bver: 1
platform: { id: people, version: 1.0.0 }
figments:
  audited:
    version: 1.0.0
    schema:
      properties:
        owner: { type: string }
      required: [owner]
    rules:
      named:
        description: an owner is a non-empty name
        schema: { properties: { owner: { minLength: 1 } } }
namespaces:
  org:
    repos:
      person:
        use: [audited@1]
        schema: { additionalProperties: false, properties: { name: { type: string } } }
      team:
        use: [audited@1]
        schema: { properties: { title: { type: string } } }
      site:
        schema: { properties: { code: { type: string } } }
        kinds:
          depot: { use: [audited@1] }
)";

std::string FigmentV2() {
  std::string y = kFigmentV1;
  auto swap = [&](const std::string& from, const std::string& to) { y.replace(y.find(from), from.size(), to); };
  swap("version: 1.0.0 }", "version: 2.0.0 }");
  swap("version: 1.0.0\n", "version: 1.1.0\n");
  swap("owner: { type: string }",
       "steward: { type: string, x-bver-renamed-from: owner }\n"
       "        tier: { type: string, enum: [gold, silver], default: silver }");
  swap("required: [owner]", "required: [steward, tier]");
  swap("{ properties: { owner: { minLength: 1 } } }", "{ properties: { steward: { minLength: 1 } } }");
  return y;
}

TEST_P(Migrations, AFigmentUsedByThreeReposChangedOnceIsPlannedAndApplied) {
  EXPECT_EQ(Open(kFigmentV1).state, OpenCheck::State::kAdopted);
  constexpr int kEach = 200;
  std::vector<store::Change> batch;
  for (const char* repo : {"org/person", "org/team", "org/site"}) {
    for (int i = 0; i < kEach; ++i) {
      store::Change c;
      c.op = store::Change::Op::kCreate;
      c.repo = repo;
      c.id = "r-" + std::to_string(i);
      json body = {{"owner", "o" + std::to_string(i)}};
      if (std::string(repo) == "org/site") {
        // Half the sites are depots (the kind that uses the figment); the
        // others are plain sites, which the figment does not touch.
        c.kind = i % 2 == 0 ? "depot" : "";
        if (i % 2 != 0) body = {{"code", "S" + std::to_string(i)}};
      }
      c.body = std::make_shared<const json>(body);
      batch.push_back(std::move(c));
    }
  }
  ASSERT_TRUE(store_->Apply(batch, ctx_).ok());

  ASSERT_EQ(Open(FigmentV2()).state, OpenCheck::State::kPending);
  Result<json> plan = Plan(*store_, manifest_, fingerprint_);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  int figment_entries = 0;
  std::set<std::string> renamed_in;
  for (const json& c : (*plan)["changes"]) {
    if (c["what"] == "figment changed") {
      ++figment_entries;
      EXPECT_THAT(c["detail"].get<std::string>(), HasSubstr("audited 1.0.0 -> 1.1.0"));
    }
    if (c["what"] == "field renamed") {
      EXPECT_EQ(c.value("figment", ""), "audited@1.1.0");
      renamed_in.insert(c["repo"].get<std::string>() + (c["kind"] == "" ? "" : "#" + c["kind"].get<std::string>()));
    }
  }
  EXPECT_EQ(figment_entries, 1) << plan->dump(2);
  EXPECT_EQ(renamed_in, (std::set<std::string>{"org/person", "org/team", "org/site#depot"})) << plan->dump(2);
  EXPECT_TRUE((*plan)["can_apply"].get<bool>()) << plan->dump(2);
  EXPECT_FALSE((*plan)["needs_yes"].get<bool>()) << plan->dump(2);
  EXPECT_EQ((*plan)["references"]["rewritten"], 2 * kEach + kEach / 2);

  Result<json> done = Apply(*store_, manifest_, fingerprint_, Options());
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ((*done)["migrated"], 2 * kEach + kEach / 2);
  for (const char* repo : {"person", "team", "site"}) {
    for (int i : {0, 1, kEach - 1}) {
      Result<store::Reference> r = store_->Get(Pointer("org", repo, "r-" + std::to_string(i)));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      bool uses = std::string(repo) != "site" || i % 2 == 0;
      if (!uses) {
        EXPECT_EQ(r->version, 1u) << repo << i;  // a plain site is left alone
        continue;
      }
      EXPECT_EQ(r->version, 2u) << repo << i;
      EXPECT_EQ((*r->body)["steward"], "o" + std::to_string(i)) << repo << i;
      EXPECT_EQ((*r->body)["tier"], "silver") << repo << i;
      EXPECT_FALSE(r->body->contains("owner")) << repo << i;
      Result<store::Reference> v1 = store_->Get(Pointer("org", repo, "r-" + std::to_string(i), 1));
      ASSERT_TRUE(v1.ok());
      EXPECT_EQ((*v1->body)["owner"], "o" + std::to_string(i));
    }
  }
  ExpectLedgerOk();
  // The new rule holds for new writes.
  Result<store::Reference> empty = store_->Create("team", "", {{"steward", ""}}, ctx_, "empty");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->Create("team", "", {{"steward", "ann"}}, ctx_, "ok").ok());
}

// A runtime that waits for a migration (bver up) sees one applied by another
// process (bver migrate apply beside it) at its next write, without a restart;
// one applied to another manifest than its own keeps it waiting, and says why.
TEST_P(Migrations, AWaitingRuntimeSeesAMigrationAppliedByAnotherProcess) {
  Open(kV1);
  Seed(20, [](int i) { return json{{"name", "P" + std::to_string(i)}, {"mail", "m"}}; }, [](int) { return std::string(); });
  ASSERT_EQ(Open(kV2Compatible).state, OpenCheck::State::kPending);
  // The other process: its own store object on the same database, same bver.yaml.
  auto other = [&](const std::string& yaml) -> std::pair<std::unique_ptr<store::Store>, std::pair<json, std::string>> {
    fs::path file = dir_ / "other.yaml";
    std::ofstream(file) << yaml;
    Result<domain::Platform> p = domain::CompileFile(file.string());
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    json manifest = domain::ToManifest(*p);
    std::string fp = *domain::ManifestFingerprint(manifest);
    auto platform = std::make_shared<domain::Platform>(std::move(p).value());
    Result<std::unique_ptr<store::Backend>> b = GetParam().open(dir_);
    EXPECT_TRUE(b.ok());
    store::Store::Options o;
    o.manifest_fingerprint = fp;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(platform, std::move(b).value(), o);
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE(CheckOnOpen(**s, manifest, fp).ok());
    return std::make_pair(std::move(s).value(), std::make_pair(manifest, fp));
  };
  Result<store::Reference> refused = store_->Create("person", "", {{"name", "early"}}, ctx_, "early");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  {
    auto [s, m] = other(kV2Compatible);
    ApplyOptions o = Options();
    Result<json> done = Apply(*s, m.first, m.second, o);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }
  // The first runtime's next write goes through: it asked the store again
  // (the first refusal above was its one recheck of this second; wait it out).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  Result<store::Reference> late = store_->Create("person", "", {{"name", "late"}}, ctx_, "late");
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_TRUE(store_->MigrationPending().empty());
  EXPECT_EQ(Head(0)["team"], "core");

  // A runtime waiting for manifest A while another process migrates to B keeps waiting.
  std::string v3 = kV2Compatible;
  v3.replace(v3.find("version: 2.0.0"), 14, "version: 3.0.0");
  const std::string team = "team: { type: string, default: core }";
  v3.replace(v3.find(team), team.size(),
             "team: { type: string, default: core }\n            floor: { type: integer, default: 1 }");
  v3.replace(v3.find("required: [name, team]"), 22, "required: [name, team, floor]");
  ASSERT_EQ(Open(v3).state, OpenCheck::State::kPending);
  std::string v4 = v3;
  v4.replace(v4.find("default: 1 }"), 12, "default: 2 }");
  {
    auto [s, m] = other(v4);
    ASSERT_TRUE(Apply(*s, m.first, m.second, Options()).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  Result<store::Reference> stale = store_->Create("person", "", {{"name", "x"}}, ctx_, "stale");
  ASSERT_FALSE(stale.ok());
  EXPECT_THAT(stale.status().message(), HasSubstr("migrated by another process"));
  EXPECT_THAT(stale.status().message(), HasSubstr("restart this runtime"));
}

// pg_dump that cannot reach its database: the reason, with no password in
// it, and no file left behind.
TEST(PgDump, AFailedDumpLeavesNothingAndShowsNoPassword) {
  fs::path dir = bver::testing::FreshTestDir("bver_pgdump");
  std::string file = (dir / "x.pgdump").string();
  Status s = store::postgres::DumpDatabase("postgresql://bver:sekrit-pw@127.0.0.1:1/nowhere", file);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("pg_dump of postgresql://bver:***@127.0.0.1:1/nowhere failed"));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("sekrit-pw")));
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file + ".stderr"));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, Migrations, ::testing::ValuesIn(bver::testing::StoreBackends(4)),
                         [](const ::testing::TestParamInfo<BackendCase>& i) { return i.param.name; });

}  // namespace
}  // namespace bver::migrate
