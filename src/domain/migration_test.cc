#include "src/domain/migration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/domain/compiler.h"
#include "src/domain/manifest.h"

namespace bver::domain {
namespace {

using nlohmann::json;

// A platform whose single repo has the given properties/required/kinds.
json ManifestOf(const std::string& properties, const std::string& extra = "") {
  std::string text =
      "bver: 1\n"
      "platform: { id: demo, version: 1.0.0 }\n"
      "namespaces:\n"
      "  things:\n"
      "    repos:\n"
      "      thing:\n"
      "        schema:\n"
      "          type: object\n"
      "          properties: " + properties + "\n" + extra;
  Result<SourceDocument> doc = ParseYaml(text, "t.yaml");
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  Result<Platform> p = Compile(*doc);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return ToManifest(*p);
}

// "class what subject" per change, for compact matching.
std::vector<std::string> Summary(const MigrationPlan& plan) {
  std::vector<std::string> out;
  for (const Change& c : plan.changes) {
    out.push_back(std::string(ChangeClassName(c.cls)) + " " + c.what + " " + c.subject);
  }
  return out;
}

TEST(MigrationTest, NoChanges) {
  json m = ManifestOf("{ name: { type: string } }");
  MigrationPlan plan = PlanMigration(m, m);
  EXPECT_TRUE(plan.changes.empty());
  EXPECT_FALSE(plan.HasDestructive());
}

TEST(MigrationTest, OptionalFieldAddedIsAdditive) {
  MigrationPlan plan = PlanMigration(ManifestOf("{ name: { type: string } }"),
                                     ManifestOf("{ name: { type: string }, size: { type: integer } }"));
  EXPECT_THAT(Summary(plan), ::testing::ElementsAre("additive field added things/thing: size"));
}

TEST(MigrationTest, FieldRemovedIsDestructiveAndNamesTheRecords) {
  MigrationPlan plan = PlanMigration(ManifestOf("{ name: { type: string }, size: { type: integer } }"),
                                     ManifestOf("{ name: { type: string } }"));
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].cls, ChangeClass::kDestructive);
  EXPECT_EQ(plan.changes[0].what, "field removed");
  ASSERT_EQ(plan.changes[0].touches.size(), 1u);
  EXPECT_EQ(plan.changes[0].touches[0].repo, "things/thing");
  EXPECT_EQ(plan.changes[0].touches[0].where, "size exists");
}

TEST(MigrationTest, TypeNarrowedAndWidened) {
  EXPECT_THAT(Summary(PlanMigration(ManifestOf("{ n: { type: number } }"),
                                    ManifestOf("{ n: { type: integer } }"))),
              ::testing::ElementsAre("destructive type narrowed things/thing: n"));
  EXPECT_THAT(Summary(PlanMigration(ManifestOf("{ n: { type: integer } }"),
                                    ManifestOf("{ n: { type: number } }"))),
              ::testing::ElementsAre("compatible type widened things/thing: n"));
  EXPECT_THAT(Summary(PlanMigration(ManifestOf("{ n: { type: [string, \"null\"] } }"),
                                    ManifestOf("{ n: { type: string } }"))),
              ::testing::ElementsAre("destructive type narrowed things/thing: n"));
  EXPECT_THAT(Summary(PlanMigration(ManifestOf("{ n: { type: string } }"),
                                    ManifestOf("{ n: { type: boolean } }"))),
              ::testing::ElementsAre("destructive type changed things/thing: n"));
}

TEST(MigrationTest, EnumValueRemovedAndAdded) {
  MigrationPlan plan = PlanMigration(ManifestOf("{ s: { enum: [draft, ready, retired] } }"),
                                     ManifestOf("{ s: { enum: [draft, ready, archived] } }"));
  EXPECT_THAT(Summary(plan), ::testing::ElementsAre("destructive enum value removed things/thing: s",
                                                    "compatible enum value added things/thing: s"));
  EXPECT_EQ(plan.changes[0].touches.at(0).where, "s in [\"retired\"]");
}

