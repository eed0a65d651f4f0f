// Figments: reusable fragments of a domain, expanded by the compiler,
// recorded in the manifest and seen by the migration planner.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/domain/compile_for_test.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/domain/migration.h"
#include "src/schema/validator.h"

namespace bver::domain {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

using testing::AllErrors;
using testing::CompileText;

// One figment, `audited`, used by three repos (one of them through a kind)
// and a capability. `figment` is the body of its declaration.
std::string Domain(const std::string& version, const std::string& figment, const std::string& use = "audited@1") {
  return "bver: 1\n"
         "platform: { id: demo, version: " + version + " }\n"
         "figments:\n"
         "  audited:\n" + figment +
         "namespaces:\n"
         "  org:\n"
         "    repos:\n"
         "      person:\n"
         "        use: [" + use + "]\n"
         "        schema: { properties: { name: { type: string } } }\n"
         "      team:\n"
         "        use: [audited]\n"
         "        schema: { properties: { title: { type: string } } }\n"
         "      site:\n"
         "        schema: { properties: { code: { type: string } } }\n"
         "        kinds:\n"
         "          depot:\n"
         "            use: [audited@" + (version == "1.0.0" ? std::string("1.0.0") : std::string("1")) + "]\n"
         "capabilities:\n"
         "  org.review:\n"
         "    type: validator\n"
         "    version: 1.0.0\n"
         "    plugin: org-plugin\n"
         "    use: [audited]\n"
         "jobs:\n"
         "  review: { capability: org.review }\n";
}

const char* kAuditedV1 =
    "    version: 1.0.0\n"
    "    description: who answers for a record\n"
    "    schema:\n"
    "      properties:\n"
    "        owner: { type: string }\n"
    "        reviewed: { type: boolean }\n"
    "      required: [owner]\n"
    "    rules:\n"
    "      owner_named:\n"
    "        description: an owner is a non-empty name\n"
    "        schema: { properties: { owner: { minLength: 1 } } }\n"
    "    triggers:\n"
    "      review_on_owner_change:\n"
    "        on: { event_type: ref.updated, changed: owner }\n"
    "        start: jobs.review.start\n"
    "        input: { repo: \"${use.repo}\", kind: \"${use.kind}\" }\n";

// v1.1.0: `owner` renamed to `steward`, a required `tier` with a default.
const char* kAuditedV11 =
    "    version: 1.1.0\n"
    "    description: who answers for a record\n"
    "    schema:\n"
    "      properties:\n"
    "        steward: { type: string, x-bver-renamed-from: owner }\n"
    "        reviewed: { type: boolean }\n"
    "        tier: { type: string, enum: [gold, silver], default: silver }\n"
    "      required: [steward, tier]\n"
    "    rules:\n"
    "      owner_named:\n"
    "        description: a steward is a non-empty name\n"
    "        schema: { properties: { steward: { minLength: 1 } } }\n"
    "    triggers:\n"
    "      review_on_owner_change:\n"
    "        on: { event_type: ref.updated, changed: steward }\n"
    "        start: jobs.review.start\n"
    "        input: { repo: \"${use.repo}\", kind: \"${use.kind}\" }\n";

TEST(FigmentTest, ExpandedIntoEveryUser) {
  Result<Platform> p = CompileText(Domain("1.0.0", kAuditedV1));
  ASSERT_TRUE(p.ok()) << AllErrors(p.status());
  for (const char* name : {"org/person", "org/team"}) {
    const Repo* r = p->FindRepo(name);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ((*r->schema)["properties"]["owner"], json({{"type", "string"}})) << name;
    EXPECT_THAT((*r->schema)["required"].dump(), HasSubstr("owner")) << name;
    EXPECT_EQ(r->figments, std::vector<std::string>{"audited@1.0.0"}) << name;
    // The rule is part of the schema: an empty owner is refused, with the rule named.
    EXPECT_TRUE(r->validator->IsValid(json{{"owner", "ann"}})) << name;
    EXPECT_FALSE(r->validator->IsValid(json{{"owner", ""}})) << name;
    EXPECT_FALSE(r->validator->IsValid(json::object())) << name;
  }
  // The site repo itself does not use it; its kind does.
  const Repo* site = p->FindRepo("org/site");
  EXPECT_FALSE((*site->schema)["properties"].contains("owner"));
  EXPECT_TRUE(site->validator->IsValid(json{{"code", "S1"}}));
  const Kind* depot = site->FindKind("depot");
  ASSERT_NE(depot, nullptr);
  EXPECT_EQ(depot->figments, std::vector<std::string>{"audited@1.0.0"});
  EXPECT_FALSE(depot->validator->IsValid(json{{"code", "S1"}}));
  EXPECT_TRUE(depot->validator->IsValid(json{{"code", "S1"}, {"owner", "ann"}}));
  // A capability takes the fragment into its input contract.
  const Capability* cap = p->FindCapability("org.review");
  EXPECT_EQ(cap->figments, std::vector<std::string>{"audited@1.0.0"});
  EXPECT_TRUE((*cap->input_schema)["properties"].contains("owner"));

  ASSERT_EQ(p->figments.size(), 1u);
  EXPECT_EQ(p->figments[0].used_by,
            (std::vector<std::string>{"org/person", "org/site#depot", "org/team", "capability:org.review"}));
  json m = ToManifest(*p);
  EXPECT_EQ(m["figments"][0]["id"], "audited");
  EXPECT_EQ(m["figments"][0]["version"], "1.0.0");
  EXPECT_EQ(m["repos"][0]["figments"], json::array({"audited@1.0.0"}));
}

TEST(FigmentTest, TriggersInstantiatedPerUser) {
  Result<Platform> p = CompileText(Domain("1.0.0", kAuditedV1));
  ASSERT_TRUE(p.ok()) << AllErrors(p.status());
  std::map<std::string, const Trigger*> by_name;
  for (const Trigger& t : p->triggers) by_name[t.name] = &t;
  ASSERT_EQ(by_name.size(), 3u);
  const Trigger* person = by_name["review_on_owner_change_person"];
  ASSERT_NE(person, nullptr);
  EXPECT_EQ(person->on.repo, "org/person");
  EXPECT_EQ(person->on.kind, "");
  EXPECT_EQ(person->on.changed, "owner");
  EXPECT_EQ((*person->input)["repo"], "org/person");
  EXPECT_EQ(person->figment, "audited@1.0.0");
  const Trigger* depot = by_name["review_on_owner_change_site_depot"];
  ASSERT_NE(depot, nullptr);
  EXPECT_EQ(depot->on.repo, "org/site");
  EXPECT_EQ(depot->on.kind, "depot");
  EXPECT_EQ((*depot->input)["kind"], "depot");
  json m = ToManifest(*p);
  EXPECT_EQ(m["triggers"][0]["figment"], "audited@1.0.0");
}

TEST(FigmentTest, OrchestratorTemplatesNameTheirRepo) {
  std::string fig = std::string(kAuditedV1) +
                    "    orchestrators:\n"
                    "      stamp:\n"
                    "        input: { properties: { id: { type: string } } }\n"
                    "        steps:\n"
                    "          - { id: mark, op: \"refs.${use.name}.patch\", input: { id: \"${input.id}\" } }\n";
  Result<Platform> p = CompileText(Domain("1.0.0", fig));
  ASSERT_TRUE(p.ok()) << AllErrors(p.status());
  std::vector<std::string> names;
  for (const Orchestrator& o : p->orchestrators) {
    names.push_back(o.name + " " + o.steps[0].op + " " + o.figment);
  }
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("stamp_person refs.person.patch audited@1.0.0",
                                                     "stamp_team refs.team.patch audited@1.0.0",
                                                     "stamp_site_depot refs.site.patch audited@1.0.0"));
  EXPECT_NE(p->FindOperation("orch.stamp_team.start"), nullptr);
}

