// GET /docs is Swagger UI, embedded in the binary: drive it in the system's
// headless Chromium (puppeteer-core, tests/docs_ui) against a real bver up
// and send a request from the page.
#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(DocsUiTest, SwaggerUiSendsARequestToBverUp) {
  ASSERT_TRUE(fs::exists(BVER_SOURCE_DIR "/tests/docs_ui/node_modules/puppeteer-core"))
      << "run scripts/npm_test_deps.sh (tests/docs_ui/package.json)";
  const fs::path dir = fs::temp_directory_path() / ("bver_docs_ui_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir / "bver.yaml");
  bver::testing::ServerProcess server = bver::testing::StartBverUp(BVER_EXE, dir, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server.port, 0) << bver::testing::ReadFileForTest(server.stderr_path);
  bver::testing::HttpReply made = bver::testing::HttpRequestOnce(
      server.port, "POST", "/v1/refs/sites/site?id=docs-ui", R"({"name":"Docs UI"})",
      {{"Content-Type", "application/json"}});
  EXPECT_EQ(made.status, 201) << made.body;
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port);
  bver::testing::CommandResult ui = bver::testing::RunCommand(
      "/usr/bin/node", {BVER_SOURCE_DIR "/tests/docs_ui/docs_ui_test.mjs", url, (dir / "docs.png").string()}, dir);
  EXPECT_EQ(bver::testing::StopServer(server), 0);
  EXPECT_EQ(ui.code, 0) << ui.out << ui.err;
  EXPECT_THAT(ui.out, HasSubstr("docs ui test: all steps passed")) << ui.out << ui.err;
  EXPECT_GT(fs::exists(dir / "docs.png") ? fs::file_size(dir / "docs.png") : 0, 10000u) << "a screenshot of the page";
  fs::remove_all(dir);
}

}  // namespace