TEST(MigrationTest, RequiredFieldWithAndWithoutDefault) {
  EXPECT_THAT(Summary(PlanMigration(
                  ManifestOf("{ a: { type: string } }"),
                  ManifestOf("{ a: { type: string }, b: { type: string } }", "          required: [b]\n"))),
              ::testing::ElementsAre("destructive required field added without default things/thing: b"));
  EXPECT_THAT(Summary(PlanMigration(
                  ManifestOf("{ a: { type: string } }"),
                  ManifestOf("{ a: { type: string }, b: { type: string, default: x } }",
                             "          required: [b]\n"))),
              ::testing::ElementsAre("compatible required field added with default things/thing: b"));
  EXPECT_THAT(Summary(PlanMigration(ManifestOf("{ a: { type: string } }", "          required: [a]\n"),
                                    ManifestOf("{ a: { type: string } }"))),
              ::testing::ElementsAre("compatible field made optional things/thing: a"));
}

TEST(MigrationTest, ConstraintsTightenedAndLoosened) {
  EXPECT_THAT(Summary(PlanMigration(ManifestOf("{ a: { type: string, maxLength: 10 } }"),
                                    ManifestOf("{ a: { type: string, maxLength: 5 } }"))),
              ::testing::ElementsAre("destructive constraint tightened things/thing: a"));
  EXPECT_THAT(Summary(PlanMigration(ManifestOf("{ a: { type: number, minimum: 5 } }"),
                                    ManifestOf("{ a: { type: number, minimum: 1 } }"))),
              ::testing::ElementsAre("compatible constraint loosened things/thing: a"));
  EXPECT_THAT(Summary(PlanMigration(ManifestOf("{ a: { type: string } }"),
                                    ManifestOf("{ a: { type: string, pattern: \"^x\" } }"))),
              ::testing::ElementsAre("destructive pattern added things/thing: a"));
}

TEST(MigrationTest, NestedFieldsAndArrays) {
  MigrationPlan plan = PlanMigration(
      ManifestOf("{ meta: { type: object, properties: { owner: { type: string } } }, "
                 "tags: { type: array, items: { type: string, maxLength: 9 } } }"),
      ManifestOf("{ meta: { type: object, properties: {} }, "
                 "tags: { type: array, items: { type: string, maxLength: 3 } } }"));
  EXPECT_THAT(Summary(plan),
              ::testing::UnorderedElementsAre("destructive field removed things/thing: meta.owner",
                                              "destructive constraint tightened things/thing: tags[*]"));
}

TEST(MigrationTest, KindsAndReposAddedAndRemoved) {
  json with_kind = ManifestOf("{ a: { type: string } }",
                              "        kinds:\n          big: { schema: { properties: { w: { type: number } } } }\n");
  json without = ManifestOf("{ a: { type: string } }");
  EXPECT_THAT(Summary(PlanMigration(with_kind, without)),
              ::testing::ElementsAre("destructive kind removed things/thing#big"));
  EXPECT_THAT(Summary(PlanMigration(without, with_kind)),
              ::testing::ElementsAre("additive kind added things/thing#big"));
  json other = without;
  other["repos"][0]["name"] = "other";
  MigrationPlan plan = PlanMigration(without, other);
  EXPECT_THAT(Summary(plan), ::testing::ElementsAre("destructive repo removed things/thing",
                                                    "additive repo added things/other"));
  EXPECT_EQ(plan.changes[0].touches.at(0).where, "all");
}

TEST(MigrationTest, ClosingAdditionalPropertiesIsDestructive) {
  EXPECT_THAT(Summary(PlanMigration(
                  ManifestOf("{ a: { type: string } }"),
                  ManifestOf("{ a: { type: string } }", "          additionalProperties: false\n"))),
              ::testing::ElementsAre("destructive additional properties forbidden things/thing"));
}

TEST(MigrationTest, PlanJsonHasSummary) {
  json j = MigrationPlanToJson(PlanMigration(ManifestOf("{ a: { type: string } }"),
                                             ManifestOf("{ b: { type: string } }")));
  EXPECT_EQ(j["summary"]["destructive"], 1);
  EXPECT_EQ(j["summary"]["additive"], 1);
  EXPECT_EQ(j["changes"][0]["class"], "destructive");
}

}  // namespace
}  // namespace bver::domain
