// The MCP handler without a transport: JSON-RPC framing errors, the
// lifecycle and tools/list, over a table without a store.
#include "src/mcp/server.h"

#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/schema/validator.h"
#include "src/store/open.h"

namespace bver::mcp {
namespace {

using nlohmann::json;

std::shared_ptr<const runtime::Broker> SubstationBroker() {
  Result<domain::Platform> p = domain::CompileFile(BVER_SOURCE_DIR "/examples/substation/bver.yaml");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  Result<std::unique_ptr<runtime::OperationTable>> t =
      runtime::OperationTable::Build(std::make_shared<const domain::Platform>(std::move(p).value()), {});
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::make_shared<const runtime::Broker>(std::shared_ptr<const runtime::OperationTable>(std::move(t).value()));
}

class McpTest : public ::testing::Test {
 protected:
  json One(std::string_view text) {
    std::vector<std::string> out = server_.Handle(text, auth::Principal::Local("test"));
    EXPECT_EQ(out.size(), 1u) << text;
    if (out.size() != 1) return nullptr;
    EXPECT_EQ(out[0].find('\n'), std::string::npos);
    return json::parse(out[0]);
  }
  Server server_{SubstationBroker()};
};

TEST_F(McpTest, MalformedJsonIsAParseError) {
  json a = One("{\"jsonrpc\":\"2.0\",");
  EXPECT_EQ(a["error"]["code"], kParseError);
  EXPECT_TRUE(a["id"].is_null());
}

TEST_F(McpTest, UnknownMethodIsMethodNotFound) {
  json a = One(R"({"jsonrpc":"2.0","id":7,"method":"nope/nothing"})");
  EXPECT_EQ(a["error"]["code"], kMethodNotFound);
  EXPECT_EQ(a["id"], 7);
}

TEST_F(McpTest, BatchesAndNonRequestsAreInvalidRequests) {
  EXPECT_EQ(One(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])")["error"]["code"], kInvalidRequest);
  EXPECT_EQ(One(R"("ping")")["error"]["code"], kInvalidRequest);
  EXPECT_EQ(One(R"({"jsonrpc":"2.0","id":null,"method":"ping"})")["error"]["code"], kInvalidRequest);
  EXPECT_EQ(One(R"({"jsonrpc":"1.0","id":1,"method":"ping"})")["error"]["code"], kInvalidRequest);
  EXPECT_EQ(One(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":[1]})")["error"]["code"], kInvalidParams);
}

TEST_F(McpTest, NotificationsAndResponsesGetNoAnswer) {
  auto who = auth::Principal::Local("test");
  EXPECT_TRUE(server_.Handle(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", who).empty());
  EXPECT_TRUE(server_.Handle(R"({"jsonrpc":"2.0","id":3,"result":{}})", who).empty());
}

TEST_F(McpTest, InitializeEchoesASupportedVersionElseOurLatest) {
  json a = One(R"({"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"2025-06-18",
               "capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  EXPECT_EQ(a["id"], "a");
  EXPECT_EQ(a["result"]["protocolVersion"], "2025-06-18");
  EXPECT_EQ(a["result"]["capabilities"]["resources"]["subscribe"], false);
  json b = One(R"({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"1999-01-01"}})");
  EXPECT_EQ(b["result"]["protocolVersion"], std::string(kLatestProtocolVersion));
  EXPECT_EQ(One(R"({"jsonrpc":"2.0","id":3,"method":"ping"})")["result"], json::object());
}

TEST_F(McpTest, ToolsAreTheRowsWithObjectSchemasAndPage) {
  std::vector<std::string> names;
  json cursor = nullptr;
  int pages = 0;
  do {
    json req = {{"jsonrpc", "2.0"}, {"id", pages}, {"method", "tools/list"}, {"params", json::object()}};
    if (!cursor.is_null()) req["params"]["cursor"] = cursor;
    json a = One(req.dump());
    ASSERT_TRUE(a.contains("result")) << a.dump();
    for (const json& t : a["result"]["tools"]) {
      names.push_back(t["name"]);
      EXPECT_EQ(t["inputSchema"]["type"], "object") << t["name"];
      EXPECT_EQ(t["outputSchema"]["type"], "object") << t["name"];
      EXPECT_TRUE(t["description"].is_string());
    }
    cursor = a["result"].value("nextCursor", json(nullptr));
  } while (!cursor.is_null() && ++pages < 20);
  EXPECT_NE(std::find(names.begin(), names.end(), "refs.site.create"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "resolve"), names.end());
  EXPECT_EQ(One(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"zz"}})")["error"]["code"],
            kInvalidParams);
}

// tools/list is read into an agent's context: output schemas describe a
// reference's body once (in the create tool's input), carry no per-kind
// dispatch and no field prose, yet every output the full schema accepts
// still passes the lean one.
TEST_F(McpTest, ToolListIsLeanAndItsOutputSchemasStillHold) {
  json a = One(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}})");
  ASSERT_TRUE(a.contains("result")) << a.dump();
  std::size_t bytes = a.dump().size();
  json get, create;
  for (const json& t : a["result"]["tools"]) {
    if (t["name"] == "refs.site.get") get = t;
    if (t["name"] == "refs.site.create") create = t;
  }
  ASSERT_TRUE(get.is_object() && create.is_object());
  const std::string out = get["outputSchema"].dump();
  EXPECT_EQ(out.find("body:power.substation"), std::string::npos) << out;
  EXPECT_EQ(out.find("\"allOf\""), std::string::npos) << out;
  EXPECT_EQ(get["outputSchema"]["properties"]["body"]["type"], "object");
  EXPECT_NE(get["outputSchema"]["properties"]["body"]["description"].get<std::string>().find(
                "the input of tool refs.site.create"),
            std::string::npos);
  EXPECT_FALSE(get["outputSchema"]["properties"]["version"].contains("description"));
  // The input keeps everything an agent needs to write a valid body.
  EXPECT_NE(create["inputSchema"].dump().find("body:power.substation"), std::string::npos);
  // The whole list of the example's 50 tools: was 163 KB with full output schemas.
  EXPECT_LT(bytes, 115u * 1024) << bytes;

