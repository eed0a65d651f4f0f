// The broker over a real (SQLite) store of the substation example: the
// auth matrix over every operation, input and output validation, the
// correlation id in events and the ledger, concurrency and idempotency
// mapped onto stable codes, problem+json, and hidden internal errors.
#include <filesystem>
#include <map>
#include <set>
#include <fstream>
#include <iterator>
#include <atomic>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/core/status_map.h"
#include "src/core/uuid.h"
#include "src/domain/compiler.h"
#include "src/runtime/broker.h"
#include "src/runtime/problem.h"
#include "src/store/artifact_store.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "src/store/store.h"

namespace bver::runtime {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

auth::Principal With(std::vector<std::string> scopes, std::string subject = "key:test") {
  std::sort(scopes.begin(), scopes.end());
  return auth::Principal{std::move(subject), std::move(scopes), auth::PrincipalKind::kApiKey};
}

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_broker_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Open(BVER_SOURCE_DIR "/examples/substation/bver.yaml", "sha256:test");
  }

  // The platform of `yaml`, the store in dir_ (kept across calls), its
  // artifacts and the operation table; the broker is made on first use.
  void Open(const std::string& yaml, const std::string& fingerprint) {
    broker_.reset();
    table_.reset();
    artifacts_.reset();
    store_.reset();
    Result<domain::Platform> p = domain::CompileFile(yaml);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    platform_ = std::make_shared<const domain::Platform>(std::move(p).value());
    Result<std::unique_ptr<store::Backend>> b =
        store::sqlite::OpenSqlite({(dir_ / "bver.db").string(), store::sqlite::Durability::kFast, 2});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    store::Store::Options o;
    o.manifest_fingerprint = fingerprint;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(platform_, std::move(b).value(), o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    artifacts_ = std::make_unique<store::ArtifactStore>((dir_ / "artifacts").string(), store_->backend());
    Result<std::unique_ptr<OperationTable>> t = OperationTable::Build(platform_, {store_.get(), artifacts_.get()});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    table_ = std::move(t).value();
  }

  void TearDown() override {
    broker_.reset();
    table_.reset();
    artifacts_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  Broker& broker(bool expose = false) {
    if (!broker_) {
      Broker::Options o;
      o.expose_internal_errors = expose;
      o.observer = [this](const CallRecord& r) {
        std::lock_guard<std::mutex> l(mu_);
        records_.push_back(r);
      };
      broker_ = std::make_unique<Broker>(std::shared_ptr<const OperationTable>(std::move(table_)), o);
    }
    return *broker_;
  }

  Result<json> Run(const std::string& op, json input, auth::Principal who = With({"admin"}),
                   const std::string& correlation_id = "") {
    Call c;
    c.operation = op;
    c.input = std::make_shared<const json>(std::move(input));
    c.principal = std::move(who);
    c.correlation_id = correlation_id;
    c.transport = "test";
    return broker().Invoke(c);
  }

  json Must(const std::string& op, json input, auth::Principal who = With({"admin"})) {
    Result<json> r = Run(op, std::move(input), std::move(who));
    EXPECT_TRUE(r.ok()) << op << ": " << r.status().ToString();
    return r.ok() ? *r : json();
  }

  // s1 (a substation), a1 (a transformer in s1), an artifact and d1 (a document of it).
  void Seed() {
    Must("refs.site.create", {{"id", "s1"}, {"kind", "power.substation"}, {"body", {{"name", "North"}, {"bays", 4}}}});
    Must("refs.asset.create", {{"id", "a1"},
                               {"kind", "transformer"},
                               {"body", {{"name", "T1"}, {"site", "bver://sites/site/s1"}, {"rated_power_mva", 40}}}});
    json a = Must("artifacts.put", {{"content_base64", "aGVsbG8gd29ybGQ="}});
    digest_ = a["digest"].get<std::string>();
    Must("refs.document.create", {{"id", "d1"}, {"body", {{"title", "SLD"}, {"artifact", digest_}}}});
  }

  std::size_t EventCount() { return store_->ReadEvents(1, 10000)->size(); }

  CallRecord LastRecord() {
    std::lock_guard<std::mutex> l(mu_);
    return records_.empty() ? CallRecord{} : records_.back();
  }

  fs::path dir_;
  std::shared_ptr<const domain::Platform> platform_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::ArtifactStore> artifacts_;
  std::unique_ptr<OperationTable> table_;  // moved into the broker on first use
  std::unique_ptr<Broker> broker_;
  std::mutex mu_;
  std::vector<CallRecord> records_;
  std::string digest_;
};

// A valid input for every row, once Seed() ran. A row without one fails the
// matrix test, so new operations cannot slip past it.
std::map<std::string, json> Samples(const std::string& digest) {
  std::map<std::string, json> m;
  std::map<std::string, std::pair<std::string, json>> repos = {
      {"site", {"s1", {{"kind", "telecom.node"}, {"body", {{"name", "Node"}}}}}},
      {"asset", {"a1", {{"kind", "breaker"}, {"body", {{"name", "B1"}, {"site", "bver://sites/site/s1"}}}}}},
      {"document", {"d1", {{"body", {{"title", "Doc"}, {"artifact", digest}}}}}}};
  std::map<std::string, json> replace = {
      {"site", {{"name", "North again"}}},
      {"asset", {{"name", "T1"}, {"site", "bver://sites/site/s1"}}},
      {"document", {{"title", "SLD v2"}, {"artifact", digest}}}};
  for (const auto& [repo, v] : repos) {
    const auto& [id, create] = v;
    std::string pre = "refs." + repo + ".";
    m[pre + "create"] = create;
    m[pre + "get"] = {{"id", id}};
    m[pre + "patch"] = {{"id", id}, {"merge", {{"meta", {{"touched", true}}}}}};
    m[pre + "replace"] = {{"id", id}, {"body", replace[repo]}};
    m[pre + "delete"] = {{"id", "not-there"}};  // a domain error (not found), keeps the seed
    m[pre + "list"] = json::object();
    m[pre + "history"] = {{"id", id}};
    m[pre + "version"] = {{"id", id}, {"version", 1}};
    m[pre + "diff"] = {{"id", id}, {"from", 1}, {"to", 1}};
  }
  m["resolve"] = {{"pointer", "bver://sites/site/s1@name"}};
  m["events.read"] = json::object();
  m["ledger.verify"] = json::object();
  m["artifacts.put"] = {{"content_base64", "YQ=="}};
  m["artifacts.get"] = {{"digest", digest}, {"include_content", true}};
  m["jobs.skeleton.start"] = {{"input", {{"site", "bver://sites/site/s1"}}}};
  m["jobs.sanity.start"] = {{"input", {{"site", "bver://sites/site/s1"}}}, {"no_cache", true}};
  m["jobs.status"] = {{"job_id", "0190aaaa-0000-7000-8000-000000000000"}};
  m["jobs.cancel"] = {{"job_id", "0190aaaa-0000-7000-8000-000000000000"}};
  return m;
}

TEST_F(BrokerTest, AuthMatrixOverEveryOperation) {
  Seed();
  std::map<std::string, json> samples = Samples(digest_);
  const std::vector<OperationRow>& rows = broker().table().rows();
  ASSERT_FALSE(rows.empty());
  for (const OperationRow& row : rows) {
    SCOPED_TRACE(row.id);
    ASSERT_TRUE(samples.count(row.id)) << "no sample input for " << row.id;
    const json& input = samples[row.id];

    Result<json> anon = Run(row.id, input, auth::Principal::Anonymous());
    EXPECT_EQ(anon.status().code(), StatusCode::kUnauthenticated) << anon.status().ToString();

    Result<json> wrong = Run(row.id, input, With({"unrelated:scope"}));
    EXPECT_EQ(wrong.status().code(), StatusCode::kPermissionDenied) << wrong.status().ToString();

    std::vector<std::string> right = row.scopes;
    if (row.id == "resolve") right.push_back("sites.site:read");
    for (const auth::Principal& who : {With(right), With({"admin"})}) {
      Result<json> r = Run(row.id, input, who);
      EXPECT_NE(r.status().code(), StatusCode::kUnauthenticated) << r.status().ToString();
      EXPECT_NE(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
      if (row.kind == domain::OperationKind::kRefDelete) {
        EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
      } else if (row.kind == domain::OperationKind::kJobStart || row.kind == domain::OperationKind::kJobStatus ||
                 row.kind == domain::OperationKind::kJobCancel) {
        // Authorized and valid; this table runs no job engine, and says so.
        EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
      } else {
        EXPECT_TRUE(r.ok()) << r.status().ToString();
      }
    }
  }
}

TEST_F(BrokerTest, ScopesAreCheckedBeforeInputIsLookedAt) {
  // An anonymous caller learns nothing about the input's shape.
  Result<json> r = Run("refs.site.create", {{"junk", 1}}, auth::Principal::Anonymous());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  r = Run("refs.site.create", {{"junk", 1}}, With({"sites.site:read"}));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("sites.site:write"));
}

TEST_F(BrokerTest, ResolveNeedsTheReadScopeOfThePointersRepo) {
  Seed();
  auth::Principal sites = With({"sites.site:read"});
  Result<json> r = Run("resolve", {{"pointer", "bver://sites/site/s1@name"}}, sites);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["value"], "North");
  r = Run("resolve", {{"pointer", "bver://assets/asset/a1@name"}}, sites);
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("assets.asset:read"));
  r = Run("resolve", {{"pointer", "bver://nope/none/x"}}, sites);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  r = Run("resolve", {{"pointer", "bver://Sites/site/s1"}}, sites);
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  ASSERT_FALSE(r.status().violations().empty());
  EXPECT_THAT(r.status().violations()[0].path, HasSubstr("pointer"));
  EXPECT_EQ(r.status().violations()[0].rule, "pointer.syntax");
  r = Run("resolve", {{"pointer", "bver://sites/site/s1~1@location.lat"}}, sites);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << "absent attribute";
}

