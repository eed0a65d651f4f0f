#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/domain/compile_for_test.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/domain/source.h"

namespace bver::domain {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const char* kExample = BVER_SOURCE_DIR "/examples/substation/bver.yaml";

// A small valid platform that tests modify one line at a time.
std::string Minimal(const std::string& extra_repo_keys = "", const std::string& tail = "") {
  return "bver: 1\n"
         "platform:\n"
         "  id: demo\n"
         "  version: 1.0.0\n"
         "namespaces:\n"
         "  things:\n"
         "    repos:\n"
         "      thing:\n"
         "        schema:\n"
         "          type: object\n"
         "          properties:\n"
         "            name: { type: string }\n" +
         extra_repo_keys + tail;
}

using testing::AllErrors;
using testing::CompileText;

TEST(CompilerTest, CompilesTheSubstationExample) {
  Result<Platform> p = CompileFile(kExample);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->id, "substation");
  ASSERT_EQ(p->repos.size(), 3u);
  const Repo* site = p->FindRepo("sites/site");
  ASSERT_NE(site, nullptr);
  EXPECT_NE(site->FindKind("power.substation"), nullptr);
  EXPECT_NE(site->FindKind("telecom.node"), nullptr);
  EXPECT_EQ((*site->schema)["properties"]["status"]["default"], "draft");
  EXPECT_EQ(site->read_scope, "sites.site:read");

  const Repo* asset = p->FindRepo("asset");
  ASSERT_NE(asset, nullptr);
  EXPECT_TRUE(asset->kind_required);
  std::vector<std::string> pointers;
  for (const PointerField& f : asset->pointers) pointers.push_back(f.path + "->" + f.target);
  EXPECT_THAT(pointers, ::testing::UnorderedElementsAre("site->sites/site",
                                                        "terminals[*].connects_to->assets/asset"));
  EXPECT_EQ((*asset->schema)["properties"]["site"]["type"], "string");
  const Repo* doc = p->FindRepo("document");
  ASSERT_NE(doc, nullptr);
  EXPECT_THAT(doc->artifact_fields, ::testing::ElementsAre("artifact"));

  // Kind extensions are merged into the effective schema.
  const Kind* sub = site->FindKind("power.substation");
  EXPECT_TRUE((*sub->effective_schema)["properties"].contains("bays"));
  EXPECT_TRUE((*sub->effective_schema)["properties"].contains("name"));

  for (const char* op : {"refs.site.create", "refs.site.get", "refs.site.patch", "refs.site.replace",
                         "refs.site.delete", "refs.site.list", "refs.site.history",
                         "refs.site.version", "refs.site.diff", "resolve", "events.read",
                         "ledger.verify", "jobs.skeleton.start", "orch.design_site.start"}) {
    EXPECT_NE(p->FindOperation(op), nullptr) << op;
  }
  EXPECT_TRUE(p->FindOperation("refs.site.delete")->destructive);
  EXPECT_TRUE(p->FindOperation("refs.site.get")->read_only);
  // Summaries read right: "an asset", "a site".
  EXPECT_EQ(p->FindOperation("refs.asset.create")->summary, "Create an asset");
  EXPECT_EQ(p->FindOperation("refs.site.create")->summary, "Create a site");
  EXPECT_EQ(p->FindOperation("refs.asset.history")->summary, "Version history of an asset");
  // Step dependencies include the ones implied by ${steps.X} references.
  const Orchestrator& o = p->orchestrators.at(0);
  EXPECT_THAT(o.steps.at(2).after, ::testing::ElementsAre("validate"));
}

TEST(CompilerTest, ManifestFingerprintIsDeterministic) {
  Result<Platform> a = CompileFile(kExample);
  Result<Platform> b = CompileFile(kExample);
  ASSERT_TRUE(a.ok() && b.ok());
  Result<std::string> fa = ManifestFingerprint(ToManifest(*a));
  Result<std::string> fb = ManifestFingerprint(ToManifest(*b));
  ASSERT_TRUE(fa.ok()) << fa.status().ToString();
  EXPECT_EQ(*fa, *fb);
  EXPECT_THAT(*fa, ::testing::MatchesRegex("sha256:[0-9a-f]{64}"));
  json m = ToManifest(*a);
  EXPECT_EQ(m["manifest_format"], kManifestFormat);
  EXPECT_EQ(m["runtime_api"], kRuntimeApiLevel);
  // Collections are in name order (deterministic), not declaration order.
  EXPECT_EQ(m["repos"][0]["schema_id"], "assets.asset@1.0.0");
  EXPECT_EQ(m["repos"][2]["schema_id"], "sites.site@1.0.0");
  EXPECT_EQ(m["capabilities"][1]["input"]["schema_id"], "substation.skeleton.input@1.0.0");
}

