// Rest over a real broker and SQLite store of the substation example,
// without any socket: request in, response out.
#include "src/api/rest.h"

#include <unistd.h>

#include <filesystem>
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/api/docs_page.h"
#include "src/api/metrics.h"
#include "src/api/openapi.h"
#include "src/domain/compiler.h"
#include "src/runtime/broker.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "src/store/store.h"

namespace bver::api {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

std::string Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class RestUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_rest_unit_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Result<domain::Platform> p = domain::CompileFile(BVER_SOURCE_DIR "/examples/substation/bver.yaml");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    auto platform = std::make_shared<const domain::Platform>(std::move(p).value());
    Result<std::unique_ptr<store::Backend>> b =
        store::sqlite::OpenSqlite({(dir_ / "bver.db").string(), store::sqlite::Durability::kFast, 2});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    store::Store::Options o;
    o.manifest_fingerprint = "sha256:test";
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(platform, std::move(b).value(), o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    Result<std::unique_ptr<runtime::OperationTable>> t = runtime::OperationTable::Build(platform, {store_.get(), nullptr});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    broker_ = std::make_unique<runtime::Broker>(std::shared_ptr<const runtime::OperationTable>(std::move(t).value()));
  }
  void TearDown() override {
    broker_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  HttpResponse Call(const Rest& rest, std::string method, std::string target, std::string body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers = std::move(headers);
    return rest.Handle(r);
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<runtime::Broker> broker_;
};

TEST_F(RestUnitTest, CreateGetWithEtagLocationAndCorrelationId) {
  Rest rest(*broker_, nullptr, {.local_operator = true});
  HttpResponse c = Call(rest, "POST", "/v1/refs/sites/site?id=s1", R"({"name":"A"})",
                        {{"X-Correlation-ID", "corr-1"}});
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(Header(c, "ETag"), "\"1\"");
  EXPECT_EQ(Header(c, "Location"), "/v1/refs/sites/site/s1");
  EXPECT_EQ(Header(c, "X-Correlation-ID"), "corr-1");
  HttpResponse g = Call(rest, "GET", "/v1/refs/sites/site/s1");
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(json::parse(g.body)["body"]["name"], "A");
  EXPECT_FALSE(Header(g, "X-Correlation-ID").empty());
}

TEST_F(RestUnitTest, RoutingProblems) {
  Rest rest(*broker_, nullptr, {.local_operator = true});
  HttpResponse nf = Call(rest, "GET", "/v1/nope");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(Header(nf, "Content-Type"), "application/problem+json");
  HttpResponse m = Call(rest, "POST", "/v1/refs/sites/site/x", "{}");
  EXPECT_EQ(m.status, 405);
  EXPECT_THAT(Header(m, "Allow"), HasSubstr("PATCH"));
  EXPECT_EQ(json::parse(m.body)["status"], 405);
  EXPECT_EQ(json::parse(m.body)["code"], "method_not_allowed");
  HttpResponse ct = Call(rest, "PATCH", "/v1/refs/sites/site/x", "{}", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(ct.status, 415);
  // A 415 answers its own code, type and title, not invalid_argument.
  json ct_body = json::parse(ct.body);
  EXPECT_EQ(ct_body["status"], 415);
  EXPECT_EQ(ct_body["code"], "unsupported_media_type");
  EXPECT_EQ(ct_body["type"], "urn:bver:problem:unsupported_media_type");
  EXPECT_EQ(ct_body["title"], "Unsupported media type");
  EXPECT_THAT(ct_body["detail"].get<std::string>(), HasSubstr("text/plain"));
  HttpResponse bad = Call(rest, "GET", "/v1/refs/sites/site/x/versions/one");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Call(rest, "GET", "/healthz").status, 200);
  // The server's address leads to its documentation.
  HttpResponse root = Call(rest, "GET", "/");
  EXPECT_EQ(root.status, 302);
  EXPECT_EQ(Header(root, "Location"), "/docs");
}

TEST_F(RestUnitTest, WithoutLocalOperatorAnonymousIsUnauthenticated) {
  Rest rest(*broker_, nullptr, {});
  HttpResponse r = Call(rest, "GET", "/v1/refs/sites/site");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Header(r, "WWW-Authenticate"), "Bearer");
  HttpResponse t = Call(rest, "GET", "/v1/refs/sites/site", "", {{"Authorization", "Bearer x"}});
  EXPECT_EQ(t.status, 401);
}

TEST_F(RestUnitTest, OpenApiDocumentListsEveryRouteAndScope) {
  Rest rest(*broker_, nullptr, {});
  HttpResponse r = Call(rest, "GET", "/v1/openapi.json");  // no credentials needed
  ASSERT_EQ(r.status, 200);
  json doc = json::parse(r.body);
  EXPECT_EQ(doc["openapi"], "3.1.1");
  EXPECT_EQ(doc["jsonSchemaDialect"], "https://json-schema.org/draft/2020-12/schema");
  const json& scopes = doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"];
  for (const std::string& s : broker_->table().AllScopes()) EXPECT_TRUE(scopes.contains(s)) << s;
  const json& create = doc["paths"]["/v1/refs/sites/site"]["post"];
  EXPECT_EQ(create["operationId"], "refs.site.create");
  EXPECT_TRUE(create["responses"].contains("201"));
  EXPECT_TRUE(doc["paths"]["/v1/refs/sites/site/{id}"]["patch"]["requestBody"]["content"].contains(
      "application/json-patch+json"));
  // Every operation also as POST /v1/ops/<id>, its input schema as the body.
  for (const runtime::OperationRow& row : broker_->table().rows()) {
    const json& generic = doc["paths"]["/v1/ops/" + row.id]["post"];
    EXPECT_EQ(generic["operationId"], "ops." + row.id);
    EXPECT_EQ(generic["requestBody"]["content"]["application/json"]["schema"]["$ref"],
              "#/components/schemas/" + row.id + ".input");
  }
  // Component names are plain ($defs such as "body:breaker" are hoisted and renamed).
  for (const auto& [name, schema] : doc["components"]["schemas"].items()) {
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"),
              std::string::npos)
        << name;
    EXPECT_FALSE(schema.contains("$defs")) << name;
  }
  EXPECT_TRUE(doc["paths"]["/v1/refs/sites/site"]["post"]["responses"].contains("4XX"));
  // Every local $ref points into the document.
  std::function<void(const json&)> check = [&](const json& v) {
    if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (it.key() == "$ref" && it->is_string()) {
          std::string ref = *it;
          if (ref.rfind("#/", 0) == 0) {
            EXPECT_NO_THROW((void)doc.at(json::json_pointer(ref.substr(1)))) << ref;
          }
        } else {
          check(*it);
        }
      }
    } else if (v.is_array()) {
      for (const json& e : v) check(e);
    }
  };
  check(doc);
}

