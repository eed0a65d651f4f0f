// The REST contract, end to end over real sockets against the real `bver up`
// (issue 4, items 2, 3 and 6):
//
//   contract     every path and method of GET /v1/openapi.json, called with a
//                valid request (ids from references created first), answers a
//                documented status with a body that validates against the
//                documented response schema (src/schema, the document's own
//                components and $refs) and the documented headers
//   auth matrix  every operation of the document without a token (401
//                problem), with an API key of another scope (403 problem) and
//                with a key of exactly its scopes (neither), plus HS256 JWTs
//   metrics      GET /metrics counts the calls made
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/schema/validator.h"
#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

namespace fs = std::filesystem;
using bver::testing::HttpReply;
using nlohmann::json;
using ::testing::HasSubstr;

// Where the OpenAPI document is registered for the validator: its "#/..."
// references then resolve inside it.
constexpr char kDocUri[] = "https://bver.invalid/openapi.json";

std::string PointerEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Request {
  std::string method, target, body;
  std::map<std::string, std::string> headers;
};

HttpReply Send(int port, const Request& r, const std::map<std::string, std::string>& extra = {}) {
  std::map<std::string, std::string> headers = r.headers;
  for (const auto& [k, v] : extra) headers[k] = v;
  return bver::testing::HttpRequestOnce(port, r.method, r.target, r.body, headers);
}

// One documented operation: where it is in the document and what it is.
struct DocOp {
  std::string path, method;  // method lower-case, as in the document
  const json* op = nullptr;
  std::string id() const { return (*op)["operationId"].get<std::string>(); }
  bool deletes() const { return method == "delete" || id().ends_with(".delete"); }
};

// The operations the Planner makes valid requests for; they must succeed.
// Others (added to the table later) get requests of the right shape and may
// answer a documented 4xx.
bool Known(std::string id) {
  if (id.rfind("ops.", 0) == 0) id = id.substr(4);
  return id.rfind("refs.", 0) == 0 || id == "resolve" || id == "events.read" || id == "ledger.verify" ||
         id == "artifacts.put" || id == "artifacts.get";
}

// Every operation of the document; deletions last (they remove what the
// others read).
std::vector<DocOp> Operations(const json& doc) {
  std::vector<DocOp> ops;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) ops.push_back({path, method, &op});
  }
  std::stable_partition(ops.begin(), ops.end(), [](const DocOp& o) { return !o.deletes(); });
  return ops;
}

// Valid requests for the substation example's operations: references of
// every repo are created first, and each request takes its ids from them.
class Planner {
 public:
  Planner(const json& doc, int port, std::map<std::string, std::string> auth)
      : doc_(doc), port_(port), auth_(std::move(auth)) {
    for (const auto& [path, item] : doc_["paths"].items()) {
      for (const auto& [method, op] : item.items()) {
        if (op.contains("tags") && !op["tags"].empty()) tag_of_[op["operationId"].get<std::string>()] = op["tags"][0];
      }
    }
  }

  // Creates an artifact and one reference per repo. Fails the test on error.
  void Prepare() {
    HttpReply put = Send(port_, {"POST", "/v1/ops/artifacts.put", json{{"content_base64", kContent}}.dump(), {}}, auth_);
    ASSERT_EQ(put.status, 200) << put.body;
    digest_ = put.Json()["digest"];
    for (const std::string repo : {"sites/site", "assets/asset", "documents/document"}) {
      std::string id = Create(repo);
      ASSERT_FALSE(id.empty()) << repo;
      ids_[repo] = id;
    }
  }

  // A new reference in `repo` (ns/name); its id, or "" on failure.
  std::string Create(const std::string& repo) {
    std::string target = "/v1/refs/" + repo + "?kind=" + UrlEncode(Kind(repo));
    HttpReply r = Send(port_, {"POST", target, Body(repo).dump(), {}}, auth_);
    EXPECT_EQ(r.status, 201) << repo << ": " << r.body;
    json j = r.Json();
    return j.is_object() && j.contains("id") ? j["id"].get<std::string>() : "";
  }

