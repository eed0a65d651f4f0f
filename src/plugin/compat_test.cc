#include "src/plugin/compat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/domain/compiler.h"

namespace bver::plugin {
namespace {

using ::testing::HasSubstr;

const std::string kSource = BVER_SOURCE_DIR;

Manifest Starter() {
  auto doc = domain::LoadYamlFile(kSource + "/plugins/substation-starter/bver_plugin.yaml");
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  auto m = ParseManifest(*doc, "/x");
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

Manifest Checks() {
  auto doc = domain::LoadYamlFile(kSource + "/plugins/substation-checks/bver_plugin.yaml");
  auto m = ParseManifest(*doc, "/y");
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

class Compat : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = domain::CompileFile(kSource + "/examples/substation/bver.yaml");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    platform_ = *p;
  }
  domain::Platform platform_;
};

std::vector<std::string> Rules(const std::vector<Violation>& v) {
  std::vector<std::string> out;
  for (const Violation& x : v) out.push_back(x.rule);
  return out;
}

TEST_F(Compat, FirstPartyPluginsFitTheExample) {
  Manifest s = Starter(), c = Checks();
  EXPECT_TRUE(CheckCompatibility(s, &platform_, {&c}).ok());
  EXPECT_TRUE(CheckCompatibility(c, &platform_, {&s}).ok());
  EXPECT_TRUE(CheckPlatformPlugins(platform_, {&s, &c}).ok());
}

TEST_F(Compat, RuntimeApiLevelOutsideTheRange) {
  Manifest s = Starter();
  s.runtime_api_min = kRuntimeApiLevel + 1;
  s.runtime_api_max = kRuntimeApiLevel + 3;
  Status st = CheckCompatibility(s, nullptr, {});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("supports runtime API levels 2 to 4; this runtime is at level 1"));
}

TEST_F(Compat, EveryCapabilityProblemIsListed) {
  Manifest s = Starter();
  s.capabilities[0].version = "2.0.0";             // another major
  s.capabilities[0].primitive = domain::Primitive::kEvaluator;
  s.capabilities[0].writes = {"assets/asset", "sites/site"};
  s.runtime_api_max = 0;
  s.runtime_api_min = 0;
  std::vector<Violation> v = CompatibilityProblems(s, &platform_, {});
  EXPECT_THAT(Rules(v), ::testing::UnorderedElementsAre("compat.runtime_api", "compat.type", "compat.version",
                                                        "compat.writes"));
  Status st = CheckCompatibility(s, &platform_, {});
  EXPECT_THAT(st.message(), HasSubstr("is not compatible (4 problem(s))"));
  for (const Violation& x : v) {
    if (x.rule == "compat.version") {
      EXPECT_THAT(x.message, HasSubstr("wants substation.skeleton 1.0.0; plugin substation-starter 1.0.0 provides 2.0.0"));
    }
    if (x.rule == "compat.writes") {
      EXPECT_THAT(x.message, HasSubstr("writes sites/site in substation.skeleton, but bver.yaml lets it write only assets/asset"));
    }
  }
}

TEST_F(Compat, VersionRule) {
  Manifest s = Starter();
  auto version_ok = [&](const std::string& declared, const std::string& provided) {
    domain::Platform p = platform_;
    for (auto& c : p.capabilities) {
      if (c.id == "substation.skeleton") c.version = declared;
    }
    s.capabilities[0].version = provided;
    return CompatibilityProblems(s, &p, {}).empty();
  };
  EXPECT_TRUE(version_ok("1.0.0", "1.0.0"));
  EXPECT_TRUE(version_ok("1.2.0", "1.3.0"));
  EXPECT_TRUE(version_ok("1.2.5", "1.2.0"));  // patch levels do not matter
  EXPECT_FALSE(version_ok("1.2.0", "1.1.9"));
  EXPECT_FALSE(version_ok("1.0.0", "2.0.0"));
  EXPECT_FALSE(version_ok("2.0.0", "1.9.0"));
}

TEST_F(Compat, MissingCapabilityAndMissingPlugin) {
  Manifest s = Starter();
  s.capabilities[0].id = "substation.other";
  std::vector<Violation> v = CompatibilityProblems(s, &platform_, {});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].rule, "compat.capability");
  EXPECT_THAT(v[0].message, HasSubstr("declares capability substation.skeleton with plugin: substation-starter, but plugin substation-starter 1.0.0 does not provide it"));

  Manifest c = Checks();
  Status st = CheckPlatformPlugins(platform_, {&c});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  ASSERT_EQ(st.violations().size(), 1u) << st.ToString();
  EXPECT_EQ(st.violations()[0].rule, "compat.not_installed");
  EXPECT_THAT(st.violations()[0].message, HasSubstr("needs plugin substation-starter, which is not installed"));
}

TEST_F(Compat, TwoOwners) {
  Manifest s = Starter(), c = Checks();
  s.owns_namespaces = {"grid"};
  s.owns_kinds = {"grid.node", "grid.edge"};
  c.owns_namespaces = {"grid"};
  c.owns_kinds = {"grid.edge"};
  std::vector<Violation> v = CompatibilityProblems(s, nullptr, {&c});
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].message, "namespace grid is owned by both substation-checks and substation-starter");
  EXPECT_EQ(v[1].message, "kind grid.edge is owned by both substation-checks and substation-starter");
  // Seen from both plugins at start, each conflict is reported once.
  Status st = CheckPlatformPlugins(platform_, {&s, &c});
  EXPECT_EQ(st.violations().size(), 2u) << st.ToString();
  // A namespace bver.yaml gives to core cannot be claimed by a plugin.
  s.owns_namespaces = {"assets"};
  v = CompatibilityProblems(s, &platform_, {});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_THAT(v[0].message, HasSubstr("claims namespace assets, which bver.yaml gives to core"));
}

}  // namespace
}  // namespace bver::plugin
