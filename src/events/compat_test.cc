#include "src/events/compat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace bver::events {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> Rules(const std::vector<Violation>& v) {
  std::vector<std::string> out;
  for (const Violation& x : v) out.push_back(x.path + " " + x.rule);
  return out;
}

json Obj(json props, json required = json::array(), bool closed = false) {
  json s = {{"type", "object"}, {"properties", std::move(props)}, {"required", std::move(required)}};
  if (closed) s["additionalProperties"] = false;
  return s;
}

TEST(CompatTest, IdenticalSchemasAreCompatibleInEveryMode) {
  json s = Obj({{"a", {{"type", "string"}, {"enum", {"x", "y"}}, {"maxLength", 3}}},
                {"n", {{"type", "array"}, {"items", {{"type", "integer"}}}, {"allOf", {{{"minItems", 1}}}}}}},
               {"a"}, true);
  for (CompatMode m : {CompatMode::kBackward, CompatMode::kForward, CompatMode::kFull, CompatMode::kNone}) {
    EXPECT_THAT(CheckCompatibility(s, s, m), IsEmpty()) << CompatModeName(m);
  }
}

TEST(CompatTest, NewRequiredPropertyBreaksBackwardNotForward) {
  json before = Obj({{"a", {{"type", "string"}}}, {"b", {{"type", "string"}}}});
  json after = Obj({{"a", {{"type", "string"}}}, {"b", {{"type", "string"}}}}, {"b"});
  EXPECT_THAT(Rules(CheckCompatibility(before, after, CompatMode::kBackward)), ElementsAre("b backward.required"));
  EXPECT_THAT(CheckCompatibility(before, after, CompatMode::kForward), IsEmpty());
  EXPECT_THAT(Rules(CheckCompatibility(before, after, CompatMode::kFull)), ElementsAre("b backward.required"));
  EXPECT_THAT(CheckCompatibility(before, after, CompatMode::kNone), IsEmpty());
  // The other way round: dropping a requirement breaks forward only.
  EXPECT_THAT(CheckCompatibility(after, before, CompatMode::kBackward), IsEmpty());
  EXPECT_THAT(Rules(CheckCompatibility(after, before, CompatMode::kForward)), ElementsAre("b forward.required"));
}

TEST(CompatTest, RemovedPropertyOfAClosedObjectBreaksBackward) {
  json before = Obj({{"a", {{"type", "string"}}}, {"b", {{"type", "string"}}}}, json::array(), true);
  json after = Obj({{"a", {{"type", "string"}}}}, json::array(), true);
  EXPECT_THAT(Rules(CheckCompatibility(before, after, CompatMode::kBackward)),
              ElementsAre("b backward.property.removed"));
  // Forward: the old schema knew b, so it accepts every new payload.
  EXPECT_THAT(CheckCompatibility(before, after, CompatMode::kForward), IsEmpty());
  // Adding a property to a closed object is the mirror image.
  EXPECT_THAT(CheckCompatibility(after, before, CompatMode::kBackward), IsEmpty());
  EXPECT_THAT(Rules(CheckCompatibility(after, before, CompatMode::kForward)),
              ElementsAre("b forward.property.removed"));
}

TEST(CompatTest, ConstrainedNewPropertyOfAnOpenObjectIsReported) {
  json before = Obj({{"a", {{"type", "string"}}}});
  json after = Obj({{"a", {{"type", "string"}}}, {"b", {{"type", "integer"}}}});
  EXPECT_THAT(Rules(CheckCompatibility(before, after, CompatMode::kBackward)),
              ElementsAre("b backward.property.added"));
  EXPECT_THAT(CheckCompatibility(before, after, CompatMode::kForward), IsEmpty());
  // An unconstrained new property accepts what the open object accepted.
  json loose = Obj({{"a", {{"type", "string"}}}, {"b", {{"description", "anything"}}}});
  EXPECT_THAT(CheckCompatibility(before, loose, CompatMode::kFull), IsEmpty());
}

TEST(CompatTest, ClosingAnOpenObjectBreaksBackward) {
  json before = Obj({{"a", {{"type", "string"}}}});
  json after = Obj({{"a", {{"type", "string"}}}}, json::array(), true);
  EXPECT_THAT(Rules(CheckCompatibility(before, after, CompatMode::kBackward)),
              ElementsAre(" backward.additionalProperties"));
  EXPECT_THAT(CheckCompatibility(before, after, CompatMode::kForward), IsEmpty());
}

