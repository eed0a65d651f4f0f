#include "src/plugin/contracts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace bver::plugin {
namespace {

using domain::Primitive;
using nlohmann::json;
using ::testing::HasSubstr;

Status Check(Primitive p, const json& output, std::vector<std::string> writes = {},
             std::vector<domain::JsonPtr> declared = {}) {
  auto c = OutputContract::Make("cap.x", p, declared, std::move(writes));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return (*c)->Check(output);
}

TEST(Contracts, StandardShapes) {
  EXPECT_TRUE(Check(Primitive::kValidator, json::parse(R"({"passed": true, "findings": []})")).ok());
  EXPECT_TRUE(Check(Primitive::kValidator, json::parse(R"({"passed": false, "findings": [
      {"severity": "warning", "pointer": "bver://a/b/c~1@x", "rule": "r", "message": "m"}]})")).ok());
  EXPECT_FALSE(Check(Primitive::kValidator, json::parse(R"({"passed": true})")).ok());
  EXPECT_TRUE(Check(Primitive::kInterpreter, json::parse(R"({"proposed": [{"a": 1}]})")).ok());
  EXPECT_FALSE(Check(Primitive::kInterpreter, json::parse(R"({"proposed": {}})")).ok());
  EXPECT_TRUE(Check(Primitive::kResolver, json::parse(R"({"pointers": ["bver://a/b/c"]})")).ok());
  EXPECT_FALSE(Check(Primitive::kResolver, json::parse(R"({"pointers": ["c"]})")).ok());
  EXPECT_TRUE(Check(Primitive::kSimulator, json::parse(R"({"results": {"v": 1}, "evidence": []})")).ok());
  EXPECT_FALSE(Check(Primitive::kSimulator, json::parse(R"({"evidence": []})")).ok());
  EXPECT_TRUE(Check(Primitive::kEvaluator, json::parse(R"({"metrics": {"score": 0.5}})")).ok());
  EXPECT_FALSE(Check(Primitive::kEvaluator, json::parse(R"({"metrics": 3})")).ok());
}

TEST(Contracts, GeneratorChangesets) {
  json ok = json::parse(R"({"changeset": {
      "creates": [{"repo": "assets/asset", "kind": "busbar", "id": "b1", "body": {"name": "x"}},
                  {"repo": "asset", "body": {"name": "y"}}],
      "patches": [{"pointer": "bver://assets/asset/b1", "merge": {"name": "z"}},
                  {"pointer": "bver://assets/asset/b2~3", "patch": [{"op": "remove", "path": "/meta"}]}],
      "deletes": [{"pointer": "bver://assets/asset/b3"}]}, "summary": "fine"})");
  EXPECT_TRUE(Check(Primitive::kGenerator, ok, {"assets/asset"}).ok()) << Check(Primitive::kGenerator, ok, {"assets/asset"}).ToString();

  json both = json::parse(R"({"changeset": {"patches": [{"pointer": "bver://a/b/c", "merge": {}, "patch": []}]}})");
  Status s = Check(Primitive::kGenerator, both, {"a/b"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("breaks the generator contract"));

  json extra = json::parse(R"({"changeset": {"updates": []}})");
  EXPECT_EQ(Check(Primitive::kGenerator, extra, {"a/b"}).code(), StatusCode::kInvalidArgument);

  json bad_pointer = json::parse(R"({"changeset": {"deletes": [{"pointer": "bver://A/b/c"}]}})");
  Status bp = Check(Primitive::kGenerator, bad_pointer, {"a/b"});
  EXPECT_EQ(bp.code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(bp.violations().size(), 1u);
  EXPECT_EQ(bp.violations()[0].path, "changeset.deletes[0].pointer");

  json outside = json::parse(R"({"changeset": {"deletes": [{"pointer": "bver://sites/site/s1"}],
                                               "creates": [{"repo": "site", "body": {}}]}})");
  Status denied = Check(Primitive::kGenerator, outside, {"assets/asset"});
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(), HasSubstr("changeset.creates[0] targets site"));
  ASSERT_EQ(denied.violations().size(), 2u);
  EXPECT_EQ(denied.violations()[1].path, "changeset.deletes[0]");
  EXPECT_THAT(denied.violations()[1].message, HasSubstr("targets sites/site, outside the repos capability cap.x may write (assets/asset)"));
  // A generator that declares no writes may change nothing.
  EXPECT_EQ(Check(Primitive::kGenerator, ok, {}).code(), StatusCode::kPermissionDenied);
}

TEST(Contracts, DeclaredSchemasNarrowTheStandardOne) {
  auto narrow = std::make_shared<const json>(json::parse(
      R"({"type": "object", "required": ["metrics"], "properties": {"metrics": {"required": ["score"]}}})"));
  EXPECT_TRUE(Check(Primitive::kEvaluator, json::parse(R"({"metrics": {"score": 1}})"), {}, {narrow}).ok());
  Status s = Check(Primitive::kEvaluator, json::parse(R"({"metrics": {"other": 1}})"), {}, {narrow});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  // The declared schema cannot loosen the standard one.
  auto loose = std::make_shared<const json>(json::parse(R"({"type": "object"})"));
  EXPECT_FALSE(Check(Primitive::kEvaluator, json::parse(R"({"score": 1})"), {}, {loose}).ok());
  auto broken = std::make_shared<const json>(json::parse(R"({"type": 12})"));
  auto c = OutputContract::Make("cap.x", Primitive::kEvaluator, {broken}, {});
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("output contract of capability cap.x"));
}

TEST(Contracts, StandardSchemasAreShared) {
  EXPECT_EQ(StandardOutputSchema(Primitive::kValidator), StandardOutputSchema(Primitive::kValidator));
  EXPECT_EQ((*StandardOutputSchema(Primitive::kGenerator))["required"], json({"changeset"}));
}

}  // namespace
}  // namespace bver::plugin