TEST(CompilerTest, ChangingTheDomainChangesTheFingerprint) {
  Result<Platform> a = CompileText(Minimal());
  Result<Platform> b = CompileText(Minimal() + "            size: { type: integer }\n");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_NE(*ManifestFingerprint(ToManifest(*a)), *ManifestFingerprint(ToManifest(*b)));
}

TEST(CompilerTest, MalformedYamlNamesLineAndColumn) {
  Result<Platform> p = CompileText("bver: 1\nplatform:\n  id: [unclosed\n");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), ::testing::MatchesRegex("test\\.yaml:[0-9]+:[0-9]+: malformed YAML.*"));
}

TEST(CompilerTest, UnknownKeyIsAnErrorWithLocation) {
  Result<Platform> p = CompileText(Minimal("        shema: {}\n"));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()),
              HasSubstr("test.yaml:13:9: namespaces.things.repos.thing.shema: unknown key \"shema\""));
  EXPECT_EQ(p.status().violations().at(0).rule, "domain.unknown_key");
}

TEST(CompilerTest, DuplicateKeyIsAnError) {
  Result<Platform> p = CompileText(Minimal("", "platform: {}\n"));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("test.yaml:13:1: duplicate key \"platform\""));
}

TEST(CompilerTest, EveryErrorIsReportedAtOnce) {
  std::string text =
      "bver: 1\n"
      "platform: { id: Demo, version: \"1.0\" }\n"
      "namespaces:\n"
      "  things:\n"
      "    repos:\n"
      "      thing:\n"
      "        schema: { type: object, properties: { n: { type: string, minLenght: 3 } } }\n";
  Result<Platform> p = CompileText(text);
  ASSERT_FALSE(p.ok());
  std::string errors = AllErrors(p.status());
  EXPECT_THAT(errors, HasSubstr("platform id \"Demo\" must match"));
  EXPECT_THAT(errors, HasSubstr("\"1.0\" is not a semantic version"));
  EXPECT_THAT(errors, HasSubstr("unknown JSON Schema keyword \"minLenght\""));
  EXPECT_EQ(p.status().violations().size(), 3u);
}

TEST(CompilerTest, UnquotedVersionGetsAHint) {
  std::string text = Minimal();
  text.replace(text.find("1.0.0"), 5, "1.0");
  Result<Platform> p = CompileText(text);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("expected a string, found a number (quote it"));
}

TEST(CompilerTest, MissingRequiredKeys) {
  Result<Platform> p = CompileText("platform: { id: x }\n");
  ASSERT_FALSE(p.ok());
  std::string errors = AllErrors(p.status());
  EXPECT_THAT(errors, HasSubstr("missing required key \"bver\""));
  EXPECT_THAT(errors, HasSubstr("missing required key \"version\""));
  EXPECT_THAT(errors, HasSubstr("missing required key \"namespaces\""));
}

TEST(CompilerTest, WrongTypesAreNamed) {
  Result<Platform> p = CompileText("bver: 1\nplatform: []\nnamespaces: 3\n");
  ASSERT_FALSE(p.ok());
  std::string errors = AllErrors(p.status());
  EXPECT_THAT(errors, HasSubstr("test.yaml:2:1: platform: expected a mapping, found a list"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:3:1: namespaces: expected a mapping, found a number"));
}

TEST(CompilerTest, UnsupportedFormatVersion) {
  std::string text = Minimal();
  text.replace(0, 7, "bver: 2");
  Result<Platform> p = CompileText(text);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("format version 2 is not supported"));
}

TEST(CompilerTest, InvalidJsonSchemaIsRejected) {
  Result<Platform> p = CompileText(Minimal("", "            n: { type: 5 }\n"));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("invalid JSON Schema"));
}

TEST(CompilerTest, RootSchemaMustBeAnObject) {
  std::string text = Minimal();
  text.replace(text.find("type: object"), 12, "type: array");
  Result<Platform> p = CompileText(text);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("root type must be \"object\""));
}

TEST(CompilerTest, PointerTargetMustBeDeclared) {
  Result<Platform> p = CompileText(Minimal("", "            owner: { x-bver-pointer: people/person }\n"));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("points to \"people/person\", which is not a declared repo"));
}

TEST(CompilerTest, RepoNamesAreUniqueAcrossNamespaces) {
  std::string text = Minimal() + "  other:\n    repos:\n      thing:\n        schema: {}\n";
  Result<Platform> p = CompileText(text);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), ::testing::ContainsRegex("test.yaml:[0-9]+:7: namespaces\\.[a-z]+\\.repos\\.thing: repo \"thing\" is "
                                      "already declared in namespace"));
}

