// One conformance suite for every Store backend: the same cases run against
// each, so backends cannot drift. A backend joins every suite by being added
// to tests/support/store_backends.h.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <set>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/domain/compiler.h"
#include "src/store/postgres/postgres_backend.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/store_backends.h"
#include "src/store/store.h"

namespace bver::store {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;



using bver::testing::BackendCase;

std::vector<BackendCase> Backends() { return bver::testing::StoreBackends(4); }

Pointer P(const std::string& text) { return *Pointer::Parse(text); }

class StoreConformance : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    dir_ = bver::testing::FreshTestDir("bver_store");
    Result<domain::Platform> p = domain::CompileFile(BVER_SOURCE_DIR "/examples/substation/bver.yaml");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    platform_ = std::make_shared<domain::Platform>(std::move(p).value());
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  void Reopen() {
    store_.reset();
    Result<std::unique_ptr<Backend>> b = GetParam().open(dir_);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    Store::Options o;
    o.manifest_fingerprint = "sha256:test";
    o.clock = [this] { return now_us_.load(); };
    Result<std::unique_ptr<Store>> s = Store::Open(platform_, std::move(b).value(), o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  Reference MustCreateSite(const std::string& id, json body, const std::string& kind = "power.substation") {
    Result<Reference> r = store_->Create("site", kind, body, ctx_, id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Reference{};
  }

  std::size_t EventCount() {
    Result<std::vector<Event>> e = store_->ReadEvents(1, 10000);
    EXPECT_TRUE(e.ok());
    return e.ok() ? e->size() : 0;
  }

  fs::path dir_;
  std::shared_ptr<domain::Platform> platform_;
  std::unique_ptr<Store> store_;
  WriteContext ctx_{"tester", "corr-1", "", std::nullopt, "", "", nullptr};
  std::atomic<std::int64_t> now_us_{1'700'000'000'000'000};
};

TEST_P(StoreConformance, CreateAndGet) {
  Reference r = MustCreateSite("s1", {{"name", "North"}, {"voltage_levels_kv", {110, 20}}});
  EXPECT_EQ(r.version, 1u);
  EXPECT_EQ(r.kind, "power.substation");
  EXPECT_EQ((*r.body)["status"], "draft") << "schema default applied on create";
  EXPECT_EQ(r.pointer().ToString(), "bver://sites/site/s1~1");
  Result<Reference> g = store_->Get(P("bver://sites/site/s1"));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g->body, *r.body);
  EXPECT_EQ(g->version, 1u);
}

TEST_P(StoreConformance, GeneratedIdsAreUuidV7) {
  Result<Reference> r = store_->Create("sites/site", "", json{{"name", "x"}}, ctx_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(r->id, ::testing::MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
}

TEST_P(StoreConformance, InvalidBodyListsEveryViolationAndWritesNothing) {
  Result<Reference> r = store_->Create("site", "power.substation",
                                       json{{"status", "bogus"}, {"bays", -1}, {"extra", 1}}, ctx_, "bad");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  std::vector<std::string> paths;
  for (const Violation& v : r.status().violations()) paths.push_back(v.path);
  // Paths name the field in the request: the body's root and its fields.
  EXPECT_THAT(paths, ::testing::IsSupersetOf({"body", "body.status", "body.bays"}));
  EXPECT_EQ(EventCount(), 0u);
  EXPECT_EQ(store_->Get(P("bver://sites/site/bad")).status().code(), StatusCode::kNotFound);
  Result<LedgerVerification> v = store_->VerifyLedger();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->entries, 0u);
}

TEST_P(StoreConformance, KindsAreChecked) {
  EXPECT_EQ(store_->Create("site", "nope", json{{"name", "x"}}, ctx_).status().code(), StatusCode::kInvalidArgument);
  Result<Reference> a = store_->Create("asset", "", json{{"name", "T1"}, {"site", "bver://sites/site/s1"}}, ctx_);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("requires a kind"));
  EXPECT_EQ(store_->Create("nothing", "", json::object(), ctx_).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreConformance, DuplicateIdAndBadId) {
  MustCreateSite("s1", {{"name", "a"}});
  EXPECT_EQ(store_->Create("site", "", json{{"name", "b"}}, ctx_, "s1").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->Create("site", "", json{{"name", "b"}}, ctx_, "-bad").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EventCount(), 1u);
}

TEST_P(StoreConformance, PatchReplaceDeleteMakeVersions) {
  MustCreateSite("s1", {{"name", "North"}});
  now_us_ += 1000;
  Result<Reference> v2 = store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch,
                                       json{{"status", "ready"}, {"bays", 4}}, ctx_);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->version, 2u);
  now_us_ += 1000;
  Result<Reference> v3 = store_->Patch(P("bver://sites/site/s1"), PatchFormat::kJsonPatch,
                                       json::parse(R"([{"op":"replace","path":"/name","value":"N2"},
                                                       {"op":"add","path":"/voltage_levels_kv","value":[66]}])"),
                                       ctx_);
  ASSERT_TRUE(v3.ok()) << v3.status().ToString();
  EXPECT_EQ(v3->version, 3u);
  EXPECT_EQ((*v3->body)["name"], "N2");
  now_us_ += 1000;
  Result<Reference> v4 = store_->Replace(P("bver://sites/site/s1"), json{{"name", "Fresh"}}, ctx_);
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  EXPECT_FALSE(v4->body->contains("status"));
  now_us_ += 1000;
  Result<Reference> v5 = store_->Delete(P("bver://sites/site/s1"), ctx_);
  ASSERT_TRUE(v5.ok()) << v5.status().ToString();
  EXPECT_TRUE(v5->deleted);

  Result<Reference> gone = store_->Get(P("bver://sites/site/s1"));
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(gone.status().message(), HasSubstr("deleted at version 5"));
  Result<Reference> old = store_->Get(P("bver://sites/site/s1~2"));
  ASSERT_TRUE(old.ok());
  EXPECT_EQ((*old->body)["status"], "ready");

  Result<std::vector<VersionInfo>> h = store_->History(P("bver://sites/site/s1"));
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 5u);
  EXPECT_EQ((*h)[0].change, ChangeType::kCreated);
  EXPECT_EQ((*h)[1].change, ChangeType::kPatched);
  EXPECT_EQ((*h)[3].change, ChangeType::kReplaced);
  EXPECT_EQ((*h)[4].change, ChangeType::kDeleted);
  EXPECT_EQ((*h)[2].correlation_id, "corr-1");
  EXPECT_EQ(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", "x"}}, ctx_)
                .status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->Create("site", "", json{{"name", "again"}}, ctx_, "s1").status().code(),
            StatusCode::kAlreadyExists);
}