TEST_F(BrokerTest, InputErrorsNameAttributePathsAndWriteNothing) {
  std::size_t before = EventCount();
  Result<json> r = Run("refs.site.create",
                       {{"kind", "power.substation"}, {"body", {{"name", 5}, {"bays", -1}}}, {"extra", true}});
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("invalid input for refs.site.create"));
  std::set<std::pair<std::string, std::string>> got;
  for (const Violation& v : r.status().violations()) got.insert({v.path, v.rule});
  EXPECT_TRUE(got.count({"body.name", "type"}));
  EXPECT_TRUE(got.count({"body.bays", "minimum"}));
  EXPECT_TRUE(got.count({"extra", "additionalProperties"}));
  EXPECT_EQ(EventCount(), before);

  Call c;
  c.operation = "refs.site.get";
  c.input = std::make_shared<const json>(json::array());
  c.principal = With({"admin"});
  EXPECT_EQ(broker().Invoke(c).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Run("no.such.op", json::object()).status().code(), StatusCode::kNotFound);

  r = Run("refs.site.list", {{"where", {"status=draft", "bad path=1"}}});
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(r.status().violations().size(), 1u);
  EXPECT_EQ(r.status().violations()[0].path, "where[1]");
}

// A body is checked once, by the validator the store compiled for its repo
// and kind; a create, a replace and a patch's result name a bad field alike.
TEST_F(BrokerTest, BodyErrorsNameTheSamePathFromEveryWrite) {
  Seed();
  auto first_path = [&](const std::string& op, json input) -> std::string {
    Result<json> r = Run(op, std::move(input));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << op << ": " << r.status().ToString();
    return r.status().violations().empty() ? "" : r.status().violations()[0].path;
  };
  std::size_t before = EventCount();
  EXPECT_EQ(first_path("refs.site.create", {{"id", "s9"}, {"kind", "power.substation"}, {"body", {{"name", 5}}}}),
            "body.name");
  EXPECT_EQ(first_path("refs.site.replace", {{"id", "s1"}, {"body", {{"name", 5}}}}), "body.name");
  EXPECT_EQ(first_path("refs.site.patch", {{"id", "s1"}, {"merge", {{"name", 5}}}}), "body.name");
  // A default is filled in before the check, as the store stores it.
  json ok = Must("refs.site.create", {{"id", "s9"}, {"kind", "power.substation"}, {"body", {{"name", "N"}}}});
  EXPECT_EQ(ok["body"]["status"], "draft");
  EXPECT_EQ(EventCount(), before + 1) << "only the valid create wrote";
}