TEST_F(RestUnitTest, TheOpsShapeOnAReferenceRouteSaysWhereTheIdGoes) {
  Rest rest(*broker_, nullptr, {.local_operator = true});
  HttpResponse r = Call(rest, "POST", "/v1/refs/sites/site", R"({"id":"n1","body":{"name":"North"}})",
                        {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(json::parse(r.body)["detail"].get<std::string>(), HasSubstr("?id=...&kind=..."));
  // The route as documented works; the generic route takes that shape.
  EXPECT_EQ(Call(rest, "POST", "/v1/refs/sites/site?id=n1", R"({"name":"North"})",
                 {{"Content-Type", "application/json"}}).status, 201);
  EXPECT_EQ(Call(rest, "POST", "/v1/ops/refs.site.create", R"({"id":"n2","body":{"name":"North"}})",
                 {{"Content-Type", "application/json"}}).status, 200);
}

TEST_F(RestUnitTest, DocsIsSwaggerUiServedFromThisServer) {
  Rest rest(*broker_, nullptr, {});
  HttpResponse page = Call(rest, "GET", "/docs");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(Header(page, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(page.body, HasSubstr("<script src=\"/docs/swagger-ui-bundle.js\"></script>"));
  EXPECT_THAT(page.body, HasSubstr("<script src=\"/docs/bver-docs.js\"></script>"));
  EXPECT_THAT(page.body, Not(HasSubstr("src=\"http")));  // nothing from a CDN
  EXPECT_THAT(page.body, Not(HasSubstr("href=\"http")));
  EXPECT_THAT(Header(page, "Content-Security-Policy"), HasSubstr("script-src 'self'"));
  HttpResponse bundle = Call(rest, "GET", "/docs/swagger-ui-bundle.js");
  ASSERT_EQ(bundle.status, 200);
  EXPECT_EQ(Header(bundle, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_GT(bundle.body.size(), 500000u);
  EXPECT_THAT(bundle.body, HasSubstr("SwaggerUIBundle"));
  HttpResponse css = Call(rest, "GET", "/docs/swagger-ui.css");
  ASSERT_EQ(css.status, 200);
  EXPECT_EQ(Header(css, "Content-Type"), "text/css; charset=utf-8");
  HttpResponse start = Call(rest, "GET", "/docs/bver-docs.js");
  EXPECT_THAT(start.body, HasSubstr("url: \"/v1/openapi.json\""));
  EXPECT_EQ(Call(rest, "GET", "/docs/LICENSE").status, 404);
  EXPECT_EQ(Call(rest, "GET", "/docs/swagger-ui-LICENSE.txt").status, 200);
  EXPECT_EQ(Call(rest, "GET", "/docs/../v1/openapi.json").status, 404);
  EXPECT_EQ(Call(rest, "DELETE", "/docs/swagger-ui.css").status, 405);
}

TEST_F(RestUnitTest, ReferenceExamplesNameThisServerAndNoKeyWhenNoneIsNeeded) {
  Rest local(*broker_, nullptr, {.local_operator = true});
  HttpResponse r = Call(local, "GET", "/docs/reference", "", {{"Host", "127.0.0.1:40123"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("curl -sS -X POST 'http://127.0.0.1:40123/v1/refs/sites/site'"));
  EXPECT_THAT(r.body, Not(HasSubstr("127.0.0.1:8080")));
  EXPECT_THAT(r.body, Not(HasSubstr("-H 'Authorization: Bearer '")));
  Rest authed(*broker_, nullptr, {});
  HttpResponse k = Call(authed, "GET", "/docs/reference", "", {{"Host", "bver.example:9000"}});
  EXPECT_THAT(k.body, HasSubstr("'http://bver.example:9000/v1/refs/sites/site'"));
  EXPECT_THAT(k.body, HasSubstr("-H 'Authorization: Bearer '"));
  // A Host that is not a plain host:port is not pasted into the page.
  HttpResponse odd = Call(authed, "GET", "/docs/reference", "", {{"Host", "x'><script>"}});
  EXPECT_THAT(odd.body, Not(HasSubstr("x'><script>")));
}

TEST_F(RestUnitTest, DocsPageShowsEveryOperationWithoutCredentials) {
  Rest rest(*broker_, nullptr, {});
  HttpResponse r = Call(rest, "GET", "/docs/reference");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Header(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.body.rfind("<!DOCTYPE html>", 0), 0u);
  // Offline: nothing is fetched from elsewhere.
  EXPECT_THAT(r.body, Not(HasSubstr("<script")));
  EXPECT_THAT(r.body, Not(HasSubstr("src=\"http")));
  EXPECT_THAT(r.body, Not(HasSubstr("<link")));
  json doc = json::parse(Call(rest, "GET", "/v1/openapi.json").body);
  EXPECT_THAT(r.body, HasSubstr(doc["info"]["title"].get<std::string>()));
  EXPECT_THAT(r.body, HasSubstr("version " + doc["info"]["version"].get<std::string>()));
  int operations = 0;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      std::string id = op["operationId"];
      ++operations;
      EXPECT_THAT(r.body, HasSubstr("id=\"op-" + id + "\"")) << id;
      EXPECT_THAT(r.body, HasSubstr("operation <code>" + id + "</code>")) << id;
      for (const json& scope : op["security"][0]["oauth2"]) {
        EXPECT_THAT(r.body, HasSubstr("<span class=\"scope\">" + scope.get<std::string>() + "</span>")) << id;
      }
    }
  }
  EXPECT_GT(operations, 10);
  EXPECT_THAT(r.body, HasSubstr("curl -sS -X POST 'http://127.0.0.1:8080/v1/refs/sites/site'"));
  // The kind-less body's required field, with a value its schema accepts.
  EXPECT_THAT(r.body, HasSubstr("-d '{\"name\":\"example\"}'"));
  EXPECT_THAT(r.body, HasSubstr("<code>/v1/refs/sites/site/{id}/versions/{version}</code>"));
  EXPECT_EQ(Call(rest, "POST", "/docs", "{}").status, 405);
}

TEST(DocsPageTest, EscapesEveryTextFromTheDocument) {
  json doc = {{"openapi", "3.1.1"},
              {"info", {{"title", "<script>alert(1)</script>"}, {"version", "1&2"}, {"description", "\"quoted\" 'x'"}}},
              {"paths",
               {{"/v1/x/{id}",
                 {{"get",
                   {{"operationId", "x.get"},
                    {"summary", "<b>bold</b>"},
                    {"tags", {"a<b"}},
                    {"security", {{{"oauth2", {"x:<read>"}}}}},
                    {"parameters", {{{"name", "id"}, {"in", "path"}, {"required", true},
                                     {"schema", {{"type", "string"}, {"pattern", "^<[a-z]+>$"}}}}}},
                    {"responses",
                     {{"200",
                       {{"description", "ok"},
                        {"content",
                         {{"application/json",
                           {{"schema", {{"$ref", "#/components/schemas/x.out"}}}}}}}}}}}}}}}}},
              {"components", {{"schemas", {{"x.out", {{"type", "object"}, {"description", "</pre><img>"}}}}}}}};
  std::string html = DocsPage(doc);
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, Not(HasSubstr("<b>bold")));
  EXPECT_THAT(html, Not(HasSubstr("<img>")));
  EXPECT_THAT(html, Not(HasSubstr("x:<read>")));
  EXPECT_THAT(html, Not(HasSubstr("a<b")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("1&amp;2"));
  EXPECT_THAT(html, HasSubstr("&quot;quoted&quot; &#39;x&#39;"));
  EXPECT_THAT(html, HasSubstr("&lt;/pre&gt;&lt;img&gt;"));
  EXPECT_THAT(html, HasSubstr("id=\"op-x.get\""));
  EXPECT_THAT(html, HasSubstr("http://127.0.0.1:8080/v1/x/ID"));
  EXPECT_EQ(HtmlEscape("a&<>\"'b"), "a&amp;&lt;&gt;&quot;&#39;b");
}

TEST_F(RestUnitTest, MetricsAndReadiness) {
  Metrics metrics;
  Status readiness = Status::Ok();
  Rest::Options o;
  o.local_operator = true;
  o.metrics = &metrics;
  o.ready = [&readiness] { return readiness; };
  Rest rest(*broker_, nullptr, o);
  EXPECT_EQ(Call(rest, "GET", "/readyz").status, 200);
  readiness = Status(StatusCode::kUnavailable, "store closed");
  HttpResponse not_ready = Call(rest, "GET", "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(Header(not_ready, "Content-Type"), "application/problem+json");
  EXPECT_THAT(json::parse(not_ready.body)["detail"].get<std::string>(), HasSubstr("store closed"));
  readiness = InvalidArgumentError("odd");
  EXPECT_EQ(Call(rest, "GET", "/readyz").status, 503) << "a failed probe is never the caller's fault";
  EXPECT_EQ(Call(rest, "GET", "/healthz").status, 200) << "liveness does not depend on readiness";

  metrics.ObserveHttp("GET", 200, 0.001);
  HttpResponse m = Call(rest, "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(Header(m, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(m.body, HasSubstr("bver_http_requests_total{method=\"GET\",status=\"200\"} 1\n"));

  Rest without(*broker_, nullptr, {.local_operator = true});
  EXPECT_EQ(Call(without, "GET", "/metrics").status, 404);
  EXPECT_EQ(Call(without, "GET", "/readyz").status, 200);
}

}  // namespace
}  // namespace bver::api
