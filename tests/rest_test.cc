// REST end to end: starts the real `bver up` on a free loopback port in a
// temporary project with the substation example, talks HTTP/1.1 to it over
// plain sockets, and stops it with SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

using Reply = bver::testing::HttpReply;
using Conn = bver::testing::HttpConnection;

// Runs the real binary to completion (scratch files in `dir`): exit code and
// stdout (stderr appended to *err).
int RunBver(const fs::path& dir, const std::vector<std::string>& args, std::string* out, std::string* err) {
  bver::testing::CommandResult r = bver::testing::RunCommand(BVER_EXE, args, dir);
  *out += r.out;
  *err += r.err;
  return r.code;
}

// Starts `bver -C dir up ARGS...`; returns the port from its one line, or 0.
int StartServer(const fs::path& dir, std::vector<std::string> args, pid_t* pid) {
  bver::testing::ServerProcess s = bver::testing::StartBverUp(BVER_EXE, dir, args);
  *pid = s.pid;
  return s.port;
}

void ExpectProblem401(const Reply& r) {
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.Header("www-authenticate"), "Bearer");
  EXPECT_EQ(r.Header("content-type"), "application/problem+json");
}

class RestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("bver_rest_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir_ / "bver.yaml");
    // --no-triggers: the example's new_substation trigger would start a
    // design_site run for each substation this suite creates, and the run's
    // events would change the log the bad-input test compares.
    port_ = StartServer(dir_,
                        {"--listen", "127.0.0.1:0", "--request-timeout-ms", "1500", "--max-connections", "8",
                         "--no-triggers"},
                        &pid_);
  }

  static void TearDownTestSuite() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  void SetUp() override { ASSERT_GT(port_, 0) << "the server did not start"; }

  static Reply Do(const std::string& method, const std::string& target, const std::string& body = "",
                  const std::map<std::string, std::string>& headers = {}) {
    Conn c(port_);
    return c.Request(method, target, body, headers);
  }

  static void ExpectProblem(const Reply& r, int status, const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << what;
    json p = r.Json();
    EXPECT_TRUE(p.is_object() && p.contains("type") && p.contains("title") && p.contains("code") &&
                p["status"] == r.status)
        << what << ": " << r.body;
  }

  static inline fs::path dir_;
  static inline pid_t pid_ = -1;
  static inline int port_ = 0;
};

TEST_F(RestTest, HealthAndReady) {
  EXPECT_EQ(Do("GET", "/healthz").status, 200);
  EXPECT_EQ(Do("GET", "/readyz").status, 200);
}

TEST_F(RestTest, OpenApiRoutesExist) {
  Reply r = Do("GET", "/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  json doc = r.Json();
  ASSERT_EQ(doc["openapi"], "3.1.1");
  // Every documented route is served: placeholders filled with a dummy
  // value, the answer is never "no such route" or "wrong method".
  for (const auto& [path, ops] : doc["paths"].items()) {
    std::string target;
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (path[i] == '{') {
        i = path.find('}', i);
        target += "1";
      } else {
        target += path[i];
      }
    }
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      Reply a = Do(m, target, m == "GET" || m == "DELETE" ? "" : "{}");
      EXPECT_NE(a.status, 0) << m << " " << target;
      EXPECT_NE(a.status, 405) << m << " " << target << ": " << a.body;
      if (a.status == 404) {
        EXPECT_NE(a.Json()["detail"].get<std::string>().rfind("no route", 0), 0u) << m << " " << target;
      }
    }
  }
}