TEST_P(StoreConformance, PinnedVersionsAndPathsCannotBeMutated) {
  MustCreateSite("s1", {{"name", "a"}});
  EXPECT_EQ(store_->Patch(P("bver://sites/site/s1~1"), PatchFormat::kMergePatch, json{{"name", "b"}}, ctx_)
                .status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Replace(P("bver://sites/site/s1@name"), json{{"name", "b"}}, ctx_).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(StoreConformance, FailedPatchesWriteNothing) {
  MustCreateSite("s1", {{"name", "a"}});
  // Schema-invalid result.
  Result<Reference> r = store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", 5}}, ctx_);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().violations().at(0).path, "body.name") << "the same path a create's body error has";
  // A failing JSON Patch test op.
  r = store_->Patch(P("bver://sites/site/s1"), PatchFormat::kJsonPatch,
                    json::parse(R"([{"op":"replace","path":"/name","value":"b"},{"op":"test","path":"/name","value":"zzz"}])"),
                    ctx_);
  EXPECT_FALSE(r.ok());
  // Malformed patch documents.
  EXPECT_FALSE(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kJsonPatch, json{{"op", "add"}}, ctx_).ok());
  EXPECT_FALSE(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json::array(), ctx_).ok());
  // Replace and delete with bad input.
  EXPECT_EQ(store_->Replace(P("bver://sites/site/s1"), json{{"nome", "x"}}, ctx_).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Replace(P("bver://sites/site/s1"), json::array(), ctx_).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Delete(P("bver://sites/site/nobody"), ctx_).status().code(), StatusCode::kNotFound);
  Result<Reference> big = store_->Replace(
      P("bver://sites/site/s1"), json{{"name", "a"}, {"meta", {{"big", 9007199254740993ULL}}}}, ctx_);
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(big.status().message(), HasSubstr("cannot be stored")) << "a body that is not I-JSON";
  EXPECT_EQ(store_->Get(P("bver://sites/site/s1"))->version, 1u);
  EXPECT_EQ((*store_->Get(P("bver://sites/site/s1"))->body)["name"], "a");
  EXPECT_EQ(EventCount(), 1u);
  EXPECT_EQ(store_->VerifyLedger()->entries, 1u);
}