  Request Build(const DocOp& o) {
    const json& op = *o.op;
    const std::string id = o.id();
    if (id.rfind("ops.", 0) == 0) return Generic(id.substr(4));
    const std::string repo = Tag(id);
    // A reference deletion gets a reference of its own; other deletions
    // (a consumer) get a name that names nothing and answer a documented 404.
    const std::string ref_id = o.deletes() && id.rfind("refs.", 0) == 0 ? Create(repo) : Id(repo);
    Request r;
    r.method = Upper(o.method);
    // Path parameters.
    std::string target;
    for (std::size_t i = 0; i < o.path.size(); ++i) {
      if (o.path[i] != '{') {
        target.push_back(o.path[i]);
        continue;
      }
      std::size_t close = o.path.find('}', i);
      std::string name = o.path.substr(i + 1, close - i - 1);
      target += name == "id" ? UrlEncode(ref_id) : name == "version" ? "1" : "unknown-" + name;
      i = close;
    }
    // Required query parameters (and kind on create).
    std::string query;
    for (const json& p : op.value("parameters", json::array())) {
      const std::string name = p["name"], in = p["in"];
      bool required = p.value("required", false);
      std::string value;
      if (in == "query" && name == "kind" && r.method == "POST") value = Kind(repo);
      if (in == "query" && required) {
        if (name == "from" || name == "to") value = "1";
        if (name == "pointer") value = SitePointer();
        if (name == "kind") value = Kind(repo);
      }
      if (in == "header" && required) ADD_FAILURE() << id << ": no value for required header " << name;
      if (!value.empty()) query += (query.empty() ? "?" : "&") + name + "=" + UrlEncode(value);
    }
    r.target = target + query;
    if (op.contains("requestBody")) {
      const json& content = op["requestBody"]["content"];
      if (r.method == "PATCH" && content.contains("application/merge-patch+json")) {
        r.headers["Content-Type"] = "application/merge-patch+json";
        r.body = Merge(repo).dump();
      } else if (content.contains("application/json")) {
        r.headers["Content-Type"] = "application/json";
        r.body = Body(repo).dump();
      } else {
        ADD_FAILURE() << id << ": no request body I know how to write";
      }
    }
    return r;
  }

  std::string Id(const std::string& repo) const {
    auto it = ids_.find(repo);
    return it == ids_.end() ? "no-such-ref" : it->second;
  }
  const std::string& digest() const { return digest_; }
  std::string SitePointer() const { return "bver://sites/site/" + Id("sites/site") + "@name"; }

 private:
  static constexpr const char* kContent = "aGVsbG8sIGNvbnRyYWN0";  // "hello, contract"

  std::string Tag(const std::string& operation) const {
    auto it = tag_of_.find(operation);
    return it == tag_of_.end() ? "" : it->second;
  }

  std::string Kind(const std::string& repo) const {
    if (repo == "sites/site") return "power.substation";
    if (repo == "assets/asset") return "breaker";
    if (repo == "documents/document") return "one_line";
    return "";
  }

  json Body(const std::string& repo) const {
    if (repo == "sites/site") return {{"name", "Contract site"}, {"bays", 2}};
    if (repo == "assets/asset") return {{"name", "Contract breaker"}, {"site", "bver://sites/site/" + Id("sites/site")}};
    if (repo == "documents/document") return {{"title", "Contract drawing"}, {"artifact", digest_}, {"sheet", 1}};
    return json::object();
  }

  json Merge(const std::string& repo) const {
    return repo == "documents/document" ? json{{"title", "Patched"}} : json{{"name", "Patched"}};
  }

  // POST /v1/ops/<operation> with a valid input object.
  Request Generic(const std::string& operation) {
    Request r{"POST", "/v1/ops/" + operation, "", {{"Content-Type", "application/json"}}};
    const json& input = doc_["components"]["schemas"][operation + ".input"];
    const json props = input.value("properties", json::object());
    const json required = input.value("required", json::array());
    auto is_required = [&](const std::string& f) { return std::find(required.begin(), required.end(), f) != required.end(); };
    const std::string repo = Tag(operation);
    const std::string verb = operation.substr(operation.rfind('.') + 1);
    json in = json::object();
    for (const auto& [field, unused] : props.items()) {
      if (field == "id" && verb != "create" && operation.rfind("refs.", 0) == 0) {
        in["id"] = verb == "delete" ? Create(repo) : Id(repo);
      } else if (field == "kind" && verb == "create") {
        in["kind"] = Kind(repo);
      } else if (field == "merge") {
        in["merge"] = Merge(repo);
      } else if (!is_required(field)) {
        continue;
      } else if (field == "body") {
        in["body"] = Body(repo);
      } else if (field == "version" || field == "from" || field == "to") {
        in[field] = 1;
      } else if (field == "pointer") {
        in["pointer"] = SitePointer();
      } else if (field == "digest") {
        in["digest"] = digest_;
      } else if (field == "content_base64") {
        in["content_base64"] = kContent;
      } else {
        // An operation this planner does not know (one added to the table
        // later): a value of the right type; the answer may then be a
        // documented 4xx, which the checker still validates.
        in[field] = ValueOfType(props[field]);
      }
    }
    r.body = in.dump();
    return r;
  }