TEST(CompatTest, NarrowedTypes) {
  json before = Obj({{"n", {{"type", {"number", "string"}}}}});
  json after = Obj({{"n", {{"type", "number"}}}});
  std::vector<Violation> b = CheckCompatibility(before, after, CompatMode::kBackward);
  ASSERT_THAT(Rules(b), ElementsAre("n backward.type"));
  EXPECT_THAT(b[0].message, ::testing::HasSubstr("string"));
  EXPECT_THAT(CheckCompatibility(before, after, CompatMode::kForward), IsEmpty());
  // integer is within number; number is not within integer.
  json i = Obj({{"n", {{"type", "integer"}}}});
  json n = Obj({{"n", {{"type", "number"}}}});
  EXPECT_THAT(CheckCompatibility(i, n, CompatMode::kBackward), IsEmpty());
  EXPECT_THAT(Rules(CheckCompatibility(i, n, CompatMode::kForward)), ElementsAre("n forward.type"));
  // A type where there was none narrows.
  EXPECT_THAT(Rules(CheckCompatibility(Obj({{"n", json::object()}}), i, CompatMode::kBackward)),
              ElementsAre("n backward.type"));
}

TEST(CompatTest, NarrowedEnumsAndConst) {
  json before = Obj({{"s", {{"enum", {"a", "b", "c"}}}}});
  json after = Obj({{"s", {{"enum", {"a", "b"}}}}});
  std::vector<Violation> b = CheckCompatibility(before, after, CompatMode::kBackward);
  ASSERT_THAT(Rules(b), ElementsAre("s backward.enum"));
  EXPECT_THAT(b[0].message, ::testing::HasSubstr("\"c\""));
  EXPECT_THAT(CheckCompatibility(before, after, CompatMode::kForward), IsEmpty());
  EXPECT_THAT(Rules(CheckCompatibility(before, after, CompatMode::kFull)), ElementsAre("s backward.enum"));
  json c = Obj({{"s", {{"const", "a"}}}});
  EXPECT_THAT(Rules(CheckCompatibility(after, c, CompatMode::kBackward)), ElementsAre("s backward.const"));
  EXPECT_THAT(CheckCompatibility(after, c, CompatMode::kForward), IsEmpty());
  EXPECT_THAT(Rules(CheckCompatibility(c, after, CompatMode::kForward)), ElementsAre("s forward.const"));
}

TEST(CompatTest, TightenedBoundsPatternsAndItems) {
  json before = {{"type", "object"},
                 {"properties",
                  {{"n", {{"type", "integer"}, {"minimum", 0}, {"maximum", 10}}},
                   {"s", {{"type", "string"}, {"maxLength", 5}}},
                   {"l", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};
  json after = {{"type", "object"},
                {"properties",
                 {{"n", {{"type", "integer"}, {"minimum", 1}, {"maximum", 9}}},
                  {"s", {{"type", "string"}, {"maxLength", 4}, {"pattern", "^a"}}},
                  {"l", {{"type", "array"}, {"items", {{"type", "string"}, {"minLength", 1}}}}}}}};
  EXPECT_THAT(Rules(CheckCompatibility(before, after, CompatMode::kBackward)),
              ElementsAre("l[] backward.minLength", "n backward.minimum", "n backward.maximum",
                          "s backward.maxLength", "s backward.pattern"));
  EXPECT_THAT(CheckCompatibility(before, after, CompatMode::kForward), IsEmpty());
  EXPECT_THAT(Rules(CheckCompatibility(after, before, CompatMode::kForward)),
              ElementsAre("l[] forward.minLength", "n forward.minimum", "n forward.maximum", "s forward.maxLength",
                          "s forward.pattern"));
}

TEST(CompatTest, KeywordsOutsideTheRulesAreAssumedToBreak) {
  json before = {{"type", "object"}, {"oneOf", {{{"required", {"a"}}}, {{"required", {"b"}}}}}};
  json after = {{"type", "object"}, {"oneOf", {{{"required", {"a"}}}}}};
  EXPECT_THAT(Rules(CheckCompatibility(before, after, CompatMode::kFull)),
              ElementsAre(" backward.unanalyzed", " forward.unanalyzed"));
  // Annotations never break.
  json annotated = {{"type", "object"}, {"oneOf", before["oneOf"]}, {"description", "new words"}, {"title", "T"}};
  EXPECT_THAT(CheckCompatibility(before, annotated, CompatMode::kFull), IsEmpty());
}

TEST(CompatTest, ParsesModes) {
  EXPECT_EQ(ParseCompatMode("full"), CompatMode::kFull);
  EXPECT_EQ(ParseCompatMode("none"), CompatMode::kNone);
  EXPECT_EQ(ParseCompatMode("Backward"), std::nullopt);
  EXPECT_EQ(CompatModeName(CompatMode::kForward), "forward");
}

}  // namespace
}  // namespace bver::events