TEST_F(BrokerTest, ReferenceLifecycleThroughTheBroker) {
  Seed();
  json got = Must("refs.site.get", {{"pointer", "bver://sites/site/s1"}});
  EXPECT_EQ(got["pointer"], "bver://sites/site/s1~1");
  EXPECT_EQ(got["kind"], "power.substation");
  EXPECT_EQ(got["body"]["status"], "draft") << "schema default applied";
  EXPECT_EQ(Run("refs.site.get", {{"pointer", "bver://sites/site/s1~1"}}).status().code(),
            StatusCode::kInvalidArgument)
      << "get reads the latest; version reads ~N";
  json patched = Must("refs.site.patch", {{"id", "s1"}, {"merge", {{"status", "ready"}}}, {"expected_version", 1}});
  EXPECT_EQ(patched["version"], 2);
  json jp = Must("refs.site.patch",
                 {{"id", "s1"}, {"json_patch", {{{"op", "replace"}, {"path", "/bays"}, {"value", 6}}}}});
  EXPECT_EQ(jp["body"]["bays"], 6);
  EXPECT_EQ(Must("refs.site.version", {{"pointer", "bver://sites/site/s1~1"}, {"version", 1}})["body"]["status"],
            "draft");
  EXPECT_EQ(Run("refs.site.version", {{"pointer", "bver://sites/site/s1~1"}, {"version", 2}}).status().code(),
            StatusCode::kInvalidArgument);
  json diff = Must("refs.site.diff", {{"id", "s1"}, {"from", 1}, {"to", 3}});
  EXPECT_EQ(diff["patch"].size(), 2u);
  json list = Must("refs.site.list", {{"where", {"status=ready"}}, {"limit", 10}});
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_FALSE(list.contains("next_cursor"));
  json del = Must("refs.site.delete", {{"id", "s1"}});
  EXPECT_TRUE(del["deleted"].get<bool>());
  EXPECT_FALSE(del.contains("body"));
  EXPECT_EQ(Run("refs.site.get", {{"id", "s1"}}).status().code(), StatusCode::kNotFound);
  json with_deleted = Must("refs.site.list", {{"include_deleted", true}});
  EXPECT_EQ(with_deleted["items"].size(), 1u) << "tombstones pass the output schema";
  json history = Must("refs.site.history", {{"id", "s1"}});
  ASSERT_EQ(history["versions"].size(), 4u);
  EXPECT_EQ(history["versions"][3]["change"], "deleted");
  json art = Must("artifacts.get", {{"digest", digest_}, {"include_content", true}});
  EXPECT_EQ(art["content_base64"], "aGVsbG8gd29ybGQ=");
  EXPECT_EQ(art["size"], 11);
  json events = Must("events.read", {{"from", 1}, {"limit", 2}});
  EXPECT_EQ(events["events"].size(), 2u);
  EXPECT_EQ(events["next_offset"], 3);
  json ledger = Must("ledger.verify", json::object());
  EXPECT_TRUE(ledger["ok"].get<bool>());
}