TEST(CompilerTest, KindMayNotRedefineABaseProperty) {
  Result<Platform> p = CompileText(Minimal(
      "        kinds:\n          big:\n            schema: { properties: { name: { type: integer } } }\n"));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("redefines property \"name\""));
}

TEST(CompilerTest, BadKindName) {
  Result<Platform> p = CompileText(Minimal("        kinds:\n          Big: {}\n"));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("kind \"Big\" must be dotted lower-case words"));
}

TEST(CompilerTest, CapabilityJobOrchestratorTriggerChecks) {
  std::string tail =
      "capabilities:\n"
      "  c.one: { type: magician, version: 1.0.0, plugin: p }\n"
      "jobs:\n"
      "  j: { capability: c.missing, on_conflict: maybe }\n"
      "orchestrators:\n"
      "  o:\n"
      "    steps:\n"
      "      - { id: a, op: refs.thing.get, after: [b] }\n"
      "      - { id: b, op: refs.nothing.get, input: { x: \"${steps.a.output}\" } }\n"
      "triggers:\n"
      "  t: { on: { repo: things/thing, kind: nope, channel: radio }, start: refs.thing.get }\n";
  Result<Platform> p = CompileText(Minimal("", tail));
  ASSERT_FALSE(p.ok());
  std::string errors = AllErrors(p.status());
  EXPECT_THAT(errors, HasSubstr("unknown primitive \"magician\""));
  EXPECT_THAT(errors, HasSubstr("no capability \"c.missing\""));
  EXPECT_THAT(errors, HasSubstr("unknown policy \"maybe\""));
  EXPECT_THAT(errors, HasSubstr("form a cycle"));
  EXPECT_THAT(errors, HasSubstr("no operation \"refs.nothing.get\""));
  EXPECT_THAT(errors, HasSubstr("has no kind \"nope\""));
  EXPECT_THAT(errors, HasSubstr("unknown channel \"radio\""));
  EXPECT_THAT(errors, HasSubstr("is not a jobs.<job>.start or orch.<orchestrator>.start"));
}

TEST(CompilerTest, StepDependingOnUnknownStep) {
  std::string tail =
      "orchestrators:\n"
      "  o:\n"
      "    steps:\n"
      "      - { id: a, op: refs.thing.get, when: \"${steps.ghost.output.ok}\" }\n";
  Result<Platform> p = CompileText(Minimal("", tail));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("depends on \"ghost\", which is not a step"));
}

TEST(SourceTest, AliasBombIsBounded) {
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    text += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + "]\n";
    prev = c;
  }
  Result<SourceDocument> d = ParseYaml(text, "bomb.yaml");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("document too large"));
}

TEST(SourceTest, ScalarsFollowTheCoreSchema) {
  Result<SourceDocument> d =
      ParseYaml("a: 1\nb: \"1\"\nc: true\nd: ~\ne: 1.5\nf: 0.1.0\ng: 'yes'\nh: -7\n", "s.yaml");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const json& v = d->value();
  EXPECT_EQ(v["a"], 1);
  EXPECT_EQ(v["b"], "1");
  EXPECT_EQ(v["c"], true);
  EXPECT_TRUE(v["d"].is_null());
  EXPECT_EQ(v["e"], 1.5);
  EXPECT_EQ(v["f"], "0.1.0");
  EXPECT_EQ(v["g"], "yes");
  EXPECT_EQ(v["h"], -7);
  EXPECT_EQ(d->Where(AttributePath().Key("e")), "s.yaml:5:1");
}

TEST(SourceTest, MissingFileIsNotFound) {
  Result<SourceDocument> d = LoadYamlFile("/nonexistent/bver.yaml");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(d.status().message(), HasSubstr("/nonexistent/bver.yaml"));
}

class WriteCompiledTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bver_domain_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(WriteCompiledTest, WritesManifestAndPlatform) {
  Result<Platform> p = CompileFile(kExample);
  ASSERT_TRUE(p.ok());
  Result<CompileOutputs> out = WriteCompiled(*p, kExample, dir_.string());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::ifstream m(out->manifest_path);
  json manifest = json::parse(m);
  EXPECT_EQ(*ManifestFingerprint(manifest), out->fingerprint);
  std::ifstream c(out->platform_path);
  json compiled = json::parse(c);
  EXPECT_EQ(compiled["manifest_fingerprint"], out->fingerprint);
  // No temporary files are left behind.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir_)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2);
}

TEST_F(WriteCompiledTest, UnwritableOutputLeavesNothingBehind) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  Result<Platform> p = CompileFile(kExample);
  ASSERT_TRUE(p.ok());
  Result<CompileOutputs> out = WriteCompiled(*p, kExample, (dir_ / "file" / "sub").string());
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("cannot create"));
}

}  // namespace
}  // namespace bver::domain
