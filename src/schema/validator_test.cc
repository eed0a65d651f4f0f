#include "src/schema/validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace bver {
void PrintTo(const Violation& v, std::ostream* os) {
  *os << "{" << v.path << " | " << v.rule << " | " << v.message << "}";
}
}  // namespace bver

namespace bver::schema {
namespace {

using Json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Json J(const char* text) { return Json::parse(text); }

std::unique_ptr<Validator> MustCompile(const Json& schema,
                                       const SchemaRegistry* registry = nullptr) {
  Result<std::unique_ptr<Validator>> v = Validator::Compile(schema, registry);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? std::move(v).value() : nullptr;
}

Status CompileError(const Json& schema, const SchemaRegistry* registry = nullptr) {
  Result<std::unique_ptr<Validator>> v = Validator::Compile(schema, registry);
  EXPECT_FALSE(v.ok());
  return v.status();
}

// Validates and checks that the fast path agrees with the full one.
Status Check(const Validator& v, const Json& instance) {
  Status s = v.Validate(instance);
  EXPECT_EQ(v.IsValid(instance), s.ok()) << instance.dump();
  return s;
}

// --- Error reports: instance paths, rules, messages -----------------------

TEST(ValidatorTest, ValidInstanceIsOk) {
  auto v = MustCompile(J(R"({"type": "object", "properties": {"name": {"type": "string"}}})"));
  EXPECT_TRUE(Check(*v, J(R"({"name": "x"})")).ok());
}

TEST(ValidatorTest, MissingRequiredPropertyIsReportedAtTheObject) {
  auto v = MustCompile(J(R"({
    "type": "object",
    "properties": {"meta": {"type": "object", "required": ["owner", "name"]}}
  })"));
  Status s = Check(*v, J(R"({"meta": {"name": "n"}})"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "instance is invalid (1 error)");
  EXPECT_THAT(s.violations(),
              ElementsAre(Violation{"meta", "required", "missing required property \"owner\""}));
}

TEST(ValidatorTest, PathsUseAttributePathSyntax) {
  auto v = MustCompile(J(R"({
    "properties": {
      "terminals": {"items": {"properties": {"label": {"type": "string"}}}},
      "weird key": {"type": "integer"}
    }
  })"));
  Status s = Check(*v, J(R"({"terminals": [{"label": "a"}, {"label": 7}], "weird key": 1.5})"));
  EXPECT_THAT(s.violations(),
              ElementsAre(Violation{"terminals[1].label", "type", "expected string, got integer"},
                          Violation{"[\"weird key\"]", "type", "expected integer, got number"}));
}

TEST(ValidatorTest, RootViolationHasEmptyPath) {
  auto v = MustCompile(J(R"({"type": ["string", "null"]})"));
  Status s = Check(*v, J("3"));
  EXPECT_THAT(s.violations(),
              ElementsAre(Violation{"", "type", "expected string or null, got integer"}));
}

TEST(ValidatorTest, EveryFailureIsReported) {
  auto v = MustCompile(J(R"({
    "type": "object",
    "required": ["id"],
    "properties": {
      "count": {"type": "integer", "maximum": 10},
      "tags": {"type": "array", "items": {"type": "string", "minLength": 2}, "uniqueItems": true}
    },
    "additionalProperties": false
  })"));
  Status s = Check(*v, J(R"({"count": 11, "tags": ["ab", "x", "ab"], "extra": true})"));
  EXPECT_EQ(s.message(), "instance is invalid (5 errors)");
  EXPECT_THAT(
      s.violations(),
      ElementsAre(
          Violation{"", "required", "missing required property \"id\""},
          Violation{"count", "maximum", "must be <= 10"},
          Violation{"extra", "additionalProperties",
                    "additional property \"extra\" is not allowed"},
          Violation{"tags", "uniqueItems", "items 0 and 2 are equal, but items must be unique"},
          Violation{"tags[1]", "minLength", "must be at least 2 characters long, got 1"}));
}

TEST(ValidatorTest, NumericMessages) {
  auto v = MustCompile(J(R"({
    "properties": {
      "a": {"minimum": 1.5}, "b": {"exclusiveMaximum": 3}, "c": {"exclusiveMinimum": 0},
      "d": {"multipleOf": 0.5}
    }
  })"));
  Status s = Check(*v, J(R"({"a": 1, "b": 3, "c": 0, "d": 0.3})"));
  EXPECT_THAT(s.violations(),
              ElementsAre(Violation{"a", "minimum", "must be >= 1.5"},
                          Violation{"b", "exclusiveMaximum", "must be < 3"},
                          Violation{"c", "exclusiveMinimum", "must be > 0"},
                          Violation{"d", "multipleOf", "must be a multiple of 0.5"}));
}

TEST(ValidatorTest, StringLengthCountsCodePoints) {
  auto v = MustCompile(J(R"({"maxLength": 5, "minLength": 5})"));
  EXPECT_TRUE(Check(*v, Json("h\xC3\xA9llo")).ok());  // 5 code points, 6 bytes
  EXPECT_TRUE(Check(*v, Json("\xF0\x9F\x90\xB2\xF0\x9F\x90\xB2xyz")).ok());
  Status s = Check(*v, Json("hello!"));
  EXPECT_THAT(s.violations(),
              ElementsAre(Violation{"", "maxLength", "must be at most 5 characters long, got 6"}));
}

TEST(ValidatorTest, ConstAndEnumUseJsonEquality) {
  auto v = MustCompile(J(R"({"properties": {"a": {"const": 1}, "b": {"enum": [[1.0], "x"]}}})"));
  EXPECT_TRUE(Check(*v, J(R"({"a": 1.0, "b": [1]})")).ok());
  Status s = Check(*v, J(R"({"a": true, "b": [true]})"));
  EXPECT_THAT(s.violations(), ElementsAre(Violation{"a", "const", "must be equal to 1"},
                                          Violation{"b", "enum", "must be one of [[1.0],\"x\"]"}));
}

TEST(ValidatorTest, CombinatorMessagesExplainTheBranches) {
  auto v = MustCompile(J(R"({
    "properties": {
      "any": {"anyOf": [{"type": "string"}, {"minimum": 10}]},
      "one": {"oneOf": [{"type": "integer"}, {"minimum": 0}]},
      "not": {"not": {"type": "null"}}
    }
  })"));
  Status s = Check(*v, J(R"({"any": 3, "one": 5, "not": null})"));
  EXPECT_THAT(
      s.violations(),
      ElementsAre(Violation{"any", "anyOf",
                            "must match at least one schema in \"anyOf\": [0] expected string, "
                            "got integer; [1] must be >= 10"},
                  Violation{"not", "not", "must not match the \"not\" schema"},
                  Violation{"one", "oneOf",
                            "must match exactly one schema in \"oneOf\", but matches [0] and "
                            "[1]"}));
}

TEST(ValidatorTest, ConditionalErrorsComeFromTheBranch) {
  auto v = MustCompile(J(R"({
    "if": {"properties": {"kind": {"const": "line"}}},
    "then": {"required": ["length"]},
    "else": {"required": ["rating"]}
  })"));
  EXPECT_THAT(Check(*v, J(R"({"kind": "line"})")).violations(),
              ElementsAre(Violation{"", "required", "missing required property \"length\""}));
  EXPECT_THAT(Check(*v, J(R"({"kind": "bay"})")).violations(),
              ElementsAre(Violation{"", "required", "missing required property \"rating\""}));
}

TEST(ValidatorTest, ArrayAndContainsMessages) {
  auto v = MustCompile(J(R"({
    "prefixItems": [{"type": "string"}],
    "items": false,
    "contains": {"type": "string"},
    "minContains": 2
  })"));
  Status s = Check(*v, J(R"(["a", 2])"));
  EXPECT_THAT(s.violations(),
              ElementsAre(Violation{"[1]", "items", "additional item 1 is not allowed"},
                          Violation{"", "minContains",
                                    "must contain at least 2 items matching the \"contains\" "
                                    "schema, found 1"}));
}

TEST(ValidatorTest, UnevaluatedPropertiesSeesThroughApplicators) {
  auto v = MustCompile(J(R"({
    "allOf": [{"properties": {"a": true}}],
    "properties": {"b": true},
    "unevaluatedProperties": false
  })"));
  EXPECT_TRUE(Check(*v, J(R"({"a": 1, "b": 2})")).ok());
  EXPECT_THAT(Check(*v, J(R"({"a": 1, "c": 2})")).violations(),
              ElementsAre(Violation{"c", "unevaluatedProperties",
                                    "unevaluated property \"c\" is not allowed"}));
}

TEST(ValidatorTest, PropertyNamesAndDependencies) {
  auto v = MustCompile(J(R"({
    "propertyNames": {"maxLength": 3},
    "dependentRequired": {"bar": ["foo"]},
    "dependentSchemas": {"baz": {"required": ["qux"]}}
  })"));
  EXPECT_THAT(
      Check(*v, J(R"({"bar": 1, "baz": 2, "toolong": 3})")).violations(),
      ElementsAre(
          Violation{"", "required", "missing required property \"qux\""},
          Violation{"", "dependentRequired",
                    "property \"foo\" is required when \"bar\" is present"},
          Violation{"toolong", "propertyNames",
                    "property name \"toolong\" is not allowed: must be at most 3 characters long, "
                    "got 7"}));
}

TEST(ValidatorTest, FalseSchemaAtTheRoot) {
  auto v = MustCompile(Json(false));
  EXPECT_THAT(
      Check(*v, J("{}")).violations(),
      ElementsAre(Violation{"", "false", "no value is allowed here (the schema is false)"}));
  EXPECT_TRUE(Check(*MustCompile(Json(true)), J("[1]")).ok());
}

TEST(ValidatorTest, PatternsAreUnanchoredAndUnicodeAware) {
  auto v = MustCompile(J(R"({"properties": {"a": {"pattern": "b+"}, "u": {"pattern": "^.{2}$"},
                                             "l": {"pattern": "^\\p{L}+$"}}})"));
  EXPECT_TRUE(Check(*v, J(R"({"a": "abbc", "u": "\u00e9\u00e8", "l": "\u00e9t\u00e9"})")).ok());
  EXPECT_THAT(Check(*v, J(R"({"a": "ac", "u": "abc", "l": "a1"})")).violations(),
              ElementsAre(Violation{"a", "pattern", "must match the pattern \"b+\""},
                          Violation{"l", "pattern", "must match the pattern \"^\\\\p{L}+$\""},
                          Violation{"u", "pattern", "must match the pattern \"^.{2}$\""}));
}

TEST(ValidatorTest, PatternEscapesFollowEcma262) {
  auto v = MustCompile(J(R"({"properties": {"c": {"pattern": "^\\cC$"},
                                             "s": {"pattern": "^a\\sb$"},
                                             "n": {"pattern": "^\\P{L}+$"}}})"));
  EXPECT_TRUE(Check(*v, J(R"({"c": "\u0003", "s": "a\u3000b", "n": "12"})")).ok());
  EXPECT_FALSE(Check(*v, J(R"({"c": "\\cC"})")).ok());
  EXPECT_FALSE(Check(*v, J(R"({"s": "a\u200bb"})")).ok());  // zero-width space is no \s
  EXPECT_FALSE(Check(*v, J(R"({"n": "1\u00e9"})")).ok());
  EXPECT_THAT(CompileError(J(R"({"pattern": "\\p{Nd}"})")).message(),
              HasSubstr("Unicode property \\p{Nd} is not supported"));
}

TEST(ValidatorTest, PatternOnHugeInputDoesNotExhaustTheStack) {
  auto v = MustCompile(J(R"({"pattern": "^(a|b)*$"})"));
  std::string big(1 << 20, 'a');
  EXPECT_TRUE(Check(*v, Json(big)).ok());
  big.back() = 'c';
  EXPECT_FALSE(v->IsValid(Json(big)));
}

TEST(ValidatorTest, UnknownKeywordsAndAnnotationsAreIgnored) {
  auto v = MustCompile(J(R"({"x-custom": {"type": 5}, "format": "email", "title": "t",
                             "contentMediaType": "application/json", "deprecated": true})"));
  EXPECT_TRUE(Check(*v, J(R"("not an email")")).ok());
}

// --- Malformed schemas ------------------------------------------------------

TEST(ValidatorTest, MalformedKeywordsNameTheSchemaLocation) {
  Status s = CompileError(J(R"({"type": 5})"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("invalid schema"));
  EXPECT_THAT(s.message(), HasSubstr("(at #/type)"));
  ASSERT_EQ(s.violations().size(), 1u);
  EXPECT_EQ(s.violations()[0].path, "type");
  EXPECT_EQ(s.violations()[0].rule, "type");

  s = CompileError(J(R"({"properties": {"a": {"minimum": "x"}}})"));
  ASSERT_EQ(s.violations().size(), 1u);
  EXPECT_EQ(s.violations()[0].path, "properties.a.minimum");
  EXPECT_EQ(s.violations()[0].message,
            "\"minimum\" must be a number, got string (at #/properties/a/minimum)");
}

TEST(ValidatorTest, EveryMalformedKeywordIsReported) {
  Status s = CompileError(J(R"({
    "type": "strin",
    "maxLength": -1,
    "minItems": 1.5,
    "multipleOf": 0,
    "required": "name",
    "pattern": "(",
    "items": [{}],
    "allOf": [],
    "properties": {"a": 3},
    "$anchor": "1bad"
  })"));
  std::vector<std::string> rules;
  for (const Violation& v : s.violations()) rules.push_back(v.rule);
  std::sort(rules.begin(), rules.end());
  EXPECT_THAT(rules, ElementsAre("$anchor", "allOf", "items", "maxLength", "minItems", "multipleOf",
                                 "pattern", "required", "schema", "type"));
  EXPECT_THAT(s.message(), HasSubstr("(and 9 more problems)"));
}

TEST(ValidatorTest, UnresolvableReferences) {
  Status s = CompileError(J(R"({"properties": {"a": {"$ref": "#/$defs/missing"}}})"));
  ASSERT_EQ(s.violations().size(), 1u);
  EXPECT_EQ(s.violations()[0].rule, "$ref");
  EXPECT_EQ(s.violations()[0].path, "properties.a.[\"$ref\"]");
  EXPECT_THAT(s.violations()[0].message, HasSubstr("cannot resolve \"$ref\" \"#/$defs/missing\""));

  s = CompileError(J(R"({"$ref": "https://example.com/nowhere.json"})"));
  EXPECT_THAT(s.message(),
              HasSubstr("no schema is known by the URI \"https://example.com/nowhere.json\""));
  s = CompileError(J(R"({"$ref": "#nope"})"));
  EXPECT_THAT(s.message(), HasSubstr("no anchor \"nope\""));
}

TEST(ValidatorTest, SchemaMustBeObjectOrBoolean) {
  Status s = CompileError(J("[1]"));
  EXPECT_THAT(s.message(), HasSubstr("a schema must be an object or a boolean, got array"));
  s = CompileError(J(R"({"not": 3})"));
  EXPECT_EQ(s.violations().at(0).path, "not");
}

TEST(ValidatorTest, BackReferencesAreRejected) {
  Status s = CompileError(J(R"({"pattern": "(a)\\1"})"));
  EXPECT_THAT(s.message(), HasSubstr("back-references are not supported"));
}

TEST(ValidatorTest, UnknownRequiredVocabularyIsRejected) {
  SchemaRegistry registry;
  ASSERT_TRUE(registry
                  .Add("https://example.com/meta", J(R"({
                    "$vocabulary": {"https://json-schema.org/draft/2020-12/vocab/core": true,
                                    "https://example.com/vocab/magic": true}
                  })"))
                  .ok());
  Status s = CompileError(J(R"({"$schema": "https://example.com/meta"})"), &registry);
  EXPECT_THAT(s.message(), HasSubstr("requires vocabulary \"https://example.com/vocab/magic\""));
}

TEST(ValidatorTest, VocabulariesLeftOutAreIgnored) {
  SchemaRegistry registry;
  ASSERT_TRUE(registry
                  .Add("https://example.com/meta", J(R"({
                    "$vocabulary": {"https://json-schema.org/draft/2020-12/vocab/core": true,
                                    "https://json-schema.org/draft/2020-12/vocab/applicator": true}
                  })"))
                  .ok());
  auto v = MustCompile(
      J(R"({"$schema": "https://example.com/meta", "properties": {"a": {"type": "string"}}})"),
      &registry);
  EXPECT_TRUE(Check(*v, J(R"({"a": 1})")).ok());  // "type" belongs to validation
}

// --- Recursion and nesting --------------------------------------------------

TEST(ValidatorTest, ReferenceCyclesTerminate) {
  auto v = MustCompile(J(R"({"$ref": "#"})"));
  Status s = Check(*v, J("1"));
  EXPECT_THAT(s.violations(),
              ElementsAre(Violation{"", "$ref",
                                    "infinite \"$ref\" loop: the schema refers back to itself "
                                    "for the same value"}));

  // Branching cycles must not take exponential time.
  v = MustCompile(J(R"({"$dynamicAnchor": "x", "required": ["a"],
                        "allOf": [{"$dynamicRef": "#x", "$ref": "#/allOf/0"}, {"$ref": "#"}]})"));
  EXPECT_FALSE(Check(*v, J("{}")).ok());

  v = MustCompile(
      J(R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}},
                        "anyOf": [{"$ref": "#/$defs/a"}, {"type": "string"}]})"));
  EXPECT_TRUE(Check(*v, Json("s")).ok());
  EXPECT_FALSE(Check(*v, Json(1)).ok());
}

Json NestedArrays(int depth) {
  Json value = Json::array();
  for (int i = 0; i < depth; ++i) value = Json::array({std::move(value)});
  return value;
}

TEST(ValidatorTest, DeepInstancesTerminate) {
  auto tree = MustCompile(J(R"({"type": "array", "items": {"$ref": "#"}})"));
  EXPECT_TRUE(Check(*tree, NestedArrays(50)).ok());
  Status s = Check(*tree, NestedArrays(100000));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.violations().back().rule, "depth");

  // Keywords that compare whole values must not recurse on the instance.
  auto unique = MustCompile(J(R"({"uniqueItems": true, "enum": [[[1]]]})"));
  Json deep = Json::array({NestedArrays(100000), NestedArrays(100000)});
  EXPECT_FALSE(Check(*unique, deep).ok());
}

TEST(ValidatorTest, DeeplyNestedSchemasAreRejected) {
  Json schema = true;
  for (int i = 0; i < 100000; ++i) schema = Json{{"not", std::move(schema)}};
  Status s = CompileError(schema);
  EXPECT_THAT(s.message(), HasSubstr("nested deeper than"));
  schema = true;
  for (int i = 0; i < 300; ++i) schema = Json{{"not", std::move(schema)}};
  EXPECT_THAT(CompileError(schema).message(), HasSubstr("schemas are nested deeper than 200"));
}

// --- References, registry, metaschema ---------------------------------------

TEST(ValidatorTest, RegistryResolvesAcrossDocuments) {
  SchemaRegistry registry;
  ASSERT_TRUE(registry
                  .Add("https://bver.dev/schemas/common.json", J(R"({
                    "$defs": {
                      "name": {"type": "string", "minLength": 1},
                      "site": {"$id": "site.json", "required": ["name"],
                               "properties": {"name": {"$ref": "common.json#/$defs/name"}}}
                    }
                  })"))
                  .ok());
  EXPECT_TRUE(registry.Contains("https://bver.dev/schemas/site.json"));
  std::unique_ptr<Validator> v;
  {
    SchemaRegistry moved = std::move(registry);
    v = MustCompile(J(R"({"$id": "https://bver.dev/schemas/x.json",
                          "properties": {"site": {"$ref": "site.json"}}})"),
                    &moved);
  }  // the registry is gone; the validator keeps what it uses
  EXPECT_TRUE(Check(*v, J(R"({"site": {"name": "A"}})")).ok());
  EXPECT_THAT(
      Check(*v, J(R"({"site": {"name": ""}})")).violations(),
      ElementsAre(Violation{"site.name", "minLength", "must be at least 1 character long, got 0"}));
}

TEST(ValidatorTest, RegistryRejectsBadEntries) {
  SchemaRegistry registry;
  EXPECT_EQ(registry.Add("relative.json", J("{}")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Add("https://x/a#frag", J("{}")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Add("https://x/a", J("3")).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.Add("https://x/a", J("{}")).ok());
  EXPECT_EQ(registry.Add("https://x/a", J("{}")).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.Add("https://x/deep", NestedArrays(5000)).code(),
            StatusCode::kInvalidArgument);
}

TEST(ValidatorTest, BuiltInMetaschemaValidatesSchemas) {
  auto v = MustCompile(J(R"({"$ref": "https://json-schema.org/draft/2020-12/schema"})"));
  EXPECT_TRUE(Check(*v, J(R"({"type": "object", "properties": {"a": {"minLength": 1}}})")).ok());
  Status s = Check(*v, J(R"({"properties": {"a": {"minLength": -1}}})"));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.violations().at(0).path, "properties.a.minLength");
}

TEST(ValidatorTest, DynamicReferencesFollowTheDynamicScope) {
  SchemaRegistry registry;
  ASSERT_TRUE(registry
                  .Add("https://bver.dev/tree", J(R"({
                    "$dynamicAnchor": "node",
                    "properties": {"children": {"items": {"$dynamicRef": "#node"}}}
                  })"))
                  .ok());
  auto v = MustCompile(J(R"({"$id": "https://bver.dev/strict-tree", "$dynamicAnchor": "node",
                             "$ref": "tree", "unevaluatedProperties": false})"),
                       &registry);
  EXPECT_TRUE(Check(*v, J(R"({"children": [{"children": []}]})")).ok());
  EXPECT_THAT(Check(*v, J(R"({"children": [{"childs": []}]})")).violations(),
              ElementsAre(Violation{"children[0].childs", "unevaluatedProperties",
                                    "unevaluated property \"childs\" is not allowed"}));
}

TEST(ValidatorTest, ConcurrentValidationIsSafe) {
  auto v = MustCompile(J(R"({
    "$defs": {"item": {"$dynamicAnchor": "item", "type": "integer"}},
    "type": "array", "items": {"$dynamicRef": "#item"}, "unevaluatedItems": false,
    "uniqueItems": true
  })"));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        Json good = Json::array({i, -1 - i, 100000 + t});
        Json bad = Json::array({i, "x", i});
        if (!v->IsValid(good) || v->IsValid(bad) || v->Validate(bad).violations().size() != 2) {
          ++mismatches;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// --- ValidateFiles ------------------------------------------------------------

class ValidateFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("bver_schema_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ValidateFilesTest, ValidAndInvalidInstances) {
  std::string schema = Write("s.json", R"({"required": ["name"]})");
  EXPECT_TRUE(ValidateFiles(schema, Write("ok.json", R"({"name": 1})")).ok());
  std::string bad = Write("bad.json", "{}");
  Status s = ValidateFiles(schema, bad);
  EXPECT_EQ(s.message(), bad + ": instance is invalid (1 error)");
  EXPECT_EQ(s.violations().size(), 1u);
}

TEST_F(ValidateFilesTest, ParseErrorsNameFileAndPosition) {
  std::string schema = Write("s.json", "{\n  \"type\": \"string\",\n  oops\n}");
  Status s = ValidateFiles(schema, Write("i.json", "1"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("cannot parse schema file \"" + schema + "\" at byte 24"));
  EXPECT_THAT(s.message(), HasSubstr("(line 3, column 3)"));
}

TEST_F(ValidateFilesTest, UnreadableAndMalformedSchemaFiles) {
  Status s = ValidateFiles((dir_ / "missing.json").string(), Write("i.json", "1"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("cannot read schema file"));
  std::string schema = Write("s.json", R"({"type": 5})");
  s = ValidateFiles(schema, Write("i2.json", "1"));
  EXPECT_THAT(s.message(), HasSubstr(schema + ": invalid schema"));
}

}  // namespace
}  // namespace bver::schema