TEST_F(BrokerTest, CorrelationIdAndActorReachTheEventTheLedgerAndHistory) {
  json created = *Run("refs.site.create", {{"id", "c1"}, {"body", {{"name", "C"}}}},
                      With({"sites.site:write"}, "key:0123456789abcdef"), "corr-abc.1");
  ASSERT_EQ(created["id"], "c1");
  std::vector<store::Event> events = *store_->ReadEvents(1, 100);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ((*events[0].envelope)["correlation_id"], "corr-abc.1");
  EXPECT_EQ((*events[0].envelope)["payload"]["actor"], "key:0123456789abcdef");
  std::vector<store::LedgerRow> ledger = *store_->backend().ReadLedger(1, 100);
  ASSERT_EQ(ledger.size(), 1u);
  json entry = json::parse(ledger[0].entry);
  EXPECT_EQ(entry["correlation_id"], "corr-abc.1");
  EXPECT_EQ(entry["actor"], "key:0123456789abcdef");
  json history = Must("refs.site.history", {{"id", "c1"}});
  EXPECT_EQ(history["versions"][0]["correlation_id"], "corr-abc.1");
  EXPECT_EQ(history["versions"][0]["actor"], "key:0123456789abcdef");
}

TEST_F(BrokerTest, AMissingCorrelationIdIsGeneratedAndABadOneRefused) {
  Must("refs.site.create", {{"id", "g1"}, {"body", {{"name", "G"}}}});
  std::string generated = LastRecord().correlation_id;
  EXPECT_TRUE(core::IsUuidV7(generated)) << generated;
  std::vector<store::Event> events = *store_->ReadEvents(1, 100);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ((*events[0].envelope)["correlation_id"], generated);

  for (std::string bad : {std::string("has space"), std::string(129, 'a'), std::string("new\nline")}) {
    Result<json> r = Run("refs.site.create", {{"body", {{"name", "X"}}}}, With({"admin"}), bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(LastRecord().correlation_id, "") << "a bad id is never recorded";
  }
  EXPECT_EQ(EventCount(), 1u);
}

TEST_F(BrokerTest, StaleExpectedVersionIsAFailedPreconditionOtherConflictsStayConflicts) {
  Seed();
  Result<json> r = Run("refs.site.patch", {{"id", "s1"}, {"merge", {{"status", "ready"}}}, {"expected_version", 7}});
  ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_EQ(core::HttpStatusFor(r.status().code()), 412);
  EXPECT_THAT(r.status().message(), HasSubstr("expected version 7"));
  ASSERT_TRUE(store_->AcquireLease(*Pointer::Parse("bver://sites/site/s1"), "job:42", 60'000).ok());
  r = Run("refs.site.replace", {{"id", "s1"}, {"body", {{"name", "N"}}}, {"expected_version", 1}});
  EXPECT_EQ(r.status().code(), StatusCode::kAborted) << "a lease conflict, the version is right: "
                                                     << r.status().ToString();
  EXPECT_EQ(core::HttpStatusFor(r.status().code()), 409);
}

TEST_F(BrokerTest, IdempotencyKeysArePerPrincipal) {
  json input = {{"body", {{"name", "Once"}}}, {"idempotency_key", "k-1"}};
  json first = Must("refs.site.create", input, With({"sites.site:write"}, "key:a"));
  json again = Must("refs.site.create", input, With({"sites.site:write"}, "key:a"));
  EXPECT_EQ(first["id"], again["id"]);
  EXPECT_EQ(EventCount(), 1u);
  json other = Must("refs.site.create", input, With({"sites.site:write"}, "key:b"));
  EXPECT_NE(other["id"], first["id"]) << "another principal's key never replays a's request";
  input["body"]["name"] = "Different";
  Result<json> conflict = Run("refs.site.create", input, With({"sites.site:write"}, "key:a"));
  EXPECT_EQ(conflict.status().code(), StatusCode::kAborted);
}

TEST_F(BrokerTest, OutputViolationsAreInternalErrorsLoggedNeverShown) {
  ASSERT_TRUE(table_->ReplaceHandlerForTest("refs.site.get", [](const Call&) -> Result<json> {
                       return json{{"pointer", 5}, {"secret_field", "do-not-show"}};
                     }).ok());
  Result<json> r = Run("refs.site.get", {{"id", "s1"}}, With({"admin"}), "corr-out-1");
  ASSERT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_THAT(r.status().message(), HasSubstr("corr-out-1"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("schema")));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("do-not-show")));
  EXPECT_TRUE(r.status().violations().empty());
  CallRecord rec = LastRecord();
  EXPECT_EQ(rec.code, StatusCode::kInternal);
  EXPECT_EQ(rec.correlation_id, "corr-out-1");
  EXPECT_THAT(rec.internal_detail, HasSubstr("output of refs.site.get does not match its schema"));
  EXPECT_THAT(rec.internal_detail, HasSubstr("pointer"));
}

TEST_F(BrokerTest, AVersionWrittenBeforeTheDomainChangedIsAnsweredAsStored) {
  // Under today's domain "A1" is a valid name; the next one asks for five
  // characters at least. The stored version keeps its shape: reading it
  // after the change answers it as it was written, not an internal error
  // for not fitting the new schema (the answer's shape is still checked).
  ASSERT_TRUE(Run("refs.site.create", {{"id", "old1"}, {"kind", "power.substation"}, {"body", {{"name", "A1"}}}}).ok());
  std::ifstream in(BVER_SOURCE_DIR "/examples/substation/bver.yaml");
  std::string yaml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string before = "name: { type: string, minLength: 1, maxLength: 200 }";
  std::size_t at = yaml.find(before);
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, before.size(), "name: { type: string, minLength: 5, maxLength: 200 }");
  std::ofstream(dir_ / "next.yaml") << yaml;
  Open((dir_ / "next.yaml").string(), "sha256:next");

  Result<json> got = Run("refs.site.get", {{"id", "old1"}});
  ASSERT_TRUE(got.ok()) << got.status().ToString() << " " << LastRecord().internal_detail;
  EXPECT_EQ((*got)["body"]["name"], "A1");
  EXPECT_EQ((*got)["version"], 1);
  Result<json> listed = Run("refs.site.list", json::object());
  ASSERT_TRUE(listed.ok()) << listed.status().ToString() << " " << LastRecord().internal_detail;
  ASSERT_EQ((*listed)["items"].size(), 1u);
  EXPECT_EQ((*listed)["items"][0]["body"]["name"], "A1");
  // New writes meet the new schema, with the store's precise violation.
  Result<json> patched = Run("refs.site.patch", {{"id", "old1"}, {"merge", {{"status", "ready"}}}});
  ASSERT_EQ(patched.status().code(), StatusCode::kInvalidArgument) << patched.status().ToString();
  ASSERT_FALSE(patched.status().violations().empty());
  EXPECT_EQ(patched.status().violations()[0].path, "body.name");
}

