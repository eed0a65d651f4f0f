#include "src/plugin/manifest.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace bver::plugin {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

Result<Manifest> Parse(const std::string& text) {
  Result<domain::SourceDocument> doc = domain::ParseYaml(text, "bver_plugin.yaml");
  if (!doc.ok()) return doc.status();
  return ParseManifest(*doc, "/plugins/x");
}

// Every violation as "where: message".
std::vector<std::string> Problems(const Status& s) {
  std::vector<std::string> out;
  for (const Violation& v : s.violations()) out.push_back(v.path + " [" + v.rule + "] " + v.message);
  return out;
}

bool Has(const Status& s, const std::string& where, const std::string& text) {
  for (const Violation& v : s.violations()) {
    if (v.path == where && v.message.find(text) != std::string::npos) return true;
  }
  return false;
}

const char* kFull = R"(plugin_id: demo-plugin
version: 1.2.3
description: A demo.
runtime_api_min: 1
runtime_api_max: 2
kind: exec
entry: [python3, run.py]
capabilities:
  - id: demo.generate
    type: generator
    version: 1.0.0
    deterministic: false
    input:
      type: object
      required: [site]
      properties:
        site: { x-bver-pointer: sites/site }
    output:
      type: object
      properties: { summary: { type: string, maxLength: 100 } }
    writes: [assets/asset]
    network: true
    labels: { os: linux, gpu: "yes" }
    limits: { timeout_seconds: 5, memory_mb: 64, cpu_seconds: 3, open_files: 32, processes: 8 }
    trust: { runs: 3, agree: 2 }
  - id: demo.check
    type: validator
    version: 2.0.0
    input: { properties: { n: { type: integer } } }
scopes: [assets.asset:write]
owns: { namespaces: [demo], kinds: [demo.widget] }
)";

TEST(Manifest, ParsesEveryKey) {
  Result<Manifest> m = Parse(kFull);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->plugin_id, "demo-plugin");
  EXPECT_EQ(m->version, "1.2.3");
  EXPECT_EQ(m->runtime_api_min, 1);
  EXPECT_EQ(m->runtime_api_max, 2);
  EXPECT_EQ(m->kind, PluginKind::kExec);
  EXPECT_EQ(m->entry, (std::vector<std::string>{"python3", "run.py"}));
  ASSERT_EQ(m->capabilities.size(), 2u);
  const CapabilitySpec& g = m->capabilities[0];
  EXPECT_EQ(g.id, "demo.generate");
  EXPECT_EQ(g.primitive, domain::Primitive::kGenerator);
  EXPECT_FALSE(g.deterministic);
  EXPECT_TRUE(g.network);
  EXPECT_EQ(g.writes, (std::vector<std::string>{"assets/asset"}));
  EXPECT_EQ(g.labels.at("gpu"), "yes");
  EXPECT_EQ(g.limits.timeout_seconds, 5);
  EXPECT_EQ(g.limits.memory_mb, 64);
  EXPECT_EQ(g.limits.cpu_seconds, 3);
  EXPECT_EQ(g.limits.open_files, 32);
  EXPECT_EQ(g.limits.processes, 8);
  ASSERT_TRUE(g.trust.has_value());
  EXPECT_EQ(g.trust->runs, 3);
  EXPECT_EQ(g.trust->agree, 2);
  // x-bver-pointer is expanded as in bver.yaml.
  EXPECT_EQ((*g.input_schema)["properties"]["site"]["type"], "string");
  EXPECT_TRUE((*g.input_schema)["properties"]["site"].contains("pattern"));
  ASSERT_NE(g.output_schema, nullptr);
  const CapabilitySpec& c = m->capabilities[1];
  EXPECT_TRUE(c.deterministic);
  EXPECT_FALSE(c.network);
  EXPECT_EQ(c.output_schema, nullptr);  // the standard contract applies
  EXPECT_EQ((*c.input_schema)["type"], "object");
  EXPECT_EQ(c.limits.timeout_seconds, Limits().timeout_seconds);
  EXPECT_FALSE(c.trust.has_value());
  EXPECT_EQ(m->scopes, (std::vector<std::string>{"assets.asset:write"}));
  EXPECT_EQ(m->owns_namespaces, (std::vector<std::string>{"demo"}));
  EXPECT_EQ(m->owns_kinds, (std::vector<std::string>{"demo.widget"}));
  EXPECT_EQ(m->FindCapability("demo.check"), &m->capabilities[1]);
  EXPECT_EQ(m->FindCapability("nope"), nullptr);
}

