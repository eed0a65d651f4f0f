// `bver up | status | down` and the streamed artifact routes, end to end:
// the real binary on a free loopback port, driven by curl (the HTTP client
// a user has) and by the CLI itself.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/core/digest.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

namespace fs = std::filesystem;
using bver::testing::CommandResult;
using bver::testing::RunCommand;
using nlohmann::json;
using ::testing::HasSubstr;

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_serve_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir_ / "bver.yaml");
  }
  void TearDown() override {
    if (server_.pid > 0) bver::testing::StopServer(server_, SIGKILL);
    fs::remove_all(dir_);
  }

  CommandResult Bver(std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", dir_.string()});
    return RunCommand(BVER_EXE, args, dir_);
  }
  CommandResult Curl(std::vector<std::string> args) {
    args.insert(args.begin(), {"-sS", "--max-time", "60"});
    return RunCommand("/usr/bin/curl", args, dir_);
  }
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server_.port) + path; }

  void Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = bver::testing::StartBverUp(BVER_EXE, dir_, args);
    ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  }

  // The server's peak resident memory so far, in KiB.
  long PeakKib() const {
    std::ifstream in("/proc/" + std::to_string(server_.pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }

  fs::path dir_;
  bver::testing::ServerProcess server_;
};

TEST_F(ServeTest, StatusAndDownFollowTheServer) {
  CommandResult before = Bver({"status"});
  EXPECT_EQ(before.code, 1) << before.out << before.err;
  EXPECT_THAT(before.out, HasSubstr("not running"));
  CommandResult before_json = Bver({"status", "--json"});
  EXPECT_EQ(json::parse(before_json.out, nullptr, false), json({{"running", false}})) << before_json.out;
  CommandResult down_nothing = Bver({"down"});
  EXPECT_EQ(down_nothing.code, 1);
  EXPECT_THAT(down_nothing.err, HasSubstr("no server is running"));

  Start();
  EXPECT_TRUE(fs::exists(dir_ / ".bver" / "up.json"));
  CommandResult status = Bver({"status", "--json"});
  ASSERT_EQ(status.code, 0) << status.out << status.err;
  json s = json::parse(status.out, nullptr, false);
  EXPECT_EQ(s.value("running", false), true) << status.out;
  EXPECT_EQ(s.value("healthy", false), true) << status.out;
  EXPECT_EQ(s.value("pid", 0), server_.pid);
  EXPECT_EQ(s.value("url", std::string()), Url(""));

  // One server per project: a second one is refused, saying which runs.
  CommandResult second = Bver({"up", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(second.code, 1);
  EXPECT_THAT(second.err, HasSubstr("already runs"));
  EXPECT_THAT(second.err, HasSubstr(std::to_string(server_.pid)));

  CommandResult down = Bver({"down", "--json"});
  ASSERT_EQ(down.code, 0) << down.out << down.err;
  EXPECT_EQ(json::parse(down.out, nullptr, false), json({{"stopped", true}, {"pid", server_.pid}}));
  EXPECT_EQ(bver::testing::WaitServer(server_, 30), 0) << "bver up must exit 0 after bver down";
  EXPECT_FALSE(fs::exists(dir_ / ".bver" / "up.json"));
  EXPECT_EQ(Bver({"status"}).code, 1);
}

TEST_F(ServeTest, AStaleStatusFileDoesNotBlock) {
  Start();
  int port = server_.port;
  bver::testing::StopServer(server_, SIGKILL);  // leaves .bver/up.json behind
  ASSERT_TRUE(fs::exists(dir_ / ".bver" / "up.json"));
  CommandResult status = Bver({"status"});
  EXPECT_EQ(status.code, 1);
  EXPECT_THAT(status.out, HasSubstr("stale"));
  Start();
  EXPECT_NE(server_.port, 0);
  (void)port;
  CommandResult down = Bver({"down"});
  EXPECT_EQ(down.code, 0) << down.err;
  EXPECT_EQ(bver::testing::WaitServer(server_, 30), 0);
}

TEST_F(ServeTest, ArtifactsStreamBothWaysInBoundedMemory) {
  Start();
  // 50 MiB of incompressible bytes.
  std::string content(50u << 20, '\0');
  std::mt19937_64 rng(42);
  for (std::size_t i = 0; i + 8 <= content.size(); i += 8) {
    std::uint64_t v = rng();
    std::memcpy(content.data() + i, &v, 8);
  }
  std::string hex = bver::core::Sha256Hex(content);
  {
    std::ofstream(dir_ / "big.bin", std::ios::binary) << content;
  }
  long peak_before = PeakKib();
  ASSERT_GT(peak_before, 0);

  // Upload (curl sends "Expect: 100-continue" for a body this big).
  CommandResult put = Curl({"-X", "PUT", "--data-binary", "@" + (dir_ / "big.bin").string(), "-H",
                            "Content-Type: application/octet-stream", "-D", (dir_ / "put.h").string(),
                            Url("/v1/artifacts")});
  ASSERT_EQ(put.code, 0) << put.err;
  std::string put_head = bver::testing::ReadFileForTest(dir_ / "put.h");
  EXPECT_THAT(put_head, HasSubstr("201 Created"));
  EXPECT_THAT(put_head, HasSubstr("Location: /v1/artifacts/sha256:" + hex));
  EXPECT_THAT(put_head, HasSubstr("ETag: \"sha256:" + hex + "\""));
  json body = json::parse(put.out, nullptr, false);
  EXPECT_EQ(body.value("digest", std::string()), "sha256:" + hex) << put.out;
  EXPECT_EQ(body.value("size", 0ull), content.size());
  EXPECT_EQ(body.value("existed", true), false);

  // Download it back.
  CommandResult get = Curl({"-o", (dir_ / "got.bin").string(), "-D", (dir_ / "get.h").string(), "-w",
                            "%{http_code}", Url("/v1/artifacts/sha256:" + hex)});
  ASSERT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(get.out, "200");
  EXPECT_THAT(bver::testing::ReadFileForTest(dir_ / "get.h"), HasSubstr("ETag: \"sha256:" + hex + "\""));
  EXPECT_TRUE(bver::testing::ReadFileForTest(dir_ / "got.bin") == content) << "the downloaded bytes differ";

  // Neither direction held the artifact in memory.
  long growth_kib = PeakKib() - peak_before;
  EXPECT_LT(growth_kib, 24 * 1024) << "peak memory grew by " << growth_kib << " KiB for a 50 MiB artifact";

  // The same content again is deduplicated; a cached copy is not sent again.
  CommandResult again = Curl({"-X", "PUT", "--data-binary", "@" + (dir_ / "big.bin").string(), "-w",
                              "\n%{http_code}", Url("/v1/artifacts")});
  EXPECT_THAT(again.out, HasSubstr("\"existed\":true"));
  EXPECT_THAT(again.out, HasSubstr("\n200"));
  CommandResult cached = Curl({"-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: \"sha256:" + hex + "\"",
                               Url("/v1/artifacts/sha256:" + hex)});
  EXPECT_EQ(cached.out, "304");

  // Errors are problems; no upload is left half-spooled.
  CommandResult missing = Curl({"-w", "\n%{http_code}", Url("/v1/artifacts/sha256:" + std::string(64, '0'))});
  EXPECT_THAT(missing.out, HasSubstr("\"code\":\"not_found\""));
  EXPECT_THAT(missing.out, HasSubstr("\n404"));
  CommandResult bad = Curl({"-w", "\n%{http_code}", Url("/v1/artifacts/not-a-digest")});
  EXPECT_THAT(bad.out, HasSubstr("\"path\":\"digest\""));
  EXPECT_THAT(bad.out, HasSubstr("\n400"));
  CommandResult post = Curl({"-X", "POST", "-d", "x", "-w", "\n%{http_code}", Url("/v1/artifacts")});
  EXPECT_THAT(post.out, HasSubstr("\n405"));
  for (const auto& e : fs::directory_iterator(dir_ / ".bver" / "artifacts" / "tmp")) {
    ADD_FAILURE() << "left behind: " << e.path();
  }
  // The CLI reads what HTTP stored.
  CommandResult stat = Bver({"artifact", "stat", "sha256:" + hex, "--json"});
  EXPECT_EQ(stat.code, 0) << stat.err;
  EXPECT_THAT(stat.out, HasSubstr(hex));
}

TEST_F(ServeTest, UploadsAreRefusedBeforeTheirBodyWithoutTheScope) {
  CommandResult key = Bver({"keys", "create", "--scopes", "sites.site:read"});
  ASSERT_EQ(key.code, 0) << key.err;
  std::string token = key.out.substr(0, key.out.find('\n'));
  Start();
  std::string big(8u << 20, 'x');
  {
    std::ofstream(dir_ / "big.bin", std::ios::binary) << big;
  }
  CommandResult anon = Curl({"-X", "PUT", "--data-binary", "@" + (dir_ / "big.bin").string(), "-w",
                             "\n%{http_code} %{size_upload}", Url("/v1/artifacts")});
  EXPECT_THAT(anon.out, HasSubstr("\"code\":\"unauthenticated\""));
  EXPECT_THAT(anon.out, HasSubstr("\n401 0")) << "the body must not be read";
  CommandResult scoped = Curl({"-X", "PUT", "--data-binary", "@" + (dir_ / "big.bin").string(), "-H",
                               "Authorization: Bearer " + token, "-w", "\n%{http_code} %{size_upload}",
                               Url("/v1/artifacts")});
  EXPECT_THAT(scoped.out, HasSubstr("\"code\":\"permission_denied\""));
  EXPECT_THAT(scoped.out, HasSubstr("\n403 0"));
  // Still serving.
  CommandResult list = Curl({"-w", "\n%{http_code}", "-H", "Authorization: Bearer " + token,
                             Url("/v1/refs/sites/site")});
  EXPECT_THAT(list.out, HasSubstr("\n200"));
}

}  // namespace