  static json ValueOfType(const json& schema) {
    std::string type;
    if (schema.contains("type") && schema["type"].is_string()) type = schema["type"];
    if (schema.contains("enum") && !schema["enum"].empty()) return schema["enum"][0];
    if (type == "integer" || type == "number") return 1;
    if (type == "boolean") return false;
    if (type == "array") return json::array();
    if (type == "object") return json::object();
    return "x";
  }

  const json& doc_;
  int port_;
  std::map<std::string, std::string> auth_;
  std::map<std::string, std::string> tag_of_;  // operationId -> first tag ("sites/site")
  std::map<std::string, std::string> ids_;     // repo -> a reference created by Prepare
  std::string digest_;
};

// Checks an answer against what the document says of `o`: a documented
// status (the explicit one, else its class "4XX", else "default"), a
// documented media type, a body valid for the documented schema, the
// documented headers.
class ContractChecker {
 public:
  explicit ContractChecker(const json& doc) : doc_(doc) {
    bver::Status s = registry_.Add(kDocUri, doc);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  void Check(const DocOp& o, const HttpReply& r) {
    const std::string what = Upper(o.method) + " " + o.path + " (" + o.id() + ")";
    ASSERT_NE(r.status, 0) << what << ": no answer";
    const json& responses = (*o.op)["responses"];
    std::string key = std::to_string(r.status);
    if (!responses.contains(key)) key = std::string(1, key[0]) + "XX";
    if (!responses.contains(key)) key = "default";
    ASSERT_TRUE(responses.contains(key)) << what << ": status " << r.status << " is not documented";
    EXPECT_LT(r.status, 500) << what << ": " << r.body;
    const json& response = responses[key];
    if (response.contains("headers")) {
      for (const auto& [name, unused] : response["headers"].items()) {
        EXPECT_FALSE(r.Header(Lower(name)).empty()) << what << ": documented header " << name << " is missing";
      }
    }
    if (!response.contains("content")) return;
    std::string media = r.Header("content-type");
    media = media.substr(0, media.find(';'));
    ASSERT_TRUE(response["content"].contains(media)) << what << ": Content-Type " << media << " is not documented for "
                                                     << key;
    std::string pointer = "/paths/" + PointerEscape(o.path) + "/" + o.method + "/responses/" + PointerEscape(key) +
                          "/content/" + PointerEscape(media) + "/schema";
    const bver::schema::Validator* v = ValidatorFor(pointer);
    ASSERT_NE(v, nullptr) << what;
    json body = r.Json();
    ASSERT_FALSE(body.is_discarded()) << what << ": the body is not JSON: " << r.body;
    bver::Status valid = v->Validate(body);
    EXPECT_TRUE(valid.ok()) << what << ": the " << r.status << " body does not match the documented schema: "
                            << valid.ToString() << "\n" << r.body;
    ++checked_;
  }

  int checked() const { return checked_; }

  // Whether `value` is valid for the schema at `pointer` in the document.
  bool Accepts(const std::string& pointer, const json& value) {
    const bver::schema::Validator* v = ValidatorFor(pointer);
    return v != nullptr && v->IsValid(value);
  }

 private:
  const bver::schema::Validator* ValidatorFor(const std::string& pointer) {
    auto it = validators_.find(pointer);
    if (it != validators_.end()) return it->second.get();
    auto compiled = bver::schema::Validator::Compile(json{{"$ref", std::string(kDocUri) + "#" + pointer}}, &registry_);
    EXPECT_TRUE(compiled.ok()) << pointer << ": " << compiled.status().ToString();
    if (!compiled.ok()) return nullptr;
    return (validators_[pointer] = std::move(compiled).value()).get();
  }

  const json& doc_;
  bver::schema::SchemaRegistry registry_;
  std::map<std::string, std::unique_ptr<bver::schema::Validator>> validators_;
  int checked_ = 0;
};

fs::path NewProject(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("bver_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir / "bver.yaml");
  return dir;
}

void ExpectProblem(const HttpReply& r, int status, const std::string& what) {
  EXPECT_EQ(r.status, status) << what << ": " << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/problem+json") << what;
  json p = r.Json();
  ASSERT_TRUE(p.is_object()) << what << ": " << r.body;
  for (const char* k : {"type", "title", "status", "code"}) EXPECT_TRUE(p.contains(k)) << what << ": no " << k;
  EXPECT_EQ(p.value("status", 0), r.status) << what;
}

// A server with auth off on loopback (callers run as the local operator).
class RestContractTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = NewProject("rest_contract");
    server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
    if (server_.port == 0) return;
    HttpReply r = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/openapi.json");
    doc_ = r.Json();
  }