TEST_F(BrokerTest, AHandlerThatThrowsIsAnInternalError) {
  ASSERT_TRUE(table_->ReplaceHandlerForTest("refs.site.list", [](const Call&) -> Result<json> {
                       throw std::runtime_error("boom at /secret/path");
                     }).ok());
  Result<json> r = Run("refs.site.list", json::object());
  ASSERT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_THAT(r.status().message(), Not(HasSubstr("/secret/path")));
  EXPECT_THAT(LastRecord().internal_detail, HasSubstr("boom"));
}

TEST_F(BrokerTest, DataLossIsHiddenFromCallersButNotFromTheLog) {
  Seed();
  std::string hex = digest_.substr(7);
  std::ofstream(artifacts_->PathFor(hex), std::ios::trunc) << "tampered";
  Result<json> r = Run("artifacts.get", {{"digest", digest_}, {"include_content", true}}, With({"admin"}), "corr-dl");
  ASSERT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
  EXPECT_THAT(r.status().message(), Not(HasSubstr(dir_.string())));
  EXPECT_THAT(r.status().message(), HasSubstr("corr-dl"));
  EXPECT_FALSE(LastRecord().internal_detail.empty());
}

TEST_F(BrokerTest, ExposeInternalErrorsShowsTheRealMessage) {
  broker(/*expose=*/true);
  Seed();
  std::ofstream(artifacts_->PathFor(digest_.substr(7)), std::ios::trunc) << "tampered";
  Result<json> r = Run("artifacts.get", {{"digest", digest_}, {"include_content", true}});
  ASSERT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), Not(HasSubstr("correlation id")));
}