TEST_F(RestTest, CreateReadPatchOverKeepAlive) {
  Conn c(port_);
  ASSERT_TRUE(c.ok());
  Reply created = c.Request("POST", "/v1/refs/sites/site?kind=power.substation", R"({"name":"Alpha","bays":4})",
                            {{"X-Correlation-ID", "rest-test-1"}});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.Header("etag"), "\"1\"");
  EXPECT_EQ(created.Header("x-correlation-id"), "rest-test-1");
  std::string id = created.Json()["id"];
  EXPECT_EQ(created.Header("location"), "/v1/refs/sites/site/" + id);

  Reply got = c.Request("GET", created.Header("location"));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.Json()["body"]["name"], "Alpha");
  EXPECT_EQ(got.Header("etag"), "\"1\"");

  Reply merged = c.Request("PATCH", "/v1/refs/sites/site/" + id, R"({"status":"ready"})",
                           {{"Content-Type", "application/merge-patch+json"}, {"If-Match", "\"1\""}});
  ASSERT_EQ(merged.status, 200) << merged.body;
  EXPECT_EQ(merged.Header("etag"), "\"2\"");
  EXPECT_EQ(merged.Json()["body"]["status"], "ready");

  Reply patched = c.Request("PATCH", "/v1/refs/sites/site/" + id, R"([{"op":"replace","path":"/name","value":"Beta"}])",
                            {{"Content-Type", "application/json-patch+json"}, {"If-Match", "\"2\""}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.Header("etag"), "\"3\"");
  EXPECT_EQ(patched.Json()["body"]["name"], "Beta");

  Reply stale = c.Request("PATCH", "/v1/refs/sites/site/" + id, R"({"status":"draft"})",
                          {{"Content-Type", "application/merge-patch+json"}, {"If-Match", "\"1\""}});
  ExpectProblem(stale, 412, "stale If-Match");

  Reply v1 = c.Request("GET", "/v1/refs/sites/site/" + id + "/versions/1");
  ASSERT_EQ(v1.status, 200) << v1.body;
  EXPECT_EQ(v1.Json()["body"]["name"], "Alpha");

  Reply resolved = c.Request("GET", "/v1/resolve?pointer=" + std::string("bver%3A%2F%2Fsites%2Fsite%2F") + id +
                                        "%40name");
  ASSERT_EQ(resolved.status, 200) << resolved.body;
  EXPECT_THAT(resolved.body, HasSubstr("Beta"));

  Reply generic = c.Request("POST", "/v1/ops/refs.site.get", json{{"id", id}}.dump());
  ASSERT_EQ(generic.status, 200) << generic.body;
  EXPECT_EQ(generic.Json()["version"], 3);

  Reply replaced = c.Request("PUT", "/v1/refs/sites/site/" + id, R"({"name":"Gamma"})", {{"If-Match", "\"3\""}});
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(replaced.Header("etag"), "\"4\"");
  Reply listed = c.Request("GET", "/v1/refs/sites/site?where=name%3D%22Gamma%22");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_THAT(listed.body, HasSubstr(id));
  Reply history = c.Request("GET", "/v1/refs/sites/site/" + id + "/history");
  EXPECT_EQ(history.status, 200) << history.body;
  Reply diff = c.Request("GET", "/v1/refs/sites/site/" + id + "/diff?from=1&to=4");
  EXPECT_EQ(diff.status, 200) << diff.body;
  Reply deleted = c.Request("DELETE", "/v1/refs/sites/site/" + id, "", {{"If-Match", "\"4\""}});
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.Header("etag"), "\"5\"");
}