  static void TearDownTestSuite() {
    if (server_.pid > 0) {
      EXPECT_EQ(bver::testing::StopServer(server_, SIGTERM), 0);
    }
    fs::remove_all(dir_);
  }

  void SetUp() override {
    ASSERT_GT(server_.port, 0) << "bver up did not start; see " << server_.stderr_path;
    ASSERT_TRUE(doc_.is_object() && doc_.contains("paths")) << "no OpenAPI document";
  }

  static int port() { return server_.port; }

  static inline fs::path dir_;
  static inline bver::testing::ServerProcess server_;
  static inline json doc_;
};

TEST_F(RestContractTest, EveryDocumentedRouteAnswersAsDocumented) {
  Planner planner(doc_, port(), {});
  ASSERT_NO_FATAL_FAILURE(planner.Prepare());
  ContractChecker checker(doc_);
  // Control: the checker resolves the document's $refs and rejects what the schemas forbid.
  EXPECT_FALSE(checker.Accepts("/components/schemas/refs.site.get.output", json::object()));
  EXPECT_FALSE(checker.Accepts("/components/schemas/Problem", json{{"type", "t"}, {"title", "t"}, {"status", "400"}, {"code", "c"}}));
  EXPECT_TRUE(checker.Accepts("/components/schemas/Problem", json{{"type", "t"}, {"title", "t"}, {"status", 400}, {"code", "c"}}));
  EXPECT_FALSE(checker.Accepts("/paths/~1v1~1refs~1sites~1site~1{id}/get/responses/200/content/application~1json/schema",
                               json{{"id", 5}}));
  std::set<std::string> seen;
  int known = 0;
  for (const DocOp& o : Operations(doc_)) {
    SCOPED_TRACE(Upper(o.method) + " " + o.path);
    Request req = planner.Build(o);
    HttpReply r = Send(port(), req);
    // A valid request by the local operator succeeds.
    if (Known(o.id())) {
      EXPECT_EQ(r.status / 100, 2) << req.method << " " << req.target << " " << req.body << " -> " << r.body;
      ++known;
    }
    checker.Check(o, r);
    seen.insert(o.id());
  }
  // Both forms of every operation were called: the route and POST /v1/ops/<id>.
  EXPECT_TRUE(seen.contains("refs.site.create") && seen.contains("ops.refs.site.create"));
  EXPECT_TRUE(seen.contains("ops.artifacts.put") && seen.contains("ops.artifacts.get"));
  EXPECT_GT(checker.checked(), 50);
  EXPECT_GE(known, 2 * (3 * 9 + 3) + 2);  // 9 operations of 3 repos, resolve, events, ledger, both forms; artifacts
}

TEST_F(RestContractTest, AbsentReferencesAreDocumentedProblems) {
  ContractChecker checker(doc_);
  int checked = 0;
  for (const DocOp& o : Operations(doc_)) {
    if (o.method != "get" || o.path.find("{id}") == std::string::npos) continue;
    std::string target = o.path;
    target.replace(target.find("{id}"), 4, "no-such-reference");
    if (std::size_t v = target.find("{version}"); v != std::string::npos) target.replace(v, 9, "1");
    if (o.path.ends_with("/diff")) target += "?from=1&to=1";
    HttpReply r = bver::testing::HttpRequestOnce(port(), "GET", target);
    ExpectProblem(r, 404, target);
    checker.Check(o, r);
    ++checked;
  }
  EXPECT_GE(checked, 12);  // get, history, version, diff of three repos
}

// The value of the sample `series` (name and labels, exactly) in a
// Prometheus text exposition, or -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  std::size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      std::size_t end = text.find('\n', at);
      return std::stod(text.substr(at + series.size() + 1, end - at - series.size() - 1));
    }
    at += series.size();
  }
  return -1;
}