TEST_P(StoreConformance, OptimisticConcurrency) {
  MustCreateSite("s1", {{"name", "a"}});
  WriteContext c = ctx_;
  c.expected_version = 1;
  ASSERT_TRUE(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", "b"}}, c).ok());
  Result<Reference> stale = store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", "c"}}, c);
  // A stale expected version is a failed precondition (412), named as such.
  ASSERT_EQ(stale.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(stale.status().message(), HasSubstr("expected version 1, but the head is at version 2"));
  ASSERT_EQ(stale.status().violations().size(), 1u);
  EXPECT_EQ(stale.status().violations()[0].path, "expected_version");
  EXPECT_EQ(stale.status().violations()[0].rule, "stale");
}

TEST_P(StoreConformance, IdempotencyKeys) {
  WriteContext c = ctx_;
  c.idempotency_key = "k1";
  Result<Reference> a = store_->Create("site", "", json{{"name", "a"}}, c, "s1");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Result<Reference> again = store_->Create("site", "", json{{"name", "a"}}, c, "s1");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->version, 1u);
  EXPECT_EQ(EventCount(), 1u);
  Result<Reference> other = store_->Create("site", "", json{{"name", "DIFFERENT"}}, c, "s1");
  EXPECT_EQ(other.status().code(), StatusCode::kAborted);
  EXPECT_THAT(other.status().message(), HasSubstr("different request"));
  c.idempotency_key = "k2";
  ASSERT_TRUE(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", "b"}}, c).ok());
  Result<Reference> p2 = store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", "b"}}, c);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->version, 2u);
  EXPECT_EQ(EventCount(), 2u);
}

TEST_P(StoreConformance, Leases) {
  MustCreateSite("s1", {{"name", "a"}});
  Pointer s1 = P("bver://sites/site/s1");
  Result<Lease> l = store_->AcquireLease(s1, "job-A", 10'000);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  Result<Lease> other = store_->AcquireLease(s1, "job-B", 10'000);
  EXPECT_EQ(other.status().code(), StatusCode::kAborted);
  EXPECT_THAT(other.status().message(), HasSubstr("job-A"));
  Result<Reference> blocked = store_->Patch(s1, PatchFormat::kMergePatch, json{{"name", "b"}}, ctx_);
  EXPECT_EQ(blocked.status().code(), StatusCode::kAborted);
  EXPECT_THAT(blocked.status().message(), HasSubstr("leased by \"job-A\""));
  WriteContext holder = ctx_;
  holder.lease_holder = "job-A";
  EXPECT_TRUE(store_->Patch(s1, PatchFormat::kMergePatch, json{{"name", "b"}}, holder).ok());
  // Renew, then let it expire: it no longer blocks.
  ASSERT_TRUE(store_->RenewLease(s1, "job-A", 5'000).ok());
  EXPECT_EQ(store_->RenewLease(s1, "job-B", 5'000).status().code(), StatusCode::kFailedPrecondition);
  now_us_ += 6'000'000;
  EXPECT_TRUE(store_->Patch(s1, PatchFormat::kMergePatch, json{{"name", "c"}}, ctx_).ok());
  EXPECT_EQ(store_->RenewLease(s1, "job-A", 5'000).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->AcquireLease(s1, "job-B", 1'000).ok());
  EXPECT_EQ(store_->ReleaseLease(s1, "job-A").code(), StatusCode::kAborted);
  EXPECT_TRUE(store_->ReleaseLease(s1, "job-B").ok());
  EXPECT_EQ(store_->ReleaseLease(s1, "job-B").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->AcquireLease(s1, "job-C", 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreConformance, ResolveExistsAndAttributePaths) {
  MustCreateSite("s1", {{"name", "North"}, {"meta", {{"owner", {{"name", "Ada"}}}}}, {"voltage_levels_kv", {110, 20}}});
  Result<JsonPtr> v = store_->Resolve(P("bver://sites/site/s1@meta.owner.name"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(**v, "Ada");
  EXPECT_EQ(**store_->Resolve(P("bver://sites/site/s1~1@voltage_levels_kv[1]")), 20);
  EXPECT_EQ(store_->Resolve(P("bver://sites/site/s1@meta.nope")).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(*store_->Exists(P("bver://sites/site/s1@name")));
  EXPECT_FALSE(*store_->Exists(P("bver://sites/site/s1@zzz")));
  EXPECT_FALSE(*store_->Exists(P("bver://sites/site/nobody")));
  EXPECT_FALSE(*store_->Exists(P("bver://sites/site/s1~9")));
  EXPECT_EQ(store_->Get(P("bver://other/site/s1")).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreConformance, FilterSemanticsAreTheSameOnEveryBackend) {
  MustCreateSite("a", {{"name", "alpha"}, {"bays", 2}, {"meta", {{"ok", true}, {"w", 1.5}, {"tags", {"x", "y"}},
                                                                {"n", nullptr}, {"q\"k", 1}, {"o", {{"k", 1}}}}}});
  MustCreateSite("b", {{"name", "beta"}, {"bays", 3}, {"meta", {{"ok", false}, {"w", "1.5"}, {"tags", {"y"}}}}});
  MustCreateSite("c", {{"name", "Gamma"}, {"meta", {{"w", 2}}}});
  auto ids = [&](std::vector<std::tuple<std::string, FilterOp, json>> fs) {
    ListQuery q;
    q.repo = "site";
    for (auto& [path, op, v] : fs) {
      q.filters.push_back({*AttributePath::Parse(path), op, v.is_discarded() ? nullptr : std::make_shared<json>(v)});
    }
    Result<ListPage> r = store_->List(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::string out;
    if (r.ok()) {
      for (const Reference& ref : r->items) out += ref.id;
    }
    return out;
  };
  json none = json::value_t::discarded;
  EXPECT_EQ(ids({{"bays", FilterOp::kEq, 2}}), "a");
  EXPECT_EQ(ids({{"bays", FilterOp::kEq, 2.0}}), "a") << "1 == 1.0";
  EXPECT_EQ(ids({{"bays", FilterOp::kNe, 2}}), "b") << "ne needs the value present";
  EXPECT_EQ(ids({{"bays", FilterOp::kGe, 2}, {"bays", FilterOp::kLt, 3}}), "a");
  EXPECT_EQ(ids({{"meta.w", FilterOp::kGt, 1}}), "ac") << "the string \"1.5\" is not a number";
  EXPECT_EQ(ids({{"meta.w", FilterOp::kEq, "1.5"}}), "b");
  EXPECT_EQ(ids({{"name", FilterOp::kLt, "beta"}}), "ac") << "bytewise: \"Gamma\" < \"alpha\" < \"beta\"";
  EXPECT_EQ(ids({{"meta.ok", FilterOp::kEq, true}}), "a");
  EXPECT_EQ(ids({{"meta.ok", FilterOp::kEq, false}}), "b");
  EXPECT_EQ(ids({{"meta.ok", FilterOp::kNe, true}}), "b");
  EXPECT_EQ(ids({{"meta.ok", FilterOp::kGt, false}}), "") << "booleans have no order";
  EXPECT_EQ(ids({{"meta.n", FilterOp::kEq, nullptr}}), "a");
  EXPECT_EQ(ids({{"meta.n", FilterOp::kExists, none}}), "a") << "a null value is present";
  EXPECT_EQ(ids({{"meta.n", FilterOp::kNotExists, none}}), "bc");
  EXPECT_EQ(ids({{"meta.tags[1]", FilterOp::kEq, "y"}}), "a");
  EXPECT_EQ(ids({{"meta.tags[0]", FilterOp::kExists, none}}), "ab");
  EXPECT_EQ(ids({{"meta.tags", FilterOp::kEq, json::array({"y"})}}), "b") << "array values run in the Store";
  EXPECT_EQ(ids({{"meta.o", FilterOp::kEq, json{{"k", 1}}}}), "a");
  EXPECT_EQ(ids({{"meta.[\"q\\\"k\"]", FilterOp::kEq, 1}}), "a") << "unusual keys run in the Store";
  EXPECT_EQ(ids({{"name.deeper", FilterOp::kExists, none}}), "") << "a path through a scalar is absent";
}

TEST_P(StoreConformance, PluginOwnedNamespacesAcceptOnlyTheirOwner) {
  Result<domain::SourceDocument> doc = domain::ParseYaml(
      "bver: 1\nplatform: { id: owned, version: 1.0.0 }\n"
      "namespaces:\n  calc:\n    owner: load-flow\n    repos:\n      result:\n"
      "        schema: { properties: { v: { type: number } } }\n",
      "owned.yaml");
  ASSERT_TRUE(doc.ok());
  Result<domain::Platform> p = domain::Compile(*doc);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  fs::path owned = dir_ / (dir_.filename().string() + "_owned");
  fs::create_directories(owned);
  Result<std::unique_ptr<Backend>> b = GetParam().open(owned);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Result<std::unique_ptr<Store>> s =
      Store::Open(std::make_shared<domain::Platform>(std::move(p).value()), std::move(b).value(), {});
  ASSERT_TRUE(s.ok());
  Result<Reference> denied = (*s)->Create("result", "", json{{"v", 1}}, ctx_, "r1");
  ASSERT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.status().message(), HasSubstr("owned by plugin \"load-flow\""));
  WriteContext plugin = ctx_;
  plugin.actor = "plugin:load-flow";
  ASSERT_TRUE((*s)->Create("result", "", json{{"v", 1}}, plugin, "r1").ok());
  EXPECT_EQ((*s)->Patch(P("bver://calc/result/r1"), PatchFormat::kMergePatch, json{{"v", 2}}, ctx_).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ((*s)->Get(P("bver://calc/result/r1"))->version, 1u);
}

TEST_P(StoreConformance, ListWithFiltersAndCursorPaging) {
  for (int i = 0; i < 25; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "s%02d", i);
    json body = {{"name", std::string("site ") + id}, {"bays", i}};
    if (i % 5 == 0) body["meta"] = {{"flag", true}};
    MustCreateSite(id, body, i % 2 ? "power.substation" : "power.substation");
  }
  MustCreateSite("t1", {{"name", "tele"}}, "telecom.node");
  ListQuery q;
  q.repo = "site";
  q.limit = 10;
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    Result<ListPage> r = store_->List(q);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const Reference& ref : r->items) seen.push_back(ref.id);
    if (r->next_cursor.empty()) break;
    q.cursor = r->next_cursor;
  }
  EXPECT_EQ(seen.size(), 26u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));

  ListQuery f;
  f.repo = "sites/site";
  f.filters.push_back({*AttributePath::Parse("bays"), FilterOp::kGe, std::make_shared<json>(20)});
  f.filters.push_back({*AttributePath::Parse("bays"), FilterOp::kLt, std::make_shared<json>(23)});
  Result<ListPage> r = store_->List(f);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->items.size(), 3u);
  EXPECT_EQ(r->items[0].id, "s20");

  ListQuery e;
  e.repo = "site";
  e.filters.push_back({*AttributePath::Parse("meta.flag"), FilterOp::kExists, nullptr});
  EXPECT_EQ(store_->List(e)->items.size(), 5u);
  ListQuery k;
  k.repo = "site";
  k.kind = "telecom.node";
  ASSERT_EQ(store_->List(k)->items.size(), 1u);
  ListQuery eq;
  eq.repo = "site";
  eq.filters.push_back({*AttributePath::Parse("name"), FilterOp::kEq, std::make_shared<json>("tele")});
  EXPECT_EQ(store_->List(eq)->items.at(0).id, "t1");
  ListQuery bad;
  bad.repo = "site";
  bad.limit = 0;
  EXPECT_EQ(store_->List(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreConformance, AsOfAndDiffBetweenAnyVersions) {
  MustCreateSite("s1", {{"name", "a"}});
  std::int64_t t1 = now_us_;
  now_us_ += 1'000'000;
  ASSERT_TRUE(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", "b"}, {"bays", 2}}, ctx_).ok());
  std::int64_t t2 = now_us_;
  now_us_ += 1'000'000;
  ASSERT_TRUE(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"bays", nullptr}}, ctx_).ok());
  EXPECT_EQ(store_->GetAsOf(P("bver://sites/site/s1"), t1)->version, 1u);
  EXPECT_EQ(store_->GetAsOf(P("bver://sites/site/s1"), t2 + 10)->version, 2u);
  EXPECT_EQ(store_->GetAsOf(P("bver://sites/site/s1"), t1 - 1).status().code(), StatusCode::kNotFound);
  Result<json> d = store_->Diff(P("bver://sites/site/s1"), 1, 3);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, json::parse(R"([{"op":"replace","path":"/name","value":"b"}])"));
  Result<json> back = store_->Diff(P("bver://sites/site/s1"), 2, 1);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->size(), 2u);
  EXPECT_EQ(store_->Diff(P("bver://sites/site/s1"), 1, 7).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreConformance, EventsAreGapFreeWithTheEnvelope) {
  MustCreateSite("s1", {{"name", "a"}});
  ASSERT_TRUE(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", "b"}}, ctx_).ok());
  ASSERT_TRUE(store_->Delete(P("bver://sites/site/s1"), ctx_).ok());
  Result<std::vector<Event>> ev = store_->ReadEvents(1, 100);
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ((*ev)[i].offset, i + 1);
  const json& e = *(*ev)[1].envelope;
  for (const char* k : {"event_id", "envelope_version", "event_type", "channel", "ts_utc", "object_pointer",
                        "change_type", "payload_schema", "payload", "correlation_id", "causation_id",
                        "manifest_fingerprint", "partition_key", "offset"}) {
    EXPECT_TRUE(e.contains(k)) << k;
  }
  EXPECT_EQ(e["event_type"], "ref.patched");
  EXPECT_EQ(e["object_pointer"], "bver://sites/site/s1~2");
  EXPECT_EQ(e["payload"]["diff"], json::parse(R"([{"op":"replace","path":"/name","value":"b"}])"));
  EXPECT_EQ(e["manifest_fingerprint"], "sha256:test");
  EXPECT_EQ((*store_->ReadEvents(3, 100))[0].offset, 3u);
  EXPECT_TRUE(store_->ReadEvents(4, 100)->empty());
  Result<LedgerVerification> v = store_->VerifyLedger();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->entries, 3u);
}

TEST_P(StoreConformance, GraphBothWays) {
  MustCreateSite("s1", {{"name", "a"}});
  Result<Reference> t1 = store_->Create("asset", "transformer",
                                        json{{"name", "T1"}, {"site", "bver://sites/site/s1"}}, ctx_, "t1");
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();
  Result<Reference> b1 = store_->Create(
      "asset", "breaker",
      json{{"name", "B1"}, {"site", "bver://sites/site/s1"},
           {"terminals", {{{"label", "a"}, {"connects_to", "bver://assets/asset/t1"}}}}},
      ctx_, "b1");
  ASSERT_TRUE(b1.ok()) << b1.status().ToString();
  Result<std::vector<Store::Backlink>> to_site = store_->ReferencesTo(P("bver://sites/site/s1"));
  ASSERT_TRUE(to_site.ok());
  ASSERT_EQ(to_site->size(), 2u);
  EXPECT_EQ((*to_site)[0].from.ToString(), "bver://assets/asset/b1");
  EXPECT_EQ((*to_site)[0].path, "site");
  Result<std::vector<Store::Backlink>> to_t1 = store_->ReferencesTo(P("bver://assets/asset/t1"));
  ASSERT_EQ(to_t1->size(), 1u);
  EXPECT_EQ((*to_t1)[0].path, "terminals[0].connects_to");
  Result<std::vector<Store::Backlink>> from_b1 = store_->ReferencesFrom(P("bver://assets/asset/b1"));
  ASSERT_EQ(from_b1->size(), 2u);
  // Pointers of the wrong repo are rejected by the schema.
  Result<Reference> wrong = store_->Create("asset", "line",
                                           json{{"name", "L"}, {"site", "bver://assets/asset/t1"}}, ctx_);
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  // Deleting drops the outgoing edges.
  ASSERT_TRUE(store_->Delete(P("bver://assets/asset/b1"), ctx_).ok());
  EXPECT_EQ(store_->ReferencesTo(P("bver://sites/site/s1"))->size(), 1u);
}

// Link revisions count, per referencing repo, every committed write of a
// reference whose old or new body points at the target (the job cache key
// names related references by them, docs/jobs.md).
TEST_P(StoreConformance, LinkRevisionsCountWritesOfWhatPointsHere) {
  MustCreateSite("s1", {{"name", "a"}});
  MustCreateSite("s2", {{"name", "b"}});
  auto revs = [&](const char* site) {
    Result<std::map<std::string, std::uint64_t>> r = store_->LinkRevisions(P(site));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::map<std::string, std::uint64_t>{};
  };
  EXPECT_TRUE(revs("bver://sites/site/s1").empty());
  ASSERT_TRUE(store_->Create("asset", "transformer", json{{"name", "T1"}, {"site", "bver://sites/site/s1"}}, ctx_, "t1").ok());
  EXPECT_EQ(revs("bver://sites/site/s1"), (std::map<std::string, std::uint64_t>{{"assets/asset", 1}}));
  // A patch that keeps the pointer still changes what points here.
  ASSERT_TRUE(store_->Patch(P("bver://assets/asset/t1"), PatchFormat::kMergePatch, json{{"name", "T1b"}}, ctx_).ok());
  EXPECT_EQ(revs("bver://sites/site/s1")["assets/asset"], 2u);
  // Moving it to s2 counts for both; s2's count starts there.
  ASSERT_TRUE(store_->Patch(P("bver://assets/asset/t1"), PatchFormat::kMergePatch,
                            json{{"site", "bver://sites/site/s2"}}, ctx_).ok());
  EXPECT_EQ(revs("bver://sites/site/s1")["assets/asset"], 3u);
  EXPECT_EQ(revs("bver://sites/site/s2")["assets/asset"], 1u);
  // A changeset bumps once per write, and a delete counts.
  std::vector<Change> changes(2);
  changes[0].repo = "asset";
  changes[0].kind = "breaker";
  changes[0].id = "b1";
  changes[0].body = std::make_shared<const json>(json{{"name", "B1"}, {"site", "bver://sites/site/s2"}});
  changes[1] = changes[0];
  changes[1].id = "b2";
  ASSERT_TRUE(store_->Apply(changes, ctx_).ok());
  EXPECT_EQ(revs("bver://sites/site/s2")["assets/asset"], 3u);
  ASSERT_TRUE(store_->Delete(P("bver://assets/asset/b1"), ctx_).ok());
  EXPECT_EQ(revs("bver://sites/site/s2")["assets/asset"], 4u);
  // A write of the site itself is not a write of something pointing at it.
  ASSERT_TRUE(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", "c"}}, ctx_).ok());
  EXPECT_EQ(revs("bver://sites/site/s1").size(), 1u);
  EXPECT_EQ(revs("bver://sites/site/s1")["assets/asset"], 3u);
}

TEST_P(StoreConformance, ArtifactDigestsMustBeStored) {
  Result<Reference> d = store_->Create(
      "document", "one_line", json{{"title", "SLD"}, {"artifact", "sha256:" + std::string(64, 'a')}}, ctx_);
  ASSERT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d.status().violations().at(0).path, "artifact");
  ASSERT_TRUE(store_->backend().WriteTxn([](Txn& t) { return t.PutArtifact(std::string(64, 'a'), 3); }).ok());
  EXPECT_TRUE(store_->Create("document", "one_line",
                             json{{"title", "SLD"}, {"artifact", "sha256:" + std::string(64, 'a')}}, ctx_)
                  .ok());
}

TEST_P(StoreConformance, SurvivesReopen) {
  MustCreateSite("s1", {{"name", "a"}});
  ASSERT_TRUE(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", "b"}}, ctx_).ok());
  Reopen();
  EXPECT_EQ(store_->Get(P("bver://sites/site/s1"))->version, 2u);
  ASSERT_TRUE(store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch, json{{"name", "c"}}, ctx_).ok());
  EXPECT_EQ(store_->ReadEvents(1, 100)->size(), 3u);
  EXPECT_TRUE(store_->VerifyLedger()->ok);
}

TEST_P(StoreConformance, ConcurrentWritersNeverLoseUpdates) {
  MustCreateSite("s1", {{"name", "a"}, {"bays", 0}});
  constexpr int kThreads = 8, kIncrements = 25;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        while (true) {
          Result<Reference> cur = store_->Get(P("bver://sites/site/s1"));
          ASSERT_TRUE(cur.ok());
          WriteContext c = ctx_;
          c.expected_version = cur->version;
          int bays = (*cur->body)["bays"].get<int>();
          Result<Reference> r = store_->Patch(P("bver://sites/site/s1"), PatchFormat::kMergePatch,
                                              json{{"bays", bays + 1}}, c);
          if (r.ok()) break;
          ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
          ++conflicts;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Result<Reference> final_ref = store_->Get(P("bver://sites/site/s1"));
  EXPECT_EQ((*final_ref->body)["bays"], kThreads * kIncrements);
  EXPECT_EQ(final_ref->version, static_cast<std::uint64_t>(kThreads * kIncrements + 1));
  EXPECT_EQ(store_->ReadEvents(1, 10000)->size(), static_cast<std::size_t>(kThreads * kIncrements + 1));
  EXPECT_TRUE(store_->VerifyLedger()->ok);
}

JsonPtr J(json v) { return std::make_shared<const json>(std::move(v)); }

Change CreateAsset(const std::string& id, const std::string& kind, json body) {
  Change c;
  c.op = Change::Op::kCreate;
  c.repo = "assets/asset";
  c.kind = kind;
  c.id = id;
  c.body = J(std::move(body));
  return c;
}

TEST_P(StoreConformance, ChangesetsCommitAllOrNothing) {
  MustCreateSite("s1", {{"name", "North"}});
  std::size_t events_before = EventCount();
  WriteContext job = ctx_;
  job.actor = "job:j1";
  job.provenance = J({{"job", "j1"}, {"capability", "substation.skeleton@1.0.0"}, {"input_digest", "sha256:x"}});
  Change patch_site;
  patch_site.op = Change::Op::kPatch;
  patch_site.target = P("bver://sites/site/s1");
  patch_site.body = J({{"bays", 2}});
  std::vector<Change> good = {
      CreateAsset("s1-bb-110", "busbar", {{"name", "BB 110"}, {"site", "bver://sites/site/s1"}, {"voltage_kv", 110}}),
      CreateAsset("s1-cb-1", "breaker",
                  {{"name", "CB 1"},
                   {"site", "bver://sites/site/s1"},
                   {"terminals", {{{"label", "a"}, {"connects_to", "bver://assets/asset/s1-bb-110"}}}}}),
      patch_site};
  std::uint64_t control_offset = 0;
  Result<std::vector<Reference>> r =
      store_->Apply(good, job, [&](Txn& t, const Store::TxnHelpers& h) -> Status {
        BVER_ASSIGN_OR_RETURN(control_offset, h.AppendEvent(t, "control", "job.succeeded", "job:j1",
                                                            json{{"job_id", "j1"}}, job, true));
        return t.PutRecord({"action_cache", "k1", R"({"output":1})", h.now_us()});
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[2].version, 2u);
  ASSERT_TRUE((*r)[0].provenance);
  EXPECT_EQ((*(*r)[0].provenance)["job"], "j1");
  EXPECT_EQ(EventCount(), events_before + 4) << "three changes and the control event";
  EXPECT_GT(control_offset, 0u);
  Result<std::vector<Event>> ev = store_->ReadEvents(control_offset, 1);
  ASSERT_TRUE(ev.ok() && ev->size() == 1);
  EXPECT_EQ((*(*ev)[0].envelope)["channel"], "control");
  EXPECT_EQ((*(*ev)[0].envelope)["event_type"], "job.succeeded");
  EXPECT_TRUE(store_->backend().GetRecord("action_cache", "k1")->has_value());
  EXPECT_TRUE(store_->VerifyLedger()->ok);
  Result<std::vector<Store::Backlink>> links = store_->ReferencesTo(P("bver://assets/asset/s1-bb-110"));
  ASSERT_TRUE(links.ok());
  EXPECT_EQ(links->size(), 1u) << "pointers between entries of one changeset";

  // One bad entry: every problem listed, nothing written.
  std::size_t events_mid = EventCount();
  std::vector<Change> bad = {
      CreateAsset("s1-bb-20", "busbar", {{"name", "BB 20"}, {"site", "bver://sites/site/s1"}}),
      CreateAsset("s1-x", "busbar", {{"site", "bver://sites/site/s1"}, {"bogus", 1}}),
      CreateAsset("s1-y", "nokind", {{"name", "y"}, {"site", "bver://sites/site/s1"}})};
  Result<std::vector<Reference>> no = store_->Apply(bad, job);
  ASSERT_EQ(no.status().code(), StatusCode::kInvalidArgument) << no.status().ToString();
  std::vector<std::string> paths;
  for (const Violation& v : no.status().violations()) paths.push_back(v.path);
  EXPECT_THAT(paths, ::testing::Contains(::testing::StartsWith("changes[1]")));
  EXPECT_THAT(paths, ::testing::Contains("changes[2]"));
  EXPECT_EQ(store_->Get(P("bver://assets/asset/s1-bb-20")).status().code(), StatusCode::kNotFound);

  // A conflict found inside the transaction rolls back the earlier entries.
  std::vector<Change> clash = {
      CreateAsset("s1-bb-33", "busbar", {{"name", "BB 33"}, {"site", "bver://sites/site/s1"}}),
      CreateAsset("s1-bb-110", "busbar", {{"name", "again"}, {"site", "bver://sites/site/s1"}})};
  Result<std::vector<Reference>> c = store_->Apply(clash, job);
  EXPECT_EQ(c.status().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(c.status().message(), HasSubstr("changes[1]"));
  EXPECT_EQ(store_->Get(P("bver://assets/asset/s1-bb-33")).status().code(), StatusCode::kNotFound);
  // ... and so does a failing `also`.
  Result<std::vector<Reference>> also_fails = store_->Apply(
      {CreateAsset("s1-bb-66", "busbar", {{"name", "BB 66"}, {"site", "bver://sites/site/s1"}})}, job,
      [](Txn&, const Store::TxnHelpers&) { return AbortedError("the job was taken over"); });
  EXPECT_EQ(also_fails.status().code(), StatusCode::kAborted);
  EXPECT_EQ(store_->Get(P("bver://assets/asset/s1-bb-66")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(EventCount(), events_mid);

  // skip_if_exists makes a rerun of the same creates a no-op.
  std::vector<Change> rerun = {good[0], good[1]};
  rerun[0].skip_if_exists = rerun[1].skip_if_exists = true;
  Result<std::vector<Reference>> again = store_->Apply(rerun, job);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)[0].version, 1u);
  EXPECT_EQ(EventCount(), events_mid);
  // An entry twice is refused.
  EXPECT_EQ(store_->Apply({good[0], good[0]}, job).status().code(), StatusCode::kInvalidArgument);
  WriteContext keyed = job;
  keyed.idempotency_key = "k";
  EXPECT_EQ(store_->Apply(rerun, keyed).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreConformance, ChangesetsRespectLeases) {
  MustCreateSite("s1", {{"name", "North"}});
  Pointer s1 = P("bver://sites/site/s1");
  ASSERT_TRUE(store_->AcquireLease(s1, "job:A", 10'000).ok());
  Change patch;
  patch.op = Change::Op::kPatch;
  patch.target = s1;
  patch.body = J({{"status", "ready"}});
  WriteContext b = ctx_;
  b.lease_holder = "job:B";
  Result<std::vector<Reference>> blocked = store_->Apply({patch}, b);
  EXPECT_EQ(blocked.status().code(), StatusCode::kAborted);
  EXPECT_THAT(blocked.status().message(), HasSubstr("job:A"));
  WriteContext a = ctx_;
  a.lease_holder = "job:A";
  EXPECT_TRUE(store_->Apply({patch}, a).ok());
}

TEST_P(StoreConformance, RecordsByKindAndKey) {
  Backend& b = store_->backend();
  ASSERT_TRUE(store_->backend().WriteTxn([](Txn& t) -> Status {
    BVER_RETURN_IF_ERROR(t.PutRecord({"plugin", "b", R"({"v":1})", 10}));
    BVER_RETURN_IF_ERROR(t.PutRecord({"plugin", "a", R"({"v":2})", 11}));
    BVER_RETURN_IF_ERROR(t.PutRecord({"other", "a", R"({})", 12}));
    return t.PutRecord({"plugin", "b", R"({"v":3})", 13});  // replaces
  }).ok());
  Result<std::optional<RecordRow>> got = b.GetRecord("plugin", "b");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, R"({"v":3})");
  EXPECT_EQ((*got)->updated_at_us, 13);
  Result<std::vector<RecordRow>> all = b.ListRecords("plugin", "", 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].key, "a");
  EXPECT_EQ(b.ListRecords("plugin", "a", 10)->size(), 1u);
  bool deleted = false, again = true;
  ASSERT_TRUE(b.WriteTxn([&](Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(deleted, t.DeleteRecord("plugin", "a"));
    BVER_ASSIGN_OR_RETURN(again, t.DeleteRecord("plugin", "a"));
    return Status::Ok();
  }).ok());
  EXPECT_TRUE(deleted);
  EXPECT_FALSE(again);
  EXPECT_FALSE(b.GetRecord("plugin", "a")->has_value());
  EXPECT_TRUE(b.GetRecord("other", "a")->has_value());
}

TEST_P(StoreConformance, RecordCompareAndSetWinsOnlyOnTheValueItRead) {
  RecordTable& records = store_->backend();
  // Insert-if-absent: the first wins, the second (also expecting none) loses.
  Result<bool> first = records.CompareAndSetRecord({"k", "x", R"({"n":1})", 1}, std::nullopt);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(*first);
  EXPECT_FALSE(*records.CompareAndSetRecord({"k", "x", R"({"n":9})", 2}, std::nullopt));
  // A stale expectation loses and writes nothing; the current one wins.
  EXPECT_FALSE(*records.CompareAndSetRecord({"k", "x", R"({"n":9})", 3}, std::string(R"({"n":0})")));
  EXPECT_EQ((*records.GetRecord("k", "x"))->value, R"({"n":1})");
  EXPECT_TRUE(*records.CompareAndSetRecord({"k", "x", R"({"n":2})", 4}, std::string(R"({"n":1})")));
  EXPECT_EQ((*records.GetRecord("k", "x"))->value, R"({"n":2})");
  // Expecting a value where there is no record loses too.
  EXPECT_FALSE(*records.CompareAndSetRecord({"k", "y", "{}", 5}, std::string("{}")));
  EXPECT_FALSE(records.GetRecord("k", "y")->has_value());
  // Put and delete, each its own transaction.
  ASSERT_TRUE(records.PutRecord({"k", "y", "{}", 6}).ok());
  EXPECT_TRUE(*records.DeleteRecord("k", "y"));
  EXPECT_FALSE(*records.DeleteRecord("k", "y"));
}

TEST_P(StoreConformance, ConcurrentRecordUpdatesNeverLoseOne) {
  RecordTable& records = store_->backend();
  constexpr int kThreads = 4, kEach = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        Result<std::optional<std::string>> r = records.UpdateRecord(
            "counter", "c", 1, [](const std::optional<std::string>& cur) -> Result<std::optional<std::string>> {
              int n = cur ? json::parse(*cur)["n"].get<int>() : 0;
              return std::optional<std::string>(json{{"n", n + 1}}.dump());
            });
        if (!r.ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(json::parse((*records.GetRecord("counter", "c"))->value)["n"], kThreads * kEach);
  // A change that answers nothing leaves the record as it is; an error is
  // answered as is, nothing written.
  Result<std::optional<std::string>> same = records.UpdateRecord(
      "counter", "c", 2, [](const std::optional<std::string>&) -> Result<std::optional<std::string>> {
        return std::optional<std::string>();
      });
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(json::parse(**same)["n"], kThreads * kEach);
  Result<std::optional<std::string>> bad = records.UpdateRecord(
      "counter", "c", 3, [](const std::optional<std::string>&) -> Result<std::optional<std::string>> {
        return InvalidArgumentError("no");
      });
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*records.GetRecord("counter", "c"))->updated_at_us, 1);
}

JobRow QueuedJob(const std::string& id, std::int64_t run_after, const std::string& labels = "") {
  JobRow j;
  j.id = id;
  j.job = "skeleton";
  j.capability = "substation.skeleton";
  j.state = "queued";
  j.input = R"({"site":"bver://sites/site/s1"})";
  j.labels = labels;
  j.max_attempts = 3;
  j.created_at_us = run_after;
  j.run_after_us = run_after;
  j.extra = "{}";
  return j;
}

TEST_P(StoreConformance, JobsAreClaimedOnceInOrderWithLabelsAndLeases) {
  Backend& b = store_->backend();
  ASSERT_TRUE(b.WriteTxn([](Txn& t) -> Status {
    BVER_RETURN_IF_ERROR(t.PutJob(QueuedJob("j2", 200)));
    BVER_RETURN_IF_ERROR(t.PutJob(QueuedJob("j1", 100)));
    BVER_RETURN_IF_ERROR(t.PutJob(QueuedJob("j3", 300, R"({"os":"windows"})")));
    return t.PutJob(QueuedJob("j4", 5000));  // not due yet
  }).ok());
  Result<std::optional<JobRow>> first = b.ClaimJob("w1", R"({"os":"linux"})", 1000, 2000);
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status().ToString();
  EXPECT_EQ((*first)->id, "j1");
  EXPECT_EQ((*first)->state, "running");
  EXPECT_EQ((*first)->worker, "w1");
  EXPECT_EQ((*first)->attempts, 1);
  EXPECT_EQ((*first)->input, R"({"site":"bver://sites/site/s1"})");
  EXPECT_EQ((*b.ClaimJob("w2", R"({"os":"linux"})", 1000, 2000))->id, "j2");
  // j3 needs windows, j4 is not due: nothing for a linux worker.
  EXPECT_FALSE(b.ClaimJob("w2", R"({"os":"linux"})", 1000, 2000)->has_value());
  Result<std::optional<JobRow>> win = b.ClaimJob("w3", R"({"os":"windows","arch":"x86_64"})", 1000, 2000);
  ASSERT_TRUE(win.ok() && win->has_value());
  EXPECT_EQ((*win)->id, "j3");
  // Leases: renewing works for the holder only; an expired lease makes the
  // job claimable again (its worker died), with one more attempt.
  EXPECT_TRUE(*b.RenewJobLease("j1", "w1", 3000));
  EXPECT_FALSE(*b.RenewJobLease("j1", "w2", 3000));
  Result<std::optional<JobRow>> retaken = b.ClaimJob("w9", "", 2500, 9000);
  ASSERT_TRUE(retaken.ok() && retaken->has_value());
  EXPECT_EQ((*retaken)->id, "j2") << "j2's lease ran out at 2000; j1's was renewed to 3000";
  EXPECT_EQ((*retaken)->attempts, 2);
  EXPECT_FALSE(*b.RenewJobLease("j2", "w2", 9000)) << "w2 lost j2";
  // Ended jobs are never claimed; listing by state.
  ASSERT_TRUE(b.WriteTxn([&](Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(std::optional<JobRow> j, t.GetJob("j1"));
    if (!j) return NotFoundError("j1");
    j->state = "succeeded";
    j->result = R"({"ok":true})";
    return t.PutJob(*j);
  }).ok());
  EXPECT_FALSE(b.ClaimJob("w1", "", 4000, 9000)->has_value() &&
               (*b.ClaimJob("w1", "", 4000, 9000))->id == "j1");
  Result<std::vector<JobRow>> done = b.ListJobs("succeeded", "", 10);
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ((*done)[0].result, R"({"ok":true})");
  EXPECT_EQ(b.ListJobs("", "", 10)->size(), 4u);
  EXPECT_EQ(b.ListJobs("", "j2", 10)->size(), 2u);
  EXPECT_FALSE(b.GetJob("nope")->has_value());
}

TEST_P(StoreConformance, ConcurrentClaimersNeverShareAJob) {
  constexpr int kJobs = 60, kWorkers = 6;
  Backend& b = store_->backend();
  ASSERT_TRUE(b.WriteTxn([](Txn& t) -> Status {
    for (int i = 0; i < kJobs; ++i) {
      char id[16];
      std::snprintf(id, sizeof id, "j%03d", i);
      BVER_RETURN_IF_ERROR(t.PutJob(QueuedJob(id, i)));
    }
    return Status::Ok();
  }).ok());
  std::mutex mu;
  std::vector<std::string> claimed;
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      while (true) {
        Result<std::optional<JobRow>> j = b.ClaimJob("w" + std::to_string(w), "", 1000, 1'000'000);
        ASSERT_TRUE(j.ok()) << j.status().ToString();
        if (!j->has_value()) return;
        std::lock_guard<std::mutex> l(mu);
        claimed.push_back((*j)->id);
      }
    });
  }
  for (std::thread& t : workers) t.join();
  std::set<std::string> unique(claimed.begin(), claimed.end());
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kJobs));
}

TEST(LabelsMatchTest, EveryRequiredLabelWithItsValue) {
  EXPECT_TRUE(LabelsMatch("", ""));
  EXPECT_TRUE(LabelsMatch("{}", R"({"os":"linux"})"));
  EXPECT_TRUE(LabelsMatch(R"({"os":"linux"})", R"({"os":"linux","arch":"x86_64"})"));
  EXPECT_FALSE(LabelsMatch(R"({"os":"linux"})", R"({"os":"windows"})"));
  EXPECT_FALSE(LabelsMatch(R"({"tool":"python3"})", ""));
  EXPECT_FALSE(LabelsMatch("not json", R"({})"));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<BackendCase>& i) { return i.param.name; });

}  // namespace
}  // namespace bver::store