TEST_F(BrokerTest, AuthorizeServesStreamingRoutes) {
  auto call = [](std::string op, auth::Principal who) {
    Call c;
    c.operation = std::move(op);
    c.principal = std::move(who);
    return c;
  };
  EXPECT_TRUE(broker().Authorize(call("artifacts.put", With({"artifacts:write"}))).ok());
  EXPECT_EQ(broker().Authorize(call("artifacts.put", auth::Principal::Anonymous())).code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(broker().Authorize(call("artifacts.get", With({"artifacts:write"}))).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(broker().Authorize(call("resolve", With({"admin"}))).code(), StatusCode::kInvalidArgument)
      << "resolve's scope depends on its input";
  Call with_input = call("artifacts.get", With({"artifacts:read"}));
  with_input.input = std::make_shared<const json>(json{{"digest", "nope"}});
  EXPECT_EQ(broker().Authorize(with_input).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(broker().Authorize(call("nope", With({"admin"}))).code(), StatusCode::kNotFound);
}

TEST_F(BrokerTest, ObserverSeesEveryCall) {
  Must("refs.site.list", json::object(), With({"sites.site:read"}, "key:obs"));
  (void)Run("refs.site.list", json::object(), auth::Principal::Anonymous());
  std::lock_guard<std::mutex> l(mu_);
  ASSERT_EQ(records_.size(), 2u);
  EXPECT_EQ(records_[0].operation, "refs.site.list");
  EXPECT_EQ(records_[0].transport, "test");
  EXPECT_EQ(records_[0].subject, "key:obs");
  EXPECT_EQ(records_[0].code, StatusCode::kOk);
  EXPECT_GE(records_[0].duration_us, 0);
  EXPECT_EQ(records_[1].code, StatusCode::kUnauthenticated);
}

TEST_F(BrokerTest, ConcurrentCallsFromManyThreads) {
  Broker& b = broker();
  constexpr int kThreads = 8;
  constexpr int kEach = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto call = [&](std::string op, json input) {
          Call c;
          c.operation = std::move(op);
          c.input = std::make_shared<const json>(std::move(input));
          c.principal = With({"sites.site:read", "sites.site:write"}, "key:t" + std::to_string(t));
          c.transport = "test";
          return b.Invoke(c);
        };
        if (!call("refs.site.create", {{"id", id}, {"body", {{"name", id}}}}).ok()) ++failures;
        Result<json> got = call("refs.site.get", {{"id", id}});
        if (!got.ok() || (*got)["body"]["name"] != id) ++failures;
        if (!call("refs.site.list", {{"limit", 5}}).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(EventCount(), static_cast<std::size_t>(kThreads * kEach));
  std::lock_guard<std::mutex> l(mu_);
  EXPECT_EQ(records_.size(), static_cast<std::size_t>(kThreads * kEach * 3));
}

TEST(Problem, Rfc9457BodyWithStableCodeAndPaths) {
  Status s = InvalidArgumentError("invalid input for refs.site.create: 1 problem(s)",
                                  {{"body.name", "type", "expected string, got integer"}});
  json p = ProblemJson(s, "corr-9", "/v1/refs/sites/site");
  EXPECT_EQ(p["type"], "urn:bver:problem:invalid_argument");
  EXPECT_EQ(p["title"], "Invalid argument");
  EXPECT_EQ(p["status"], 400);
  EXPECT_EQ(p["code"], "invalid_argument");
  EXPECT_EQ(p["detail"], s.message());
  EXPECT_EQ(p["errors"], json::array({{{"path", "body.name"}, {"rule", "type"}, {"message", "expected string, got integer"}}}));
  EXPECT_EQ(p["correlation_id"], "corr-9");
  EXPECT_EQ(p["instance"], "/v1/refs/sites/site");
  EXPECT_EQ(ProblemJson(UnauthenticatedError("x"))["status"], 401);
  EXPECT_EQ(ProblemJson(PermissionDeniedError("x"))["status"], 403);
  EXPECT_EQ(ProblemJson(FailedPreconditionError("x"))["status"], 412);
  EXPECT_EQ(ProblemJson(Status())["status"], 500);
  EXPECT_FALSE(ProblemJson(NotFoundError("x")).contains("correlation_id"));
}

TEST(BrokerDefaultObserverTest, LogsOnlyWhatTheCallerDidNotSee) {
  CallRecord hidden;
  hidden.operation = "refs.site.get";
  hidden.transport = "http";
  hidden.correlation_id = "corr-hidden";
  hidden.code = StatusCode::kInternal;
  hidden.internal_detail = "disk on fire";
  ::testing::internal::CaptureStderr();
  Broker::DefaultObserver(hidden);
  std::string line = ::testing::internal::GetCapturedStderr();
  json logged = json::parse(line, nullptr, false);
  ASSERT_TRUE(logged.is_object()) << line;
  EXPECT_EQ(logged["correlation_id"], "corr-hidden");
  EXPECT_EQ(logged["detail"], "disk on fire");
  EXPECT_EQ(logged["code"], "internal");

  CallRecord shown = hidden;
  shown.code = StatusCode::kNotFound;
  shown.internal_detail.clear();
  ::testing::internal::CaptureStderr();
  Broker::DefaultObserver(shown);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace bver::runtime