// Runs after the contract test (definition order): its calls are counted.
TEST_F(RestContractTest, MetricsCountTheCallsAndReadinessHoldsTheStore) {
  EXPECT_EQ(bver::testing::HttpRequestOnce(port(), "GET", "/readyz").status, 200);
  // A few calls of our own, so the test stands alone too.
  for (int i = 0; i < 3; ++i) {
    HttpReply r = bver::testing::HttpRequestOnce(port(), "POST", "/v1/refs/sites/site", R"({"name":"Counted"})");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  ASSERT_EQ(bver::testing::HttpRequestOnce(port(), "GET", "/v1/refs/sites/site/no-such-site").status, 404);
  HttpReply m = bver::testing::HttpRequestOnce(port(), "GET", "/metrics");
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(m.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = m.body;
  EXPECT_THAT(text, HasSubstr("# TYPE bver_operation_calls_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE bver_operation_duration_seconds histogram\n"));
  EXPECT_GE(Sample(text, R"(bver_operation_calls_total{operation="refs.site.create",transport="http",code="ok"})"), 3);
  EXPECT_GE(Sample(text, R"(bver_operation_calls_total{operation="refs.site.get",transport="http",code="not_found"})"), 1);
  EXPECT_GE(Sample(text, R"(bver_operation_duration_seconds_count{operation="refs.site.create"})"), 3);
  EXPECT_GE(Sample(text, R"(bver_operation_duration_seconds_bucket{operation="refs.site.create",le="+Inf"})"), 3);
  EXPECT_GE(Sample(text, R"(bver_http_requests_total{method="POST",status="201"})"), 3);
  EXPECT_GE(Sample(text, R"(bver_http_requests_total{method="GET",status="404"})"), 1);
  EXPECT_GT(Sample(text, "bver_process_start_time_seconds"), 1.7e9);
  EXPECT_GE(Sample(text, "bver_http_requests_in_flight"), 1);  // the scrape itself
  // The counters move: one more create shows in the next scrape.
  double before = Sample(text, R"(bver_operation_calls_total{operation="refs.site.create",transport="http",code="ok"})");
  ASSERT_EQ(bver::testing::HttpRequestOnce(port(), "POST", "/v1/refs/sites/site", R"({"name":"One more"})").status, 201);
  std::string again = bver::testing::HttpRequestOnce(port(), "GET", "/metrics").body;
  EXPECT_EQ(Sample(again, R"(bver_operation_calls_total{operation="refs.site.create",transport="http",code="ok"})"),
            before + 1);
}

// The HMAC-SHA256 JWT of `claims` under `secret`.
std::string Base64Url(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int s : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i + 1 == bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    for (int s : {18, 12}) out.push_back(kAlphabet[(v >> s) & 63]);
  } else if (i + 2 == bytes.size()) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
    for (int s : {18, 12, 6}) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  return out;
}

std::string Hs256Jwt(const json& header, const json& claims, const std::string& secret) {
  std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac, &len);
  return signing_input + "." + Base64Url(std::string(reinterpret_cast<char*>(mac), len));
}