  // A reference as refs.site.get answers it passes the lean output schema.
  Result<std::unique_ptr<schema::Validator>> v = schema::Validator::Compile(get["outputSchema"]);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  json ref = {{"pointer", "bver://sites/site/n1~1"}, {"ns", "sites"}, {"repo", "site"}, {"id", "n1"},
              {"version", 1}, {"kind", "power.substation"}, {"deleted", false},
              {"created_at", "2026-12-05T00:00:00Z"}, {"updated_at", "2026-12-05T00:00:00Z"},
              {"body", {{"name", "North"}, {"bays", 4}}}};
  EXPECT_TRUE((*v)->Validate(ref).ok()) << (*v)->Validate(ref).ToString();
  ref["version"] = 0;
  EXPECT_FALSE((*v)->Validate(ref).ok()) << "the envelope is still checked";
}

TEST_F(McpTest, UnknownToolIsInvalidParamsAndBadInputIsAnErrorResult) {
  json a = One(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"no.such.tool"}})");
  EXPECT_EQ(a["error"]["code"], kInvalidParams);
  json b = One(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"refs.site.create",
               "arguments":{"body":{"name":7}}}})");
  ASSERT_TRUE(b.contains("result")) << b.dump();
  EXPECT_EQ(b["result"]["isError"], true);
  EXPECT_EQ(b["result"]["content"][0]["type"], "text");
}

TEST_F(McpTest, TemplatesPutTheAttributePathFirst) {
  json a = One(R"({"jsonrpc":"2.0","id":1,"method":"resources/templates/list"})");
  ASSERT_EQ(a["result"]["resourceTemplates"].size(), 2u);
  EXPECT_EQ(a["result"]["resourceTemplates"][0]["uriTemplate"], "bver://{namespace}/{repo}/{id}@{+path}");
  json r = One(R"({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"not a pointer"}})");
  EXPECT_EQ(r["error"]["code"], kInvalidParams);
}

// resources/list over a real store, two per page: every reference once,
// the cursor carried across pages, a bad cursor refused.
TEST(McpResources, ListPagesOverTheStoreAndReadResolves) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("bver-mcp-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Result<domain::Platform> p = domain::CompileFile(BVER_SOURCE_DIR "/examples/substation/bver.yaml");
  ASSERT_TRUE(p.ok());
  Result<std::string> fp = domain::ManifestFingerprint(domain::ToManifest(*p));
  ASSERT_TRUE(fp.ok());
  auto platform = std::make_shared<const domain::Platform>(std::move(p).value());
  Result<std::unique_ptr<store::Store>> st =
      store::OpenStore("sqlite:" + (dir / "bver.db").string(), dir.string(), platform, *fp);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  Result<std::unique_ptr<runtime::OperationTable>> t = runtime::OperationTable::Build(platform, {st->get(), nullptr});
  ASSERT_TRUE(t.ok());
  auto broker =
      std::make_shared<const runtime::Broker>(std::shared_ptr<const runtime::OperationTable>(std::move(t).value()));
  Server::Options options;
  options.page_size = 2;
  Server server(broker, options);
  auto who = auth::Principal::Local("test");
  auto call = [&](const json& req) {
    std::vector<std::string> out = server.Handle(req.dump(), who);
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? json() : json::parse(out[0]);
  };
  std::vector<std::string> made;
  for (const char* name : {"A", "B", "C"}) {
    json a = call({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/call"},
                   {"params", {{"name", "refs.site.create"}, {"arguments", {{"body", {{"name", name}}}}}}}});
    ASSERT_EQ(a["result"]["isError"], false) << a.dump();
    made.push_back(a["result"]["structuredContent"]["pointer"]);
  }
  std::vector<std::string> listed;
  json cursor = nullptr;
  int pages = 0;
  do {
    json req = {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "resources/list"}, {"params", json::object()}};
    if (!cursor.is_null()) req["params"]["cursor"] = cursor;
    json a = call(req);
    ASSERT_TRUE(a.contains("result")) << a.dump();
    EXPECT_LE(a["result"]["resources"].size(), 2u);
    for (const json& r : a["result"]["resources"]) {
      listed.push_back(r["uri"]);
      EXPECT_TRUE(r["description"].is_string());
    }
    cursor = a["result"].value("nextCursor", json(nullptr));
  } while (!cursor.is_null() && ++pages < 10);
  std::sort(made.begin(), made.end());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, made);
  EXPECT_EQ(call({{"jsonrpc", "2.0"}, {"id", 3}, {"method", "resources/list"}, {"params", {{"cursor", "x"}}}})["error"]
                ["code"],
            kInvalidParams);
  json read = call({{"jsonrpc", "2.0"}, {"id", 4}, {"method", "resources/read"}, {"params", {{"uri", made[0] + "@name"}}}});
  ASSERT_TRUE(read.contains("result")) << read.dump();
  EXPECT_TRUE(json::parse(read["result"]["contents"][0]["text"].get<std::string>()).is_string());
  json missing = call({{"jsonrpc", "2.0"}, {"id", 5}, {"method", "resources/read"},
                       {"params", {{"uri", "bver://sites/site/nope"}}}});
  EXPECT_EQ(missing["error"]["code"], kResourceNotFound);
  EXPECT_EQ(missing["error"]["data"]["uri"], "bver://sites/site/nope");
  st->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace bver::mcp
