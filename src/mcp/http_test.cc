// The Streamable HTTP endpoint without sockets: every status it answers
// (200, 202, 400, 401, 403, 405, 406, 415), Host and Origin rules, the
// protocol-version header and credentials, over the substation example on a
// throwaway SQLite store.
#include "src/mcp/http.h"

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/auth/api_keys.h"
#include "src/auth/authenticator.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/mcp/server.h"
#include "src/store/open.h"

namespace bver::mcp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kHost = "127.0.0.1:8123";
constexpr const char* kPing = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";

std::string HeaderOf(const api::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

// A JSON-RPC error body with id null and this code.
void ExpectRpcError(const api::HttpResponse& r, int code) {
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
  json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(body["jsonrpc"], "2.0");
  EXPECT_TRUE(body["id"].is_null()) << r.body;
  EXPECT_EQ(body["error"]["code"], code) << r.body;
  EXPECT_TRUE(body["error"]["message"].is_string());
}

class McpHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver-mcp-http-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Result<domain::Platform> p = domain::CompileFile(BVER_SOURCE_DIR "/examples/substation/bver.yaml");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    Result<std::string> fp = domain::ManifestFingerprint(domain::ToManifest(*p));
    ASSERT_TRUE(fp.ok());
    auto platform = std::make_shared<const domain::Platform>(std::move(p).value());
    Result<std::unique_ptr<store::Store>> st =
        store::OpenStore("sqlite:" + (dir_ / "bver.db").string(), dir_.string(), platform, *fp);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(st).value();
    Result<std::unique_ptr<runtime::OperationTable>> t = runtime::OperationTable::Build(platform, {store_.get(), nullptr});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    auto broker =
        std::make_shared<const runtime::Broker>(std::shared_ptr<const runtime::OperationTable>(std::move(t).value()));
    server_ = std::make_unique<Server>(broker);
    keys_ = std::make_unique<auth::ApiKeys>(store_->backend());
    authenticator_ = std::make_unique<auth::Authenticator>(keys_.get(), nullptr);
  }
  void TearDown() override {
    authenticator_.reset();
    keys_.reset();
    server_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  HttpEndpoint Endpoint(bool local_operator = true, std::vector<std::string> origins = {}) {
    HttpEndpoint::Options o;
    o.local_operator = local_operator;
    o.allowed_hosts = {"127.0.0.1:8123", "localhost:8123", "[::1]:8123"};
    o.allowed_origins = std::move(origins);
    return HttpEndpoint(*server_, authenticator_.get(), o);
  }

  // A POST as the SDK client sends it.
  static api::HttpRequest Post(std::string body) {
    api::HttpRequest r;
    r.method = "POST";
    r.target = "/mcp";
    r.headers = {{"Host", kHost},
                 {"Content-Type", "application/json"},
                 {"Accept", "application/json, text/event-stream"},
                 {"MCP-Protocol-Version", "2025-11-25"}};
    r.body = std::move(body);
    return r;
  }
  static void Set(api::HttpRequest& r, const std::string& name, const std::string& value) {
    for (auto& [k, v] : r.headers) {
      if (k == name) {
        v = value;
        return;
      }
    }
    r.headers.emplace_back(name, value);
  }
  static void Remove(api::HttpRequest& r, const std::string& name) {
    std::erase_if(r.headers, [&](const auto& h) { return h.first == name; });
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<auth::ApiKeys> keys_;
  std::unique_ptr<auth::Authenticator> authenticator_;
};

TEST_F(McpHttpTest, ARequestIsAnsweredWithJson) {
  HttpEndpoint e = Endpoint();
  api::HttpRequest init = Post(R"({"jsonrpc":"2.0","id":"i","method":"initialize","params":{
      "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  Remove(init, "MCP-Protocol-Version");  // the SDK sends none before the version is negotiated
  api::HttpResponse r = e.Handle(init);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
  json a = json::parse(r.body);
  EXPECT_EQ(a["id"], "i");
  EXPECT_EQ(a["result"]["protocolVersion"], "2025-11-25");
  EXPECT_TRUE(HeaderOf(r, "Mcp-Session-Id").empty());  // stateless

  api::HttpResponse p = e.Handle(Post(kPing));
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(json::parse(p.body)["result"], json::object());
}

TEST_F(McpHttpTest, NotificationsAndResponsesAre202WithoutBody) {
  HttpEndpoint e = Endpoint();
  api::HttpResponse n = e.Handle(Post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  EXPECT_EQ(n.status, 202);
  EXPECT_TRUE(n.body.empty());
  api::HttpResponse r = e.Handle(Post(R"({"jsonrpc":"2.0","id":5,"result":{}})"));
  EXPECT_EQ(r.status, 202);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(McpHttpTest, GetAndDeleteAre405AllowPost) {
  HttpEndpoint e = Endpoint();
  for (const char* method : {"GET", "DELETE", "PUT"}) {
    api::HttpRequest r = Post("");
    r.method = method;
    Set(r, "Accept", "text/event-stream");
    api::HttpResponse a = e.Handle(r);
    EXPECT_EQ(a.status, 405) << method;
    EXPECT_EQ(HeaderOf(a, "Allow"), "POST") << method;
    ExpectRpcError(a, -32000);
  }
}

TEST_F(McpHttpTest, ForeignHostIs403AndLoopbackHostsPass) {
  HttpEndpoint e = Endpoint();
  api::HttpRequest r = Post(kPing);
  Set(r, "Host", "evil.example.com");
  api::HttpResponse a = e.Handle(r);
  EXPECT_EQ(a.status, 403);
  ExpectRpcError(a, -32000);
  Set(r, "Host", "127.0.0.1:9999");  // another port is another server
  EXPECT_EQ(e.Handle(r).status, 403);
  for (const char* host : {"localhost:8123", "LOCALHOST:8123", "[::1]:8123"}) {
    Set(r, "Host", host);
    EXPECT_EQ(e.Handle(r).status, 200) << host;
  }
  Remove(r, "Host");
  EXPECT_EQ(e.Handle(r).status, 400);
}

TEST_F(McpHttpTest, NoAllowedHostsMeansHostIsNotChecked) {
  HttpEndpoint::Options o;
  o.local_operator = true;
  HttpEndpoint e(*server_, authenticator_.get(), o);
  api::HttpRequest r = Post(kPing);
  Set(r, "Host", "bver.example.com");
  EXPECT_EQ(e.Handle(r).status, 200);
}

TEST_F(McpHttpTest, ForeignOriginIs403AndLoopbackOrListedOriginsPass) {
  HttpEndpoint e = Endpoint(true, {"https://app.example.com"});
  api::HttpRequest r = Post(kPing);  // our Host, so only the Origin decides
  for (const char* bad : {"http://evil.example.com", "null", "http://localhost.evil.com", "http://127.0.0.1.nip.io:8123",
                          "file://", "http://localhost:80a"}) {
    Set(r, "Origin", bad);
    api::HttpResponse a = e.Handle(r);
    EXPECT_EQ(a.status, 403) << bad;
    ExpectRpcError(a, -32000);
  }
  for (const char* good : {"http://localhost", "http://localhost:3000", "http://127.0.0.1:8123", "http://[::1]:8123",
                           "https://localhost:8443", "https://APP.example.com"}) {
    Set(r, "Origin", good);
    EXPECT_EQ(e.Handle(r).status, 200) << good;
  }
}

TEST_F(McpHttpTest, ProtocolVersionHeader) {
  HttpEndpoint e = Endpoint();
  api::HttpRequest r = Post(kPing);
  Set(r, "MCP-Protocol-Version", "1999-01-01");
  api::HttpResponse a = e.Handle(r);
  EXPECT_EQ(a.status, 400);
  ExpectRpcError(a, -32000);
  for (const char* ok : {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}) {
    Set(r, "MCP-Protocol-Version", ok);
    EXPECT_EQ(e.Handle(r).status, 200) << ok;
  }
  Remove(r, "MCP-Protocol-Version");  // absent: 2025-03-26 is assumed
  EXPECT_EQ(e.Handle(r).status, 200);
}

TEST_F(McpHttpTest, ContentTypeMustBeJson) {
  HttpEndpoint e = Endpoint();
  api::HttpRequest r = Post(kPing);
  Set(r, "Content-Type", "text/plain");
  api::HttpResponse a = e.Handle(r);
  EXPECT_EQ(a.status, 415);
  ExpectRpcError(a, -32000);
  Remove(r, "Content-Type");
  EXPECT_EQ(e.Handle(r).status, 415);
  Set(r, "Content-Type", "Application/JSON; charset=utf-8");
  EXPECT_EQ(e.Handle(r).status, 200);
}

TEST_F(McpHttpTest, AcceptMustAllowJsonOrAStream) {
  HttpEndpoint e = Endpoint();
  api::HttpRequest r = Post(kPing);
  for (const char* bad : {"text/html", "application/json;q=0, text/plain"}) {
    Set(r, "Accept", bad);
    api::HttpResponse a = e.Handle(r);
    EXPECT_EQ(a.status, 406) << bad;
    ExpectRpcError(a, -32000);
  }
  for (const char* ok : {"application/json", "*/*", "application/*;q=0.5"}) {
    Set(r, "Accept", ok);
    api::HttpResponse a = e.Handle(r);
    EXPECT_EQ(a.status, 200) << ok;
    EXPECT_EQ(HeaderOf(a, "Content-Type"), "application/json") << ok;
  }
  // Only a stream: the answer as one SSE `message` event.
  Set(r, "Accept", "text/event-stream");
  api::HttpResponse s = e.Handle(r);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(HeaderOf(s, "Content-Type"), "text/event-stream");
  ASSERT_EQ(s.body.rfind("event: message\ndata: ", 0), 0u) << s.body;
  ASSERT_GE(s.body.size(), 2u);
  EXPECT_EQ(s.body.substr(s.body.size() - 2), "\n\n");
  std::string data = s.body.substr(std::string("event: message\ndata: ").size());
  data.resize(data.size() - 2);
  EXPECT_EQ(json::parse(data)["id"], 1);
}

TEST_F(McpHttpTest, MalformedJsonIs400ParseError) {
  HttpEndpoint e = Endpoint();
  for (const char* bad : {"{\"jsonrpc\":\"2.0\",", "", "not json"}) {
    api::HttpResponse a = e.Handle(Post(bad));
    EXPECT_EQ(a.status, 400) << bad;
    ExpectRpcError(a, -32700);
  }
}

TEST_F(McpHttpTest, NotAJsonRpcMessageIs400InvalidRequest) {
  HttpEndpoint e = Endpoint();
  for (const char* bad : {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", R"("ping")",
                          R"({"jsonrpc":"2.0","id":null,"method":"ping"})", R"({"jsonrpc":"1.0","id":1,"method":"ping"})",
                          R"({"jsonrpc":"2.0","id":1})"}) {
    api::HttpResponse a = e.Handle(Post(bad));
    EXPECT_EQ(a.status, 400) << bad;
    json body = json::parse(a.body);
    EXPECT_EQ(body["error"]["code"], kInvalidRequest) << bad << " -> " << a.body;
  }
}

TEST_F(McpHttpTest, Credentials) {
  // local_operator: no credentials run as the local operator, who may write.
  HttpEndpoint local = Endpoint(true);
  api::HttpResponse made = local.Handle(Post(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
      "name":"refs.site.create","arguments":{"body":{"name":"North"}}}})"));
  ASSERT_EQ(made.status, 200);
  EXPECT_EQ(json::parse(made.body)["result"]["isError"], false) << made.body;

  // Without it: no credentials at all is 401 with a Bearer challenge.
  HttpEndpoint guarded = Endpoint(false);
  api::HttpResponse anon = guarded.Handle(Post(kPing));
  EXPECT_EQ(anon.status, 401);
  EXPECT_EQ(HeaderOf(anon, "WWW-Authenticate").rfind("Bearer", 0), 0u);
  ExpectRpcError(anon, -32000);

  // A wrong credential is 401 whatever local_operator says.
  for (HttpEndpoint* e : {&local, &guarded}) {
    api::HttpRequest r = Post(kPing);
    Set(r, "Authorization", "Bearer bver_nope_nope");
    api::HttpResponse a = e->Handle(r);
    EXPECT_EQ(a.status, 401);
    EXPECT_EQ(HeaderOf(a, "WWW-Authenticate").rfind("Bearer", 0), 0u);
    ExpectRpcError(a, -32000);
    api::HttpRequest k = Post(kPing);
    Set(k, "X-API-Key", "bver_nope_nope");
    EXPECT_EQ(e->Handle(k).status, 401);
  }

  // A read-only key: reads work, a write is the broker's permission_denied.
  Result<auth::CreatedApiKey> key = keys_->Create("ro", {"sites.site:read"});
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  api::HttpRequest list = Post(R"({"jsonrpc":"2.0","id":2,"method":"resources/list"})");
  Set(list, "Authorization", "Bearer " + key->key);
  api::HttpResponse listed = guarded.Handle(list);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(json::parse(listed.body)["result"]["resources"].size(), 1u) << listed.body;
  api::HttpRequest write = Post(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{
      "name":"refs.site.create","arguments":{"body":{"name":"South"}}}})");
  Set(write, "X-API-Key", key->key);
  api::HttpResponse denied = guarded.Handle(write);
  ASSERT_EQ(denied.status, 200) << denied.body;
  json result = json::parse(denied.body)["result"];
  EXPECT_EQ(result["isError"], true);
  EXPECT_EQ(json::parse(result["content"][0]["text"].get<std::string>())["code"], "permission_denied");

  // No authenticator at all: any credential is refused.
  HttpEndpoint none(*server_, nullptr, HttpEndpoint::Options{true, {}, {}});
  api::HttpRequest r = Post(kPing);
  Set(r, "X-API-Key", key->key);
  EXPECT_EQ(none.Handle(r).status, 401);
}

TEST_F(McpHttpTest, CorrelationIdHeaderReachesToolCalls) {
  HttpEndpoint e = Endpoint();
  api::HttpRequest r = Post(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
      "name":"refs.site.create","arguments":{"body":{"name":7}}}})");
  Set(r, "X-Correlation-ID", "corr-mcp-http-1");
  api::HttpResponse a = e.Handle(r);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(HeaderOf(a, "X-Correlation-ID"), "corr-mcp-http-1");
  json result = json::parse(a.body)["result"];
  EXPECT_EQ(result["isError"], true);
  EXPECT_EQ(json::parse(result["content"][0]["text"].get<std::string>())["correlation_id"], "corr-mcp-http-1");

  // Without the header a tools/call still gets one, named in the header.
  Remove(r, "X-Correlation-ID");
  api::HttpResponse b = e.Handle(r);
  std::string generated = HeaderOf(b, "X-Correlation-ID");
  EXPECT_FALSE(generated.empty());
  EXPECT_EQ(json::parse(json::parse(b.body)["result"]["content"][0]["text"].get<std::string>())["correlation_id"],
            generated);

  api::HttpRequest read = Post(R"({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{
      "uri":"bver://sites/site/nope"}})");
  Set(read, "X-Correlation-ID", "corr-mcp-http-2");
  api::HttpResponse c = e.Handle(read);
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(HeaderOf(c, "X-Correlation-ID"), "corr-mcp-http-2");
  EXPECT_EQ(json::parse(c.body)["error"]["code"], kResourceNotFound) << c.body;

  Set(r, "X-Correlation-ID", "bad id with spaces\x01");
  api::HttpResponse bad = e.Handle(r);
  EXPECT_EQ(bad.status, 400);
  ExpectRpcError(bad, -32000);
}

}  // namespace
}  // namespace bver::mcp
