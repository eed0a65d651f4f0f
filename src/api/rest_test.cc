// Rest over a real broker and SQLite store of the substation example,
// without any socket: request in, response out.
#include "src/api/rest.h"

#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/domain/compiler.h"
#include "src/runtime/broker.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "src/store/store.h"

namespace bver::api {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
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
  HttpResponse ct = Call(rest, "PATCH", "/v1/refs/sites/site/x", "{}", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(ct.status, 415);
  HttpResponse bad = Call(rest, "GET", "/v1/refs/sites/site/x/versions/one");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Call(rest, "GET", "/healthz").status, 200);
}

TEST_F(RestUnitTest, WithoutLocalOperatorAnonymousIsUnauthenticated) {
  Rest rest(*broker_, nullptr, {});
  HttpResponse r = Call(rest, "GET", "/v1/refs/sites/site");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Header(r, "WWW-Authenticate"), "Bearer");
  HttpResponse t = Call(rest, "GET", "/v1/refs/sites/site", "", {{"Authorization", "Bearer x"}});
  EXPECT_EQ(t.status, 401);
}

}  // namespace
}  // namespace bver::api