TEST_F(RestTest, BadInputIsAProblemAndChangesNothing) {
  // One reference the cases below try to damage.
  Reply created = Do("POST", "/v1/refs/sites/site?kind=power.substation&id=bad-input-target", R"({"name":"Target"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string target = "/v1/refs/sites/site/bad-input-target";
  const std::string site_pointer = "bver://sites/site/bad-input-target";
  // What must not change: the list, the reference, the event log and the ledger.
  auto snapshot = [&] {
    return std::vector<json>{Do("GET", "/v1/refs/sites/site").Json(), Do("GET", target).Json(),
                             Do("GET", "/v1/events?from=1&limit=1000").Json(), Do("GET", "/v1/ledger/verify").Json()};
  };
  const std::vector<json> before = snapshot();
  for (const json& j : before) ASSERT_FALSE(j.is_discarded() || j.contains("code")) << j.dump();

  struct Case {
    std::string what, method, target, body;
    std::map<std::string, std::string> headers;
    int status;
  };
  const std::string long_id(129, 'c');
  const std::vector<Case> cases = {
      {"malformed JSON", "POST", "/v1/refs/sites/site", R"({"name":)", {}, 400},
      {"malformed JSON in a generic call", "POST", "/v1/ops/refs.site.create", R"({"body":{)", {}, 400},
      {"malformed JSON in a merge patch", "PATCH", target, R"({"name")", {{"Content-Type", "application/merge-patch+json"}}, 400},
      {"truncated JSON", "PUT", target, R"({"name":"x")", {}, 400},
      {"wrong type", "POST", "/v1/refs/sites/site", R"({"name":5})", {}, 400},
      {"wrong type in a nested field", "POST", "/v1/refs/sites/site", R"({"name":"x","location":{"lat":"north"}})", {}, 400},
      {"wrong type of a generic input field", "POST", "/v1/ops/refs.site.get", R"({"id":7})", {}, 400},
      {"value out of range", "POST", "/v1/refs/sites/site?kind=power.substation", R"({"name":"x","bays":1000})", {}, 400},
      {"unknown field", "POST", "/v1/refs/sites/site", R"({"name":"x","bogus":1})", {}, 400},
      {"unknown nested field", "POST", "/v1/refs/sites/site", R"({"name":"x","location":{"alt":1}})", {}, 400},
      {"unknown input field of a generic call", "POST", "/v1/ops/refs.site.get", R"({"id":"bad-input-target","x":1})", {}, 400},
      {"merge patch that breaks the schema", "PATCH", target, R"({"name":null})", {{"Content-Type", "application/merge-patch+json"}}, 400},
      {"JSON patch with an unknown op", "PATCH", target, R"([{"op":"explode","path":"/name"}])", {{"Content-Type", "application/json-patch+json"}}, 400},
      {"JSON patch test that fails", "PATCH", target, R"([{"op":"test","path":"/name","value":"Other"},{"op":"replace","path":"/name","value":"Y"}])", {{"Content-Type", "application/json-patch+json"}}, 0},
      {"body not an object", "POST", "/v1/refs/sites/site", R"([1,2])", {}, 400},
      {"generic body not an object", "POST", "/v1/ops/refs.site.get", R"("bad-input-target")", {}, 400},
      {"wrong content type", "POST", "/v1/refs/sites/site", R"({"name":"x"})", {{"Content-Type", "text/plain"}}, 415},
      {"wrong patch content type", "PATCH", target, R"({"name":"x"})", {{"Content-Type", "application/xml"}}, 415},
      {"bad pointer", "GET", "/v1/resolve?pointer=not-a-pointer", "", {}, 400},
      {"pointer to an unknown repo", "GET", "/v1/resolve?pointer=bver%3A%2F%2Fnothing%2Fhere%2Fx", "", {}, 404},
      {"bad pointer in a body", "POST", "/v1/refs/assets/asset?kind=breaker", R"({"name":"b","site":"sites/site/x"})", {}, 400},
      {"pointer to the wrong repo in a body", "POST", "/v1/refs/assets/asset?kind=breaker", R"({"name":"b","site":"bver://assets/asset/x"})", {}, 400},
      {"stale If-Match on PUT", "PUT", target, R"({"name":"Stale"})", {{"If-Match", "\"7\""}}, 412},
      {"stale If-Match on PATCH", "PATCH", target, R"({"name":"Stale"})", {{"Content-Type", "application/merge-patch+json"}, {"If-Match", "\"2\""}}, 412},
      {"stale If-Match on DELETE", "DELETE", target, "", {{"If-Match", "\"3\""}}, 412},
      {"bad If-Match", "PATCH", "/v1/refs/sites/site/abc", "{}", {{"If-Match", "yesterday"}}, 400},
      {"If-Match version 0", "PUT", target, R"({"name":"x"})", {{"If-Match", "\"0\""}}, 400},
      {"unknown route", "GET", "/v1/nothing/here", "", {}, 404},
      {"unknown repo", "GET", "/v1/refs/nothing/here", "", {}, 404},
      {"route one segment too long", "GET", target + "/history/more", "", {}, 404},
      {"unknown operation", "POST", "/v1/ops/refs.nothing.get", "{}", {}, 404},
      {"unknown reference", "GET", "/v1/refs/sites/site/no-such-ref", "", {}, 404},
      {"wrong method", "POST", "/v1/refs/sites/site/abc", "{}", {}, 405},
      {"wrong method on a collection", "DELETE", "/v1/refs/sites/site", "", {}, 405},
      {"wrong method on the generic route", "GET", "/v1/ops/refs.site.get", "", {}, 405},
      {"wrong method on the document", "POST", "/v1/openapi.json", "{}", {}, 405},
      {"bad version", "GET", "/v1/refs/sites/site/abc/versions/x", "", {}, 400},
      {"bad integer query value", "GET", "/v1/refs/sites/site?limit=many", "", {}, 400},
      {"bad boolean query value", "GET", "/v1/refs/sites/site?include_deleted=perhaps", "", {}, 400},
      {"repeated single query parameter", "GET", target + "/diff?from=1&from=2&to=1", "", {}, 400},
      {"bad percent-encoding", "GET", "/v1/refs/sites/site?where=%zz", "", {}, 400},
      {"bad correlation id", "GET", "/v1/refs/sites/site", "", {{"X-Correlation-ID", "a b"}}, 400},
      {"correlation id too long", "GET", "/v1/refs/sites/site", "", {{"X-Correlation-ID", long_id}}, 400},
      {"correlation id on a write", "PUT", target, R"({"name":"x"})", {{"X-Correlation-ID", "semi;colon"}}, 400},
      {"unknown query parameter", "GET", "/v1/refs/sites/site?wher=name%3Dx", "", {}, 400},
      {"bad bearer token", "GET", "/v1/refs/sites/site", "", {{"Authorization", "Bearer nonsense"}}, 401},
      {"bad API key", "DELETE", target, "", {{"X-API-Key", "bver_0000000000000000_00"}}, 401},
  };
  for (const Case& c : cases) {
    Reply r = Do(c.method, c.target, c.body, c.headers);
    if (c.status == 0) {
      EXPECT_GE(r.status, 400) << c.what << ": " << r.body;
      EXPECT_LT(r.status, 500) << c.what << ": " << r.body;
      ExpectProblem(r, r.status, c.what);
    } else {
      ExpectProblem(r, c.status, c.what);
    }
    if (c.status == 405) {
      EXPECT_FALSE(r.Header("allow").empty()) << c.what;
      EXPECT_THAT(r.Header("allow"), ::testing::Not(HasSubstr(c.method))) << c.what;
    }
    EXPECT_FALSE(r.Header("x-correlation-id").empty()) << c.what;
    EXPECT_EQ(Do("GET", "/healthz").status, 200) << "after " << c.what;
  }
  EXPECT_THAT(Do("POST", "/v1/refs/sites/site/abc", "{}").Header("allow"), HasSubstr("GET"));

  {  // A body over the limit: 413 before the body is read.
    Conn c(port_);
    std::string huge(9u << 20, ' ');
    Reply r = c.Request("POST", "/v1/refs/sites/site", huge);
    ExpectProblem(r, 413, "huge body");
  }
  {  // A header block over the limit: 431.
    Conn c(port_);
    Reply r = c.Request("GET", "/healthz", "", {{"X-Filler", std::string(64 * 1024, 'a')}});
    ExpectProblem(r, 431, "huge header");
  }
  {  // Slow headers: 408 once the request timeout passes, then the close.
    Conn c(port_);
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    Reply r = c.Read(std::chrono::milliseconds(10000));
    ExpectProblem(r, 408, "slow headers");
    EXPECT_TRUE(c.ClosedWithin(std::chrono::milliseconds(5000)));
  }
  {  // Slow headers on a kept-alive connection: 408 too.
    Conn c(port_);
    ASSERT_EQ(c.Request("GET", "/healthz").status, 200);
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\n"));
    Reply r = c.Read(std::chrono::milliseconds(10000));
    ExpectProblem(r, 408, "slow headers after keep-alive");
  }
  {  // More connections than allowed: 503 to the extra one, the others still served.
    // The connections of the blocks above were closed by this side; the
    // server counts each until it has seen its close, which may lag under
    // load. So: 8 connections all served, tried again (for at most 5 s)
    // until the earlier ones are gone.
    std::vector<std::unique_ptr<Conn>> held;
    int served = 0;
    for (int attempt = 0; attempt < 50 && served < 8; ++attempt) {
      held.clear();
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      served = 0;
      for (int i = 0; i < 8; ++i) {
        held.push_back(std::make_unique<Conn>(port_));
        if (held.back()->Request("GET", "/healthz").status != 200) break;
        ++served;
      }
    }
    ASSERT_EQ(served, 8) << "the server did not serve 8 connections at once within 5 s";
    Conn extra(port_);
    ExpectProblem(extra.Read(std::chrono::milliseconds(5000)), 503, "too many connections");
    EXPECT_EQ(held.front()->Request("GET", "/healthz").status, 200);
  }
  // The server notices the closes asynchronously: wait until it accepts again.
  for (int i = 0; i < 100 && Do("GET", "/healthz").status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  {  // An idle connection is closed quietly (no request, no answer).
    Conn c(port_);
    EXPECT_TRUE(c.ClosedWithin(std::chrono::milliseconds(10000)));
  }
  EXPECT_EQ(Do("GET", "/healthz").status, 200);

  const std::vector<json> after = snapshot();
  EXPECT_EQ(after[0], before[0]) << "the list changed";
  EXPECT_EQ(after[1], before[1]) << "the reference changed";
  EXPECT_EQ(after[2], before[2]) << "the event log changed";
  EXPECT_EQ(after[3], before[3]) << "the ledger changed";
}

// With an API key in the store, auth is on: anonymous callers are refused,
// a key answers within its scopes, and a non-loopback address is allowed.
TEST(RestAuthTest, KeysTurnAuthOn) {
  fs::path dir = fs::temp_directory_path() / ("bver_rest_auth_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir / "bver.yaml");
  std::string out, err;
  // No auth configured: any address but loopback is refused, saying why.
  int code = RunBver(dir, {"-C", dir.string(), "up", "--listen", "0.0.0.0:0"}, &out, &err);
  EXPECT_NE(code, 0);
  EXPECT_THAT(err, HasSubstr("auth"));
  out.clear();
  err.clear();
  ASSERT_EQ(RunBver(dir, {"-C", dir.string(), "keys", "create", "--scopes", "sites.site:read"}, &out, &err), 0) << err;
  std::string key = out.substr(0, out.find('\n'));
  pid_t pid = -1;
  int port = StartServer(dir, {"--listen", "0.0.0.0:0"}, &pid);
  ASSERT_GT(port, 0);
  {
    Conn c(port);
    ExpectProblem401(c.Request("GET", "/v1/refs/sites/site"));
    Reply ok = c.Request("GET", "/v1/refs/sites/site", "", {{"Authorization", "Bearer " + key}});
    EXPECT_EQ(ok.status, 200) << ok.body;
    Reply denied = c.Request("POST", "/v1/refs/sites/site", R"({"name":"A"})", {{"Authorization", "Bearer " + key}});
    EXPECT_EQ(denied.status, 403) << denied.body;
    Reply wrong = c.Request("GET", "/v1/refs/sites/site", "", {{"Authorization", "Bearer " + key + "x"}});
    EXPECT_EQ(wrong.status, 401) << wrong.body;
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  fs::remove_all(dir);
}

// Last: SIGTERM stops the server gracefully with exit code 0.
TEST_F(RestTest, ZzSigtermExitsZero) {
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