TEST(Manifest, ReportsEveryProblemWithItsLocation) {
  Result<Manifest> m = Parse(R"(plugin_id: Bad_Id
version: one
runtime_api_min: 3
runtime_api_max: 2
kind: wasm
entry: [../escape.sh]
colour: blue
capabilities:
  - id: a.b
    type: transformer
    version: 1.0
    input: { type: array }
    writes: [assets]
    limits: { timeout_seconds: 0, swap: 1 }
    trust: { runs: 2, agree: 3 }
  - id: a.b
    type: validator
    version: 1.0.0
    input: { type: object, properties: { x: { minLenght: 3 } } }
    writes: [assets/asset]
    labels: { os: 1 }
)");
  ASSERT_FALSE(m.ok());
  const Status& s = m.status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("bver_plugin.yaml:"));
  std::string all;
  for (const std::string& p : Problems(s)) all += p + "\n";
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:1:1", "must match")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:2:1", "not a semantic version")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:4:1", "below runtime_api_min")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:5:1", "unknown kind \"wasm\"")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:6:9", "without \"..\"")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:7:1", "unknown key \"colour\"")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:10:5", "unknown primitive \"transformer\"")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:11:5", "quote it")) << all;  // 1.0 is a number
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:12:14", "root type must be \"object\"")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:13:14", "is not a repo written as ns/repo")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:14:35", "unknown key \"swap\"")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:14:15", "from 1 to")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:15:23", "cannot exceed runs")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:16:5", "declared twice")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:19:47", "minLenght")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:20:5", "only generators, interpreters and simulators write")) << all;
  EXPECT_TRUE(Has(s, "bver_plugin.yaml:21:15", "a label's required value is a string")) << all;
}

TEST(Manifest, MissingKeys) {
  Result<Manifest> m = Parse("version: 1.0.0\n");
  ASSERT_FALSE(m.ok());
  std::string all;
  for (const std::string& p : Problems(m.status())) all += p + "\n";
  for (const char* key : {"plugin_id", "runtime_api_min", "runtime_api_max", "kind", "entry", "capabilities"}) {
    EXPECT_THAT(all, HasSubstr(std::string("missing required key \"") + key + "\"")) << all;
  }
  Result<Manifest> cap = Parse(R"(plugin_id: p
version: 1.0.0
runtime_api_min: 1
runtime_api_max: 1
kind: native
entry: [a.so, b.so]
capabilities: [{ trust: { runs: 4 } }]
)");
  ASSERT_FALSE(cap.ok());
  all.clear();
  for (const std::string& p : Problems(cap.status())) all += p + "\n";
  for (const char* key : {"id", "type", "version", "input", "agree"}) {
    EXPECT_THAT(all, HasSubstr(std::string("missing required key \"") + key + "\"")) << all;
  }
  EXPECT_THAT(all, HasSubstr("a native plugin's entry is one path")) << all;
  EXPECT_FALSE(Parse("[1, 2]").ok());
  EXPECT_THAT(Parse("plugin_id: [unclosed").status().ToString(), HasSubstr("bver_plugin.yaml:"));
}

TEST(Manifest, NativeEntryMustBeASharedObject) {
  Result<Manifest> m = Parse(R"(plugin_id: p
version: 1.0.0
runtime_api_min: 1
runtime_api_max: 1
kind: native
entry: plugin.dll
capabilities: [{ id: a.b, type: evaluator, version: 1.0.0, input: {} }]
)");
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(Has(m.status(), "bver_plugin.yaml:6:1", "must be a .so path")) << m.status().ToString();
}

TEST(Manifest, LoadFromAFolder) {
  fs::path dir = fs::temp_directory_path() / ("bver-manifest-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  EXPECT_EQ(LoadManifest((dir / "missing").string()).status().code(), StatusCode::kNotFound);
  Result<Manifest> none = LoadManifest(dir.string());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("no bver_plugin.yaml"));

  std::string text = kFull;
  text.replace(text.find("[python3, run.py]"), 17, "[./run.sh]");
  std::ofstream(dir / "bver_plugin.yaml") << text;
  Result<Manifest> no_entry = LoadManifest(dir.string());
  EXPECT_EQ(no_entry.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(no_entry.status().message(), HasSubstr("entry \"./run.sh\" is not a file"));

  std::ofstream(dir / "run.sh") << "#!/bin/sh\n";
  Result<Manifest> m = LoadManifest(dir.string());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->folder, fs::canonical(dir).string());
  EXPECT_EQ(m->digest.rfind("sha256:", 0), 0u);
  EXPECT_EQ(m->digest.size(), 7u + 64u);
  fs::remove_all(dir);
}

TEST(Semver, Parses) {
  auto v = ParseSemver("1.22.3-rc.1+b5");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->major, 1);
  EXPECT_EQ(v->minor, 22);
  EXPECT_EQ(v->patch, 3);
  EXPECT_FALSE(ParseSemver("1.2").has_value());
  EXPECT_FALSE(ParseSemver("01.2.3").has_value());
}

}  // namespace
}  // namespace bver::plugin
