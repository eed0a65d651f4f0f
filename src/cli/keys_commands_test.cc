// bver keys create | list | revoke, run in-process as a user would, and
// checked against the key table: the key is printed once and works, the
// store never holds the secret, and a revoked key stops working.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/auth/api_keys.h"
#include "src/cli/cli.h"
#include "src/store/open.h"

namespace bver::cli {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class KeysCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_keys_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir_ / "bver.yaml");
    cwd_ = fs::current_path();
    ::unsetenv("BVER_STORE");
  }
  void TearDown() override {
    fs::current_path(cwd_);
    fs::remove_all(dir_);
  }

  int Bver(std::vector<std::string> args) {
    args.insert(args.begin(), {"bver", "-C", dir_.string()});
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    out_.str("");
    err_.str("");
    int code = cli::Run(static_cast<int>(argv.size()), argv.data(), out_, err_);
    fs::current_path(cwd_);
    return code;
  }

  std::unique_ptr<store::Backend> Backend() {
    Result<std::unique_ptr<store::Backend>> b = store::OpenBackend("sqlite:.bver/bver.db", dir_.string());
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }

  fs::path dir_, cwd_;
  std::ostringstream out_, err_;
};

TEST_F(KeysCommandsTest, CreateListRevoke) {
  ASSERT_EQ(Bver({"keys", "create", "--scopes", "sites.site:read,events:read", "--name", "ci bot", "--json"}), 0)
      << err_.str();
  json created = json::parse(out_.str());
  std::string key = created["key"];
  std::string id = created["id"];
  EXPECT_EQ(created["scopes"], json::array({"events:read", "sites.site:read"}));
  EXPECT_EQ(created["name"], "ci bot");

  ASSERT_EQ(Bver({"keys", "create", "--scopes", "admin"}), 0) << err_.str();
  std::string plain = out_.str();
  EXPECT_THAT(plain, ::testing::MatchesRegex("bver_[0-9a-f]{16}_[0-9a-f]{64}\n")) << "stdout holds the key alone";
  EXPECT_THAT(err_.str(), HasSubstr("shown only this once"));

  ASSERT_EQ(Bver({"keys", "list", "--json"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr(id));
  EXPECT_THAT(out_.str(), ::testing::Not(HasSubstr(key.substr(22)))) << "list never prints a secret";

  {
    auto backend = Backend();
    auth::ApiKeys keys(*backend);
    Result<auth::Principal> p = keys.Verify(key);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->subject, "key:" + id);
  }
  ASSERT_EQ(Bver({"keys", "revoke", id}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("revoked " + id));
  {
    auto backend = Backend();
    auth::ApiKeys keys(*backend);
    EXPECT_EQ(keys.Verify(key).status().code(), StatusCode::kUnauthenticated);
  }
  ASSERT_EQ(Bver({"keys", "list"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("revoked"));
  EXPECT_THAT(out_.str(), HasSubstr("2 key(s)"));
  // The database never holds a secret.
  for (const auto& e : fs::recursive_directory_iterator(dir_ / ".bver")) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(key.substr(22)), std::string::npos) << e.path();
  }
}

TEST_F(KeysCommandsTest, MistakesAreReported) {
  EXPECT_EQ(Bver({"keys", "create", "--scopes", "sites.site:wirte"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("unknown scope"));
  EXPECT_THAT(err_.str(), HasSubstr("sites.site:write")) << "the known scopes are listed";
  EXPECT_EQ(Bver({"keys", "create"}), 2) << "--scopes is required";
  EXPECT_EQ(Bver({"keys", "revoke", "0000000000000000"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no API key"));
  EXPECT_EQ(Bver({"keys", "revoke", "not-an-id"}), 1);
}

}  // namespace
}  // namespace bver::cli
