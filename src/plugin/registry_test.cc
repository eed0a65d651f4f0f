#include "src/plugin/registry.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/domain/compiler.h"
#include "src/plugin/runner.h"

namespace bver::plugin {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path kSource = BVER_SOURCE_DIR;
const fs::path kBinary = BVER_BINARY_DIR;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver-registry-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "src");
    registry_ = std::make_unique<Registry>(storage_, (dir_ / ".bver/plugins").string());
    auto p = domain::CompileFile((kSource / "examples/substation/bver.yaml").string());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    platform_ = *p;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A copy of a plugin folder we may change and delete.
  fs::path CopyPlugin(const fs::path& from, const std::string& name) {
    fs::path to = dir_ / "src" / name;
    fs::remove_all(to);
    fs::copy(from, to, fs::copy_options::recursive);
    return to;
  }

  void Rewrite(const fs::path& manifest, const std::string& from, const std::string& to) {
    std::string text = ReadFile(manifest);
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    std::ofstream(manifest) << text;
  }

  fs::path dir_;
  MemoryRegistryStorage storage_;
  std::unique_ptr<Registry> registry_;
  domain::Platform platform_;
};

TEST_F(RegistryTest, InstallCopiesRecordsAndSurvivesTheSourceGoingAway) {
  fs::path src = CopyPlugin(kSource / "plugins/substation-checks", "checks");
  Result<InstalledPlugin> p = registry_->Install(src.string(), &platform_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->plugin_id, "substation-checks");
  EXPECT_EQ(p->version, "1.0.0");
  EXPECT_EQ(p->kind, PluginKind::kExec);
  ASSERT_EQ(p->capabilities.size(), 1u);
  EXPECT_EQ(p->capabilities[0].id, "substation.sanity");
  EXPECT_EQ(p->capabilities[0].type, "validator");
  EXPECT_EQ(p->folder, fs::weakly_canonical(dir_ / ".bver/plugins/substation-checks/1.0.0").string());
  EXPECT_TRUE(fs::exists(fs::path(p->folder) / "checks.py"));
  EXPECT_EQ(p->manifest_digest.rfind("sha256:", 0), 0u);
  EXPECT_FALSE(p->installed_at.empty());

  // The record in storage holds exactly the documented fields.
  auto text = storage_.Get("substation-checks");
  ASSERT_TRUE(text.ok() && text->has_value());
  json record = json::parse(**text);
  for (const char* k : {"plugin_id", "version", "kind", "capabilities", "installed_at", "folder", "manifest_digest"}) {
    EXPECT_TRUE(record.contains(k)) << k;
  }

  fs::remove_all(src);
  Result<InstalledPlugin> got = registry_->Get("substation-checks");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->manifest.has_value()) << got->damage;
  auto runner = OpenRunner(*got, "substation.sanity");
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  Invocation inv;
  inv.capability_id = "substation.sanity";
  inv.input = {{"site", "bver://sites/site/s"}};
  inv.resolved = {{"bver://sites/site/s", {{"pointer", "bver://sites/site/s~1"}, {"body", {{"name", "S"}}}}}};
  Result<json> out = (*runner)->Invoke(inv);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)["passed"], true);

  // Same content again: a no-op answering the first record.
  fs::path again = CopyPlugin(kSource / "plugins/substation-checks", "checks");
  Result<InstalledPlugin> same = registry_->Install(again.string(), &platform_);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->installed_at, p->installed_at);
}

TEST_F(RegistryTest, InstallFromABundle) {
  fs::path src = CopyPlugin(kSource / "plugins/substation-checks", "substation-checks");
  std::string bundle = (dir_ / "checks.tar.gz").string();
  std::string cmd = "tar -czf " + bundle + " -C " + (dir_ / "src").string() + " substation-checks";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  Result<InstalledPlugin> p = registry_->Install(bundle, &platform_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->plugin_id, "substation-checks");
  EXPECT_TRUE(fs::exists(fs::path(p->folder) / "checks.py"));
  ASSERT_TRUE(registry_->Get("substation-checks").ok());
  EXPECT_TRUE(registry_->Get("substation-checks")->manifest.has_value());

  // Not a plugin bundle: a clear error.
  std::string empty = (dir_ / "empty.tar").string();
  ASSERT_EQ(std::system(("tar -cf " + empty + " -C " + src.string() + " checks.py").c_str()), 0);
  Result<InstalledPlugin> none = registry_->Install(empty, &platform_);
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(none.status().message(), HasSubstr("holds no bver_plugin.yaml"));
  std::ofstream(dir_ / "junk.tgz") << "not a tar file";
  Result<InstalledPlugin> junk = registry_->Install((dir_ / "junk.tgz").string(), &platform_);
  EXPECT_EQ(junk.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(junk.status().message(), HasSubstr("not a readable tar archive"));
}

TEST_F(RegistryTest, AnotherVersionNeedsReplace) {
  fs::path src = CopyPlugin(kSource / "plugins/substation-checks", "checks");
  ASSERT_TRUE(registry_->Install(src.string(), &platform_).ok());
  Rewrite(src / "bver_plugin.yaml", "version: 1.0.0", "version: 1.1.0");
  Result<InstalledPlugin> refused = registry_->Install(src.string(), &platform_);
  EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(refused.status().message(), HasSubstr("plugin substation-checks 1.0.0 is already installed"));
  Result<InstalledPlugin> replaced = registry_->Install(src.string(), &platform_, {.replace = true});
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_EQ(replaced->version, "1.1.0");
  EXPECT_FALSE(fs::exists(dir_ / ".bver/plugins/substation-checks/1.0.0"));
  EXPECT_TRUE(fs::exists(dir_ / ".bver/plugins/substation-checks/1.1.0/checks.py"));
  auto all = registry_->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].version, "1.1.0");
}

