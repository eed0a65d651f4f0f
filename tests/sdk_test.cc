// The generated SDKs end to end: `bver sdk typescript` built the way its
// README says (openapi-typescript writes the types, tsc --strict compiles,
// and a file of deliberate type errors must fail where marked), and both
// SDKs driving a real `bver up`: create, patch with the expected version, a
// typed 412 and 404, list with paging, a job with wait.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kNodeBin = BVER_SOURCE_DIR "/tests/sdk/node_modules/.bin/";

class SdkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_sdk_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir_ / "bver.yaml");
  }
  void TearDown() override {
    if (server_.pid > 0) bver::testing::StopServer(server_);
    fs::remove_all(dir_);
  }
  bver::testing::CommandResult Bver(std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", dir_.string()});
    return bver::testing::RunCommand(BVER_EXE, args, dir_);
  }
  // Runs `program` (paths in `args` are absolute; the scratch folder holds its output).
  bver::testing::CommandResult Sh(const std::string& program, const std::vector<std::string>& args) {
    return bver::testing::RunCommand(program, args, dir_);
  }

  fs::path dir_;
  bver::testing::ServerProcess server_;
};

TEST_F(SdkTest, TypeScriptAndPythonAgainstBverUp) {
  ASSERT_TRUE(fs::exists(kNodeBin + "tsc")) << "run scripts/npm_test_deps.sh (tests/sdk/package.json)";
  for (const std::string& plugin :
       {std::string(BVER_BINARY_DIR "/plugins/substation-starter"), std::string(BVER_SOURCE_DIR "/plugins/substation-checks")}) {
    bver::testing::CommandResult r = Bver({"plugins", "install", plugin});
    ASSERT_EQ(r.code, 0) << plugin << ": " << r.out << r.err;
  }
  const fs::path ts = dir_ / "sdk-ts", py = dir_ / "sdk-py";
  bver::testing::CommandResult gen = Bver({"sdk", "typescript", "-o", ts.string()});
  ASSERT_EQ(gen.code, 0) << gen.err;
  EXPECT_THAT(gen.out, HasSubstr("npm install && npm run build"));
  ASSERT_EQ(Bver({"sdk", "python", "-o", py.string()}).code, 0);
  EXPECT_EQ(Bver({"sdk", "rust", "-o", (dir_ / "x").string()}).code, 2) << "an unknown language is a usage error";

  // Build as the README says, with the pinned tools of tests/sdk.
  bver::testing::CommandResult types =
      Sh(kNodeBin + "openapi-typescript",
         {(ts / "openapi.json").string(), "-o", (ts / "schema.d.ts").string(), "--empty-objects-unknown"});
  ASSERT_EQ(types.code, 0) << types.out << types.err;
  bver::testing::CommandResult tsc = Sh(kNodeBin + "tsc", {"-p", ts.string()});
  ASSERT_EQ(tsc.code, 0) << tsc.out << tsc.err;
  ASSERT_TRUE(fs::exists(ts / "dist" / "client.js"));

  // The types hold: usage.ts compiles under --strict, its marked errors
  // are errors (an unused @ts-expect-error would fail the build).
  fs::copy_file(BVER_SOURCE_DIR "/tests/sdk/usage.ts", ts / "usage.ts");
  std::ofstream(ts / "tsconfig.usage.json")
      << R"({"extends": "./tsconfig.json", "compilerOptions": {"noEmit": true}, "files": ["client.ts", "schema.d.ts", "usage.ts"]})";
  bver::testing::CommandResult usage = Sh(kNodeBin + "tsc", {"-p", (ts / "tsconfig.usage.json").string()});
  EXPECT_EQ(usage.code, 0) << usage.out << usage.err;

  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  const std::string url = "http://127.0.0.1:" + std::to_string(server_.port);

  bver::testing::CommandResult node =
      Sh("/usr/bin/node", {BVER_SOURCE_DIR "/tests/sdk/ts_e2e.mjs", (ts / "dist" / "client.js").string(), url});
  EXPECT_EQ(node.code, 0) << node.out << node.err;
  EXPECT_THAT(node.out, HasSubstr("ts sdk test: all steps passed")) << node.out << node.err;

  bver::testing::CommandResult python = Sh("/usr/bin/python3", {BVER_SOURCE_DIR "/tests/sdk/py_e2e.py", py.string(), url});
  EXPECT_EQ(python.code, 0) << python.out << python.err;
  EXPECT_THAT(python.out, HasSubstr("py sdk test: all steps passed")) << python.out << python.err;
}

}  // namespace