TEST(FigmentTest, BadUsesAreNamed) {
  // A version the figment is not at.
  Result<Platform> p = CompileText(Domain("1.0.0", kAuditedV1, "audited@2"));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("\"audited@2\" asks for version 2, but figment audited is declared at 1.0.0"));
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("test.yaml:"));
  // An unknown figment, a figment used twice.
  p = CompileText(Domain("1.0.0", kAuditedV1, "audited, nope"));
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("no figment \"nope\" is declared"));
  p = CompileText(Domain("1.0.0", kAuditedV1, "audited, audited@1"));
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("figment audited is used twice here"));
  // "1" is a prefix of "1.0.0" on a component boundary; "1.0.00" and "10" are not.
  EXPECT_TRUE(CompileText(Domain("1.0.0", kAuditedV1, "audited@1.0")).ok());
  EXPECT_FALSE(CompileText(Domain("1.0.0", kAuditedV1, "audited@1.0.00")).ok());
}

TEST(FigmentTest, ConflictsAndUnusedFigmentsAreErrors) {
  // The repo declares `owner` differently from the figment.
  std::string text = Domain("1.0.0", kAuditedV1);
  std::string conflicting = text;
  conflicting.replace(conflicting.find("name: { type: string }"), 22, "owner: { type: integer }");
  Result<Platform> p = CompileText(conflicting);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("figment audited redefines property \"owner\""));
  // A declared figment no one uses.
  std::string unused = text;
  unused.replace(unused.find("figments:\n"), 10,
                 "figments:\n  spare:\n    version: 1.0.0\n    schema: { properties: { x: { type: string } } }\n");
  p = CompileText(unused);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("figment spare is declared but no repo, kind or capability uses it"));
  // Two instances with one name: a declared trigger clashes with a figment's.
  std::string clash = text + "triggers:\n  review_on_owner_change_team:\n    on: { repo: org/team }\n    start: jobs.review.start\n";
  p = CompileText(clash);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(AllErrors(p.status()), HasSubstr("is declared twice (once by figment audited@1.0.0)"));
}

