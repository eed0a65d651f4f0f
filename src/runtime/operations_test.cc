// The operation table of the substation example: every expected row, with
// schemas that compile and have object roots, scopes, hints and HTTP
// bindings that a transport can derive routes from; and the generated
// schemas accept and reject what they should.
#include <regex>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/domain/compiler.h"
#include "src/domain/source.h"
#include "src/runtime/handlers.h"
#include "src/runtime/op_schemas.h"
#include "src/runtime/operations.h"
#include "src/store/filter.h"
#include "src/schema/validator.h"

namespace bver::runtime {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::shared_ptr<const domain::Platform> Substation() {
  static std::shared_ptr<const domain::Platform> p = [] {
    Result<domain::Platform> r = domain::CompileFile(BVER_SOURCE_DIR "/examples/substation/bver.yaml");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::make_shared<const domain::Platform>(std::move(r).value());
  }();
  return p;
}

std::unique_ptr<OperationTable> Table(std::shared_ptr<const domain::Platform> p = Substation()) {
  Result<std::unique_ptr<OperationTable>> t = OperationTable::Build(p, {});
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

// What the broker checks: the row's input schema and, for a create, the
// body against the store's validator for its repo and kind.
std::vector<Violation> Problems(const OperationRow& row, const json& input) { return CheckInput(row, input); }

bool HasViolation(const std::vector<Violation>& v, const std::string& path, const std::string& rule) {
  for (const Violation& x : v) {
    if (x.path == path && x.rule == rule) return true;
  }
  return false;
}

std::string Dump(const std::vector<Violation>& v) {
  std::string out;
  for (const Violation& x : v) out += x.path + " [" + x.rule + "] " + x.message + "\n";
  return out;
}

TEST(OperationTable, SubstationHasEveryExpectedRowWithJobRowsAndNoOrchestratorRows) {
  auto t = Table();
  ASSERT_NE(t, nullptr);
  std::set<std::string> ids;
  for (const OperationRow& r : t->rows()) ids.insert(r.id);
  std::set<std::string> expected = {"resolve",       "events.read",         "ledger.verify",
                                    "artifacts.put", "artifacts.get",       "jobs.skeleton.start",
                                    "jobs.sanity.start", "jobs.status",     "jobs.cancel"};
  for (const char* repo : {"site", "asset", "document"}) {
    for (const char* verb : {"create", "get", "patch", "replace", "delete", "list", "history", "version", "diff"}) {
      expected.insert(std::string("refs.") + repo + "." + verb);
    }
  }
  EXPECT_EQ(ids, expected) << "orch.* get rows once their runtime exists";
  EXPECT_EQ(t->Find("refs.site.create")->id, "refs.site.create");
  EXPECT_EQ(t->Find("orch.design_site.start"), nullptr);
  EXPECT_EQ(t->Find("nope"), nullptr);
}

TEST(OperationTable, JobRowsTakeTheCapabilityInputAndHaveRoutes) {
  auto t = Table();
  const OperationRow* start = t->Find("jobs.skeleton.start");
  ASSERT_NE(start, nullptr);
  EXPECT_EQ(start->http.method, "POST");
  EXPECT_EQ(start->http.path, "/v1/jobs/skeleton");
  EXPECT_EQ(start->http.success_status, 202);
  EXPECT_EQ(start->scopes, std::vector<std::string>{"jobs.skeleton:run"});
  EXPECT_TRUE(Problems(*start, {{"input", {{"site", "bver://sites/site/s1"}}}, {"wait", 5}}).empty());
  // The capability's input schema applies to "input".
  std::vector<Violation> v = Problems(*start, {{"input", {{"bays_per_level", 0}}}});
  EXPECT_FALSE(v.empty());
  EXPECT_FALSE(Problems(*start, {{"wait", 1000}}).empty());
  EXPECT_FALSE(Problems(*start, {{"input", json::object()}, {"bogus", 1}}).empty());
  const OperationRow* status = t->Find("jobs.status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->http.method, "GET");
  EXPECT_EQ(status->http.path, "/v1/jobs/{job_id}");
  EXPECT_TRUE(status->read_only);
  EXPECT_FALSE(Problems(*status, {{"job_id", "not-a-uuid"}}).empty());
  const OperationRow* cancel = t->Find("jobs.cancel");
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(cancel->http.path, "/v1/jobs/{job_id}/cancel");
  // Without a job engine the handlers say so.
  Call call;
  call.operation = "jobs.status";
  call.input = std::make_shared<const json>(json{{"job_id", "0190aaaa-0000-7000-8000-000000000000"}});
  Result<json> r = status->handler(call);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
}

TEST(OperationTable, EverySchemaHasAnObjectRootDialectAndCompiles) {
  auto t = Table();
  for (const OperationRow& r : t->rows()) {
    for (const JsonPtr& s : {r.input_schema, r.output_schema}) {
      ASSERT_TRUE(s && s->is_object()) << r.id;
      EXPECT_EQ(s->value("type", ""), "object") << r.id << ": MCP needs object roots";
      EXPECT_EQ(s->value("$schema", ""), "https://json-schema.org/draft/2020-12/schema") << r.id;
      // Self-contained: it compiles again on its own, without a registry.
      Result<std::unique_ptr<schema::Validator>> v = schema::Validator::Compile(*s);
      EXPECT_TRUE(v.ok()) << r.id << ": " << v.status().ToString();
    }
    EXPECT_TRUE(r.input_validator && r.output_validator && r.handler) << r.id;
    EXPECT_FALSE(r.summary.empty()) << r.id;
    EXPECT_FALSE(r.description.empty()) << r.id;
    EXPECT_TRUE(std::regex_match(r.id, std::regex("[A-Za-z0-9_.-]{1,128}"))) << r.id << " is a valid MCP tool name";
  }
}

TEST(OperationTable, ScopesAndHintsComeFromThePlatform) {
  auto t = Table();
  const OperationRow* create = t->Find("refs.site.create");
  EXPECT_EQ(create->scopes, std::vector<std::string>{"sites.site:write"});
  EXPECT_FALSE(create->read_only);
  EXPECT_FALSE(create->idempotent);
  const OperationRow* get = t->Find("refs.asset.get");
  EXPECT_EQ(get->scopes, std::vector<std::string>{"assets.asset:read"});
  EXPECT_TRUE(get->read_only && get->idempotent && !get->destructive);
  const OperationRow* del = t->Find("refs.document.delete");
  EXPECT_TRUE(del->destructive && del->idempotent && !del->read_only);
  const OperationRow* resolve = t->Find("resolve");
  EXPECT_TRUE(resolve->scopes.empty());
  EXPECT_EQ(resolve->scope_from_pointer, "pointer");
  EXPECT_EQ(t->Find("ledger.verify")->scopes, std::vector<std::string>{"admin"});
  std::vector<std::string> all = t->AllScopes();
  for (const char* s : {"admin", "sites.site:read", "sites.site:write", "events:read", "artifacts:write"}) {
    EXPECT_NE(std::find(all.begin(), all.end(), s), all.end()) << s;
  }
}

TEST(OperationTable, HttpBindingsAreCompleteAndUnambiguous) {
  auto t = Table();
  std::set<std::string> routes;
  for (const OperationRow& r : t->rows()) {
    const HttpBinding& h = r.http;
    ASSERT_FALSE(h.method.empty()) << r.id;
    ASSERT_EQ(h.path.rfind("/v1/", 0), 0u) << r.id;
    EXPECT_TRUE(routes.insert(h.method + " " + h.path).second) << "two rows share " << h.method << " " << h.path;
    // Every placeholder is a path param, and every param names an input field.
    std::set<std::string> placeholders;
    std::regex ph("\\{([a-z_]+)\\}");
    for (auto it = std::sregex_iterator(h.path.begin(), h.path.end(), ph); it != std::sregex_iterator(); ++it) {
      placeholders.insert((*it)[1]);
    }
    std::set<std::string> path_params;
    const json& props = (*r.input_schema)["properties"];
    for (const HttpParam& p : h.params) {
      EXPECT_TRUE(props.contains(p.field)) << r.id << ": " << p.field << " is not an input field";
      if (p.source == HttpSource::kPath) path_params.insert(p.name);
      if (p.source == HttpSource::kBody) {
        EXPECT_FALSE(p.media_types.empty()) << r.id;
      }
    }
    EXPECT_EQ(placeholders, path_params) << r.id;
    if (r.read_only) {
      EXPECT_EQ(h.method, "GET") << r.id;
    }
  }
  const OperationRow* create = t->Find("refs.site.create");
  EXPECT_EQ(create->http.method, "POST");
  EXPECT_EQ(create->http.path, "/v1/refs/sites/site");
  EXPECT_EQ(create->http.success_status, 201);
  EXPECT_EQ(create->http.location, "/v1/refs/sites/site/{id}");
  EXPECT_EQ(t->Find("refs.site.patch")->http.path, "/v1/refs/sites/site/{id}");
  EXPECT_EQ(t->Find("refs.site.version")->http.path, "/v1/refs/sites/site/{id}/versions/{version}");
  EXPECT_TRUE(t->Find("artifacts.put")->http.raw_request_body);
  EXPECT_TRUE(t->Find("artifacts.get")->http.raw_response_body);
}

TEST(OperationSchemas, CreateChoosesTheBodySchemaByKind) {
  auto t = Table();
  const OperationRow& site = *t->Find("refs.site.create");
  EXPECT_TRUE(Problems(site, {{"body", {{"name", "North"}}}}).empty());
  EXPECT_TRUE(Problems(site, {{"kind", "power.substation"}, {"body", {{"name", "N"}, {"bays", 4}}}}).empty());
  // bays belongs to power.substation only: without a kind the base forbids it.
  std::vector<Violation> v = Problems(site, {{"body", {{"name", "N"}, {"bays", 4}}}});
  EXPECT_TRUE(HasViolation(v, "body.bays", "additionalProperties")) << Dump(v);
  v = Problems(site, {{"kind", "power.substation"}, {"body", {{"name", 5}, {"bays", -1}}}});
  EXPECT_TRUE(HasViolation(v, "body.name", "type")) << Dump(v);
  EXPECT_TRUE(HasViolation(v, "body.bays", "minimum")) << Dump(v);
  v = Problems(site, {{"kind", "no.such"}, {"body", {{"name", "N"}}}, {"extra", 1}});
  EXPECT_TRUE(HasViolation(v, "kind", "enum")) << Dump(v);
  EXPECT_TRUE(HasViolation(v, "extra", "additionalProperties")) << Dump(v);
  v = Problems(site, json::object());
  EXPECT_TRUE(HasViolation(v, "", "required")) << Dump(v);
  // Assets need a kind.
  const OperationRow& asset = *t->Find("refs.asset.create");
  v = Problems(asset, {{"body", {{"name", "T1"}, {"site", "bver://sites/site/s1"}}}});
  EXPECT_TRUE(HasViolation(v, "", "required")) << Dump(v);
  EXPECT_TRUE(Problems(asset, {{"kind", "transformer"},
                               {"body", {{"name", "T1"}, {"site", "bver://sites/site/s1"}, {"rated_power_mva", 40}}}})
                  .empty());
  v = Problems(asset, {{"kind", "breaker"}, {"body", {{"name", "B"}, {"site", "bver://assets/asset/x"}}}});
  EXPECT_TRUE(HasViolation(v, "body.site", "pattern")) << "pointer fields keep their target: " << Dump(v);
}

TEST(OperationSchemas, TargetsAndPatchFormsAreExclusive) {
  auto t = Table();
  const OperationRow& patch = *t->Find("refs.site.patch");
  EXPECT_TRUE(Problems(patch, {{"id", "s1"}, {"merge", {{"status", "ready"}}}}).empty());
  EXPECT_TRUE(Problems(patch, {{"pointer", "bver://sites/site/s1"}, {"json_patch", json::array()}}).empty());
  EXPECT_FALSE(Problems(patch, {{"id", "s1"}}).empty()) << "one of merge, json_patch";
  EXPECT_FALSE(Problems(patch, {{"id", "s1"}, {"merge", json::object()}, {"json_patch", json::array()}}).empty());
  EXPECT_FALSE(Problems(patch, {{"merge", json::object()}}).empty()) << "one of id, pointer";
  EXPECT_FALSE(Problems(patch, {{"id", "s1"}, {"pointer", "bver://sites/site/s1"}, {"merge", json::object()}}).empty());
  EXPECT_FALSE(Problems(patch, {{"pointer", "bver://assets/asset/a1"}, {"merge", json::object()}}).empty())
      << "a pointer into another repo";
  std::vector<Violation> v = Problems(patch, {{"id", "bad id!"}, {"merge", json::object()}});
  EXPECT_TRUE(HasViolation(v, "id", "pattern")) << Dump(v);
  v = Problems(patch, {{"id", "s1"}, {"json_patch", {{{"op", "frobnicate"}, {"path", "/a"}}}}});
  EXPECT_TRUE(HasViolation(v, "json_patch[0].op", "enum")) << Dump(v);
  const OperationRow& list = *t->Find("refs.site.list");
  v = Problems(list, {{"limit", 0}, {"where", "name=x"}});
  EXPECT_TRUE(HasViolation(v, "limit", "minimum")) << Dump(v);
  EXPECT_TRUE(HasViolation(v, "where", "type")) << Dump(v);
}

TEST(OperationSchemas, OutputsPublishBodiesByKindAndCheckTheShapeNotStoredBodies) {
  auto t = Table();
  const OperationRow& get = *t->Find("refs.site.get");
  json ref = {{"pointer", "bver://sites/site/s1~1"}, {"ns", "sites"}, {"repo", "site"}, {"id", "s1"},
              {"version", 1}, {"kind", "power.substation"}, {"deleted", false},
              {"created_at", "2026-01-01T00:00:00.000000Z"}, {"updated_at", "2026-01-01T00:00:00.000000Z"},
              {"body", {{"name", "N"}, {"bays", 2}}}};
  EXPECT_TRUE(get.output_validator->Validate(ref).ok());
  json wrong = ref;
  wrong["kind"] = nullptr;
  // The published schema (OpenAPI, MCP, SDKs) describes today's bodies by kind.
  Result<std::unique_ptr<schema::Validator>> published = schema::Validator::Compile(*get.output_schema);
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  EXPECT_TRUE((*published)->Validate(ref).ok());
  EXPECT_FALSE((*published)->Validate(wrong).ok()) << "bays is not a base property";
  // The broker's check leaves stored bodies alone (the store checked each
  // when written; an older version keeps its shape) but checks the rest.
  EXPECT_TRUE(get.output_validator->Validate(wrong).ok());
  json bad_shape = ref;
  bad_shape["version"] = 0;
  EXPECT_FALSE(get.output_validator->Validate(bad_shape).ok());
  bad_shape = ref;
  bad_shape.erase("body");
  EXPECT_FALSE(get.output_validator->Validate(bad_shape).ok());
  const OperationRow& list = *t->Find("refs.site.list");
  json tomb = ref;
  tomb["deleted"] = true;
  tomb["body"] = json::object();
  EXPECT_TRUE(list.output_validator->Validate({{"items", {ref, tomb}}}).ok());
  EXPECT_FALSE(list.output_validator->Validate({{"items", {bad_shape}}}).ok());
}

TEST(OperationSchemas, EmbeddedDomainSchemasKeepTheirReferences) {
  // A repo whose schema uses $defs/$ref, and a root $id: embedded under the
  // operation's $defs, its references must still resolve inside the copy.
  Result<domain::SourceDocument> doc = domain::ParseYaml(R"(bver: 1
platform: { id: refs, version: 0.1.0 }
namespaces:
  things:
    owner: core
    repos:
      thing:
        version: 1.0.0
        schema:
          $id: https://example.test/thing.json
          type: object
          required: [part]
          additionalProperties: false
          properties:
            part: { $ref: "#/$defs/part" }
            again: { $ref: "https://example.test/thing.json#/$defs/part" }
            meta: { type: object }
          $defs:
            part: { type: object, required: [n], properties: { n: { type: integer } } }
        kinds:
          big.thing:
            schema:
              properties:
                size: { type: integer }
)",
                                                          "refs.yaml");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  Result<domain::Platform> p = domain::Compile(*doc);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto t = Table(std::make_shared<const domain::Platform>(std::move(p).value()));
  ASSERT_NE(t, nullptr);
  const OperationRow& create = *t->Find("refs.thing.create");
  EXPECT_TRUE(Problems(create, {{"body", {{"part", {{"n", 1}}}, {"again", {{"n", 2}}}}}}).empty());
  std::vector<Violation> v = Problems(create, {{"body", {{"part", {{"n", "x"}}}}}});
  EXPECT_TRUE(HasViolation(v, "body.part.n", "type")) << Dump(v);
  v = Problems(create, {{"kind", "big.thing"}, {"body", {{"part", {{"n", 1}}}, {"again", {{"n", "y"}}}, {"size", 3}}}});
  EXPECT_TRUE(HasViolation(v, "body.again.n", "type")) << Dump(v);

  json embedded = internal::EmbedAt({{"$schema", "x"},
                                     {"properties", {{"a", {{"$ref", "#/$defs/d"}}}, {"b", {{"$ref", "#"}}}}},
                                     {"default", {{"$ref", "#/data"}}}},
                                    "body:k");
  EXPECT_FALSE(embedded.contains("$schema"));
  EXPECT_EQ(embedded["properties"]["a"]["$ref"], "#/$defs/body:k/$defs/d");
  EXPECT_EQ(embedded["properties"]["b"]["$ref"], "#/$defs/body:k");
  EXPECT_EQ(embedded["default"]["$ref"], "#/data") << "data is left alone";
}

TEST(OperationTable, WithoutAStoreHandlersSayWhy) {
  auto t = Table();
  Call call;
  call.input = std::make_shared<const json>(json{{"id", "s1"}});
  Result<json> r = t->Find("refs.site.get")->handler(call);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  call.input = std::make_shared<const json>(json{{"digest", std::string(64, 'a')}});
  EXPECT_EQ(t->Find("artifacts.get")->handler(call).status().code(), StatusCode::kFailedPrecondition);
}

TEST(Helpers, WhereFiltersParseLikeTheCli) {
  Result<store::Filter> f = store::ParseFilter("location.lat>=50");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->op, store::FilterOp::kGe);
  EXPECT_EQ(f->path.ToString(), "location.lat");
  EXPECT_EQ(*f->value, json(50));
  f = store::ParseFilter("status=ready");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->value, json("ready")) << "not JSON: a string";
  f = store::ParseFilter("!meta");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->op, store::FilterOp::kNotExists);
  EXPECT_FALSE(store::ParseFilter("bad path=1").ok());
}

TEST(Helpers, Base64AndTimestamps) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(internal::Base64Decode(internal::Base64Encode(s)).value_or("?"), s);
  }
  EXPECT_EQ(internal::Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(internal::Base64Encode("fo"), "Zm8=");
  EXPECT_FALSE(internal::Base64Decode("Zm8").has_value());
  EXPECT_FALSE(internal::Base64Decode("Zm9=").has_value()) << "non-zero bits under the padding";
  EXPECT_FALSE(internal::Base64Decode("Zm=v").has_value());
  EXPECT_FALSE(internal::Base64Decode("Zm 8").has_value());
  EXPECT_EQ(core::FormatTimestamp(1'700'000'000'000'001), "2023-11-14T22:13:20.000001Z");
}

}  // namespace
}  // namespace bver::runtime