// With API keys and JWTs configured, every operation of the document: no
// credentials 401, another scope 403, its own scopes neither.
TEST_F(RestContractTest, AuthMatrixOverEveryOperation) {
  fs::path dir = NewProject("rest_auth_matrix");
  const std::string secret = "contract-test-secret-of-more-than-32-bytes";
  {
    std::ofstream(dir / "jwt.secret") << secret << "\n";
    std::ofstream(dir / "bver.config.yaml") << "auth:\n  jwt:\n    hs256_secret_file: jwt.secret\n";
  }
  std::map<std::string, std::string> keys;  // comma-joined scopes -> key
  auto key_for = [&](const std::vector<std::string>& scopes) -> std::string {
    std::string joined;
    for (const std::string& s : scopes) joined += (joined.empty() ? "" : ",") + s;
    auto it = keys.find(joined);
    if (it != keys.end()) return it->second;
    bver::testing::CommandResult r =
        bver::testing::RunCommand(BVER_EXE, {"-C", dir.string(), "keys", "create", "--scopes", joined}, dir);
    EXPECT_EQ(r.code, 0) << joined << ": " << r.err;
    std::string key = r.out.substr(0, r.out.find('\n'));
    EXPECT_EQ(key.rfind("bver_", 0), 0u) << r.out;
    return keys[joined] = key;
  };

  // The scopes each operation needs (resolve also needs the read scope of
  // the pointer's repo), and one scope it does not need.
  std::vector<std::string> all_scopes;
  for (const auto& [s, unused] :
       doc_["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"].items()) {
    if (s != "admin") all_scopes.push_back(s);
  }
  struct Need {
    DocOp op;
    std::vector<std::string> right;
    std::string wrong;
  };
  std::vector<Need> needs;
  for (const DocOp& o : Operations(doc_)) {
    std::vector<std::string> right;
    for (const json& req : (*o.op)["security"]) {
      if (req.contains("oauth2")) right = req["oauth2"].get<std::vector<std::string>>();
    }
    if (o.id() == "resolve" || o.id() == "ops.resolve") right.push_back("sites.site:read");
    std::string wrong;
    for (const std::string& s : all_scopes) {
      if (std::find(right.begin(), right.end(), s) == right.end()) {
        wrong = s;
        break;
      }
    }
    EXPECT_FALSE(wrong.empty()) << o.id();
    if (right.empty()) right.push_back(wrong == all_scopes[0] ? all_scopes[1] : all_scopes[0]);
    needs.push_back({o, right, wrong});
  }
  const std::string admin = key_for({"admin"});
  for (const Need& n : needs) {
    key_for(n.right);
    key_for({n.wrong});
  }

  bver::testing::ServerProcess server = bver::testing::StartBverUp(BVER_EXE, dir, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server.port, 0) << "see " << server.stderr_path;
  const int p = server.port;
  const std::map<std::string, std::string> as_admin = {{"Authorization", "Bearer " + admin}};
  Planner planner(doc_, p, as_admin);
  ASSERT_NO_FATAL_FAILURE(planner.Prepare());

  int operations = 0;
  for (const Need& n : needs) {
    const std::string what = n.op.id();
    Request req = planner.Build(n.op);
    HttpReply anonymous = Send(p, req);
    ExpectProblem(anonymous, 401, what + " without credentials");
    EXPECT_EQ(anonymous.Header("www-authenticate"), "Bearer") << what;
    EXPECT_EQ(anonymous.Json().value("code", ""), "unauthenticated") << what;

    std::string wrong_joined = n.wrong;
    HttpReply denied = Send(p, req, {{"Authorization", "Bearer " + keys.at(wrong_joined)}});
    ExpectProblem(denied, 403, what + " with scope " + n.wrong);
    EXPECT_EQ(denied.Json().value("code", ""), "permission_denied") << what;

    std::string right_joined;
    for (const std::string& s : n.right) right_joined += (right_joined.empty() ? "" : ",") + s;
    HttpReply allowed = Send(p, req, {{"X-API-Key", keys.at(right_joined)}});
    EXPECT_NE(allowed.status, 401) << what << " with " << right_joined << ": " << allowed.body;
    EXPECT_NE(allowed.status, 403) << what << " with " << right_joined << ": " << allowed.body;
    EXPECT_GE(allowed.status, 200) << what;
    EXPECT_LT(allowed.status, 500) << what << ": " << allowed.body;
    ++operations;
  }
  EXPECT_GT(operations, 50);

  // HS256 JWTs: the scope claim decides; a bad signature or alg none is 401.
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  json claims = {{"sub", "contract"}, {"scope", "sites.site:read events:read"}, {"exp", now + 300}};
  std::string token = Hs256Jwt(header, claims, secret);
  HttpReply read = bver::testing::HttpRequestOnce(p, "GET", "/v1/refs/sites/site", "", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(read.status, 200) << read.body;
  HttpReply write = bver::testing::HttpRequestOnce(p, "POST", "/v1/refs/sites/site", R"({"name":"JWT"})",
                                                   {{"Authorization", "Bearer " + token}});
  ExpectProblem(write, 403, "JWT without the write scope");
  std::string forged = Hs256Jwt(header, claims, secret + "x");
  ExpectProblem(bver::testing::HttpRequestOnce(p, "GET", "/v1/refs/sites/site", "", {{"Authorization", "Bearer " + forged}}),
                401, "JWT with a wrong signature");
  std::string none = Base64Url(json{{"alg", "none"}, {"typ", "JWT"}}.dump()) + "." + Base64Url(claims.dump()) + ".";
  ExpectProblem(bver::testing::HttpRequestOnce(p, "GET", "/v1/refs/sites/site", "", {{"Authorization", "Bearer " + none}}),
                401, "JWT with alg none");
  json expired = claims;
  expired["exp"] = now - 3600;
  ExpectProblem(bver::testing::HttpRequestOnce(p, "GET", "/v1/refs/sites/site", "",
                                               {{"Authorization", "Bearer " + Hs256Jwt(header, expired, secret)}}),
                401, "expired JWT");

  EXPECT_EQ(bver::testing::StopServer(server, SIGTERM), 0);
  fs::remove_all(dir);
}

}  // namespace
