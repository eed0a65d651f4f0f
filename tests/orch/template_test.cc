// The "${...}" references of orchestrator steps (src/orch/template.h).
#include "src/orch/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bver::orch {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class TemplateTest : public ::testing::Test {
 protected:
  TemplateScope Scope(const json* item = nullptr) {
    TemplateScope s;
    s.input = &input_;
    s.steps = &steps_;
    s.item = item;
    s.run_id = "r1";
    s.correlation_id = "c1";
    return s;
  }
  json input_ = {{"site", "bver://sites/site/a"}, {"n", 3}, {"list", {"x", "y"}}, {"empty", ""}};
  json steps_ = {{"check", {{"passed", true}, {"findings", json::array()}, {"nested", {{"k", {1, 2}}}}}}};
};

TEST_F(TemplateTest, AWholeStringReferenceIsTheValueAndEmbeddedOnesAreText) {
  Result<json> v = Expand({{"site", "${input.site}"},
                           {"n", "${input.n}"},
                           {"all", "${input.list}"},
                           {"deep", "${steps.check.output.nested.k[1]}"},
                           {"text", "n=${input.n} run ${run.id}"},
                           {"plain", 7}},
                          Scope());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)["site"], "bver://sites/site/a");
  EXPECT_EQ((*v)["n"], 3);
  EXPECT_EQ((*v)["all"], json({"x", "y"}));
  EXPECT_EQ((*v)["deep"], 2);
  EXPECT_EQ((*v)["text"], "n=3 run r1");
  EXPECT_EQ((*v)["plain"], 7);
}

TEST_F(TemplateTest, ItemIsOnlyDefinedInAFanOut) {
  json item = {{"name", "b"}};
  Result<json> v = Expand(json("${item.name}"), Scope(&item));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "b");
  Result<json> none = Expand(json("${item}"), Scope());
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(), HasSubstr("for_each"));
}

TEST_F(TemplateTest, MissingAndMalformedReferencesAreErrors) {
  Result<json> missing = Expand(json("${input.nope}"), Scope());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("${input.nope}"));
  EXPECT_FALSE(Expand(json("${steps.other.output}"), Scope()).ok());  // not (yet) succeeded
  EXPECT_FALSE(Expand(json("${steps.check}"), Scope()).ok());         // not .output
  EXPECT_FALSE(Expand(json("${bogus.x}"), Scope()).ok());
  EXPECT_FALSE(Expand(json("${input.list[x]}"), Scope()).ok());
  EXPECT_FALSE(Expand(json("${input.site"), Scope()).ok());
}

TEST_F(TemplateTest, ConditionsAreTruthinessOfOneReference) {
  EXPECT_TRUE(*Condition("${steps.check.output.passed}", Scope()));
  EXPECT_FALSE(*Condition("!${steps.check.output.passed}", Scope()));
  EXPECT_FALSE(*Condition("${steps.check.output.findings}", Scope()));  // []
  EXPECT_FALSE(*Condition("${input.empty}", Scope()));
  EXPECT_FALSE(*Condition("${input.absent}", Scope()));  // missing: false
  EXPECT_TRUE(*Condition(" ${input.n} ", Scope()));
  EXPECT_FALSE(Condition("${input.n} == 3", Scope()).ok());
}

}  // namespace
}  // namespace bver::orch