TEST(FigmentTest, DomainWithoutFigmentsKeepsItsManifestShape) {
  Result<Platform> p = CompileText(
      "bver: 1\nplatform: { id: demo, version: 1.0.0 }\n"
      "namespaces: { org: { repos: { person: { schema: { properties: { name: { type: string } } } } } } }\n");
  ASSERT_TRUE(p.ok()) << AllErrors(p.status());
  json m = ToManifest(*p);
  EXPECT_FALSE(m.contains("figments"));
  EXPECT_FALSE(m["repos"][0].contains("figments"));
}

// One figment changed once is a change to every repo that uses it.
TEST(FigmentTest, PlannerSeesAFigmentChangeInEveryUser) {
  Result<Platform> v1 = CompileText(Domain("1.0.0", kAuditedV1));
  Result<Platform> v2 = CompileText(Domain("1.1.0", kAuditedV11));
  ASSERT_TRUE(v1.ok()) << AllErrors(v1.status());
  ASSERT_TRUE(v2.ok()) << AllErrors(v2.status());
  MigrationPlan plan = PlanMigration(ToManifest(*v1), ToManifest(*v2));
  int figment_changes = 0;
  std::set<std::string> renamed_in, defaulted_in;
  for (const Change& c : plan.changes) {
    if (c.what == "figment changed") {
      ++figment_changes;
      EXPECT_THAT(c.detail, HasSubstr("audited 1.0.0 -> 1.1.0"));
      EXPECT_THAT(c.detail, HasSubstr("used by org/person, org/site#depot, org/team, capability:org.review"));
    }
    if (c.what == "field renamed") {
      EXPECT_EQ(c.figment, "audited@1.1.0") << c.subject;
      renamed_in.insert(c.repo + (c.kind.empty() ? "" : "#" + c.kind));
    }
    if (c.what.find("default") != std::string::npos && c.path == "tier") {
      EXPECT_EQ(c.figment, "audited@1.1.0") << c.subject;
      EXPECT_TRUE(c.rewrites);
      defaulted_in.insert(c.repo + (c.kind.empty() ? "" : "#" + c.kind));
    }
  }
  EXPECT_EQ(figment_changes, 1);
  EXPECT_EQ(renamed_in, (std::set<std::string>{"org/person", "org/team", "org/site#depot"}));
  EXPECT_EQ(defaulted_in, (std::set<std::string>{"org/person", "org/team", "org/site#depot"}));
  EXPECT_TRUE(plan.Rewrites());
  json j = MigrationPlanToJson(plan);
  bool marked = false;
  for (const json& c : j["changes"]) marked = marked || c.value("figment", "") == "audited@1.1.0";
  EXPECT_TRUE(marked);
}

}  // namespace
}  // namespace bver::domain