TEST_F(RegistryTest, IncompatiblePluginsAreRefusedAndNothingIsRecorded) {
  fs::path src = CopyPlugin(kSource / "plugins/substation-checks", "checks");
  Rewrite(src / "bver_plugin.yaml", "runtime_api_min: 1", "runtime_api_min: 7");
  Rewrite(src / "bver_plugin.yaml", "runtime_api_max: 1", "runtime_api_max: 9");
  Rewrite(src / "bver_plugin.yaml", "type: validator", "type: evaluator");
  Result<InstalledPlugin> p = registry_->Install(src.string(), &platform_);
  ASSERT_EQ(p.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.status().violations().size(), 2u) << p.status().ToString();
  EXPECT_FALSE(fs::exists(dir_ / ".bver/plugins/substation-checks/1.0.0"));
  auto all = registry_->List();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());

  // A manifest error names file:line:column.
  fs::path broken = CopyPlugin(kSource / "plugins/substation-checks", "broken");
  Rewrite(broken / "bver_plugin.yaml", "kind: exec", "kind: exec\ncolour: red");
  Result<InstalledPlugin> b = registry_->Install(broken.string(), &platform_);
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(b.status().ToString(), HasSubstr("bver_plugin.yaml:9:1"));
}

TEST_F(RegistryTest, TwoOwnersOfANamespaceAreRefused) {
  fs::path a = CopyPlugin(kSource / "plugins/substation-checks", "a");
  Rewrite(a / "bver_plugin.yaml", "scopes:", "owns: { namespaces: [grid] }\nscopes:");
  ASSERT_TRUE(registry_->Install(a.string(), nullptr).ok());
  fs::path b = CopyPlugin(kSource / "tests/plugins/misbehaving", "b");
  std::ofstream(b / "bver_plugin.yaml", std::ios::app) << "owns: { namespaces: [grid] }\n";
  Result<InstalledPlugin> p = registry_->Install(b.string(), nullptr);
  EXPECT_EQ(p.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(p.status().message(), HasSubstr("namespace grid is owned by both misbehaving and substation-checks"));
}

TEST_F(RegistryTest, RemoveAndDamage) {
  fs::path src = CopyPlugin(kSource / "plugins/substation-checks", "checks");
  Result<InstalledPlugin> p = registry_->Install(src.string(), &platform_);
  ASSERT_TRUE(p.ok());
  // Someone edits the installed copy: the registry notices.
  std::ofstream(fs::path(p->folder) / "bver_plugin.yaml", std::ios::app) << "# edited\n";
  auto damaged = registry_->Get("substation-checks");
  ASSERT_TRUE(damaged.ok());
  EXPECT_FALSE(damaged->manifest.has_value());
  EXPECT_THAT(damaged->damage, HasSubstr("manifest changed since install"));
  auto all = registry_->List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Registry::Check(*damaged, &platform_, *all).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(OpenRunner(*damaged, "substation.sanity").status().code(), StatusCode::kFailedPrecondition);

  // Installing the same version again repairs it, without --replace.
  Result<InstalledPlugin> repaired = registry_->Install(src.string(), &platform_);
  ASSERT_TRUE(repaired.ok()) << repaired.status().ToString();
  auto healthy = registry_->Get("substation-checks");
  ASSERT_TRUE(healthy.ok());
  EXPECT_TRUE(healthy->manifest.has_value()) << healthy->damage;

  EXPECT_TRUE(registry_->Remove("substation-checks").ok());
  EXPECT_FALSE(fs::exists(p->folder));
  EXPECT_EQ(registry_->Get("substation-checks").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->Remove("substation-checks").code(), StatusCode::kNotFound);
  EXPECT_TRUE(fs::exists(src)) << "the source folder is never touched";
}

TEST_F(RegistryTest, NativePluginsShareOneHandle) {
  Result<InstalledPlugin> p = registry_->Install((kBinary / "plugins/substation-starter").string(), &platform_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->kind, PluginKind::kNative);
  EXPECT_TRUE(fs::exists(fs::path(p->folder) / "substation_starter.so"));
  auto all = registry_->List();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(Registry::Check(*p, &platform_, *all).ok());
  for (int i = 0; i < 2; ++i) {
    auto runner = OpenRunner(*p, "substation.skeleton");
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    Invocation inv;
    inv.capability_id = "substation.skeleton";
    inv.input = {{"site", "bver://sites/site/s"}, {"bays_per_level", 1}};
    inv.resolved = {{"bver://sites/site/s",
                     {{"pointer", "bver://sites/site/s~1"}, {"kind", "power.substation"},
                      {"body", {{"name", "S"}, {"voltage_levels_kv", {110}}}}}}};
    Result<json> out = (*runner)->Invoke(inv);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ((*out)["changeset"]["creates"].size(), 2u);  // one busbar, one breaker
  }
  EXPECT_EQ(OpenRunner(*p, "substation.nope").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace bver::plugin
