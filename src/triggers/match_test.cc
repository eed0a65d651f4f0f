// Pattern matching and input rendering of triggers (match.h): a table of
// events against patterns, one field at a time, and the changed-path rule.
#include "src/triggers/match.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bver/pointer.h"

namespace bver::triggers {
namespace {

using nlohmann::json;

json RefEvent(const std::string& type, const std::string& pointer, const std::string& kind, json diff,
              std::uint64_t version = 2) {
  return {{"event_id", "0193aaaa-0000-7000-8000-000000000001"},
          {"event_type", type},
          {"channel", "traffic"},
          {"object_pointer", pointer},
          {"payload", {{"version", version}, {"kind", kind}, {"diff", std::move(diff)}, {"actor", "t"}}},
          {"correlation_id", "c1"},
          {"causation_id", ""},
          {"offset", 7}};
}

domain::EventPattern P(std::string channel, std::string type, std::string repo, std::string kind,
                       std::string changed) {
  domain::EventPattern p;
  p.channel = std::move(channel);
  p.event_type = std::move(type);
  p.repo = std::move(repo);
  p.kind = std::move(kind);
  p.changed = std::move(changed);
  return p;
}

TEST(MatchTest, IgnoreChangesSkipsUpdatesThatOnlyTouchThosePaths) {
  domain::EventPattern p = P("", "", "sites/site", "", "");
  p.ignore_changes = {"meta.studied", "notes"};
  auto patched = [](json diff) { return RefEvent("ref.patched", "bver://sites/site/s1~2", "power.substation", diff); };
  // Only under ignored paths: no match.
  EXPECT_FALSE(Matches(p, patched(json::array({{{"op", "add"}, {"path", "/meta/studied"}, {"value", 1}}}))));
  EXPECT_FALSE(Matches(p, patched(json::array({{{"op", "replace"}, {"path", "/meta/studied/at"}, {"value", 2}},
                                               {{"op", "remove"}, {"path", "/notes"}}}))));
  // Anything else beside them, a sibling, or a change over them: a match.
  EXPECT_TRUE(Matches(p, patched(json::array({{{"op", "add"}, {"path", "/meta/studied"}, {"value", 1}},
                                              {{"op", "replace"}, {"path", "/status"}, {"value", "x"}}}))));
  EXPECT_TRUE(Matches(p, patched(json::array({{{"op", "add"}, {"path", "/meta/studied_by"}, {"value", 1}}}))));
  EXPECT_TRUE(Matches(p, patched(json::array({{{"op", "replace"}, {"path", "/meta"}, {"value", json::object()}}}))));
  // A move out of an ignored path into another is not only under them.
  EXPECT_TRUE(Matches(p, patched(json::array({{{"op", "move"}, {"from", "/notes"}, {"path", "/status"}}}))));
  // Creations and deletions always match.
  EXPECT_TRUE(Matches(p, RefEvent("ref.created", "bver://sites/site/s1~1", "power.substation", json::array())));
  EXPECT_TRUE(Matches(p, RefEvent("ref.deleted", "bver://sites/site/s1~3", "power.substation", json::array())));
}

TEST(MatchTest, EachFieldAndEmptyMeansAny) {
  json patched = RefEvent("ref.patched", "bver://sites/site/s1~2", "power.substation",
                          json::array({{{"op", "replace"}, {"path", "/status"}, {"value", "ready"}}}));
  struct Row {
    domain::EventPattern p;
    bool want;
  };
  std::vector<Row> rows = {
      {P("", "", "", "", ""), true},
      {P("traffic", "", "", "", ""), true},
      {P("control", "", "", "", ""), false},
      {P("", "ref.patched", "", "", ""), true},
      {P("", "ref.created", "", "", ""), false},
      {P("", "", "sites/site", "", ""), true},
      {P("", "", "site", "", ""), true},  // a bare repo name: any namespace
      {P("", "", "assets/asset", "", ""), false},
      {P("", "", "other/site", "", ""), false},
      {P("", "", "sites/site", "power.substation", ""), true},
      {P("", "", "sites/site", "telecom.node", ""), false},
      {P("", "", "", "", "status"), true},
      {P("", "", "", "", "name"), false},
      {P("traffic", "ref.patched", "sites/site", "power.substation", "status"), true},
      {P("traffic", "ref.patched", "sites/site", "power.substation", "name"), false},
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(Matches(rows[i].p, patched), rows[i].want) << "row " << i;
  }
  // A control event has no repo, kind or diff: patterns needing them never match it.
  json control = {{"event_id", "x"}, {"event_type", "job.succeeded"}, {"channel", "control"},
                  {"object_pointer", "job:0193"}, {"payload", {{"job", "note"}}}};
  EXPECT_TRUE(Matches(P("control", "job.succeeded", "", "", ""), control));
  EXPECT_FALSE(Matches(P("control", "", "sites/site", "", ""), control));
  EXPECT_FALSE(Matches(P("control", "", "", "power.substation", ""), control));
  EXPECT_FALSE(Matches(P("control", "", "", "", "status"), control));
  EXPECT_FALSE(Matches(P("", "", "", "", ""), json("not an object")));
}

TEST(MatchTest, ChangedPathUnderOverAndMove) {
  auto diff = [](json ops) { return ops; };
  // Equal, under (a change inside it) and over (it was replaced as part of a larger value).
  EXPECT_TRUE(PathTouched("meta.owner", diff(json::array({{{"op", "add"}, {"path", "/meta/owner"}, {"value", 1}}}))));
  EXPECT_TRUE(
      PathTouched("meta.owner", diff(json::array({{{"op", "replace"}, {"path", "/meta/owner/name"}, {"value", 1}}}))));
  EXPECT_TRUE(PathTouched("meta.owner", diff(json::array({{{"op", "remove"}, {"path", "/meta"}}}))));
  EXPECT_TRUE(PathTouched("meta.owner", diff(json::array({{{"op", "replace"}, {"path", ""}, {"value", {}}}}))));
  // Siblings and prefixes of a key's name are not the key.
  EXPECT_FALSE(PathTouched("meta.owner", diff(json::array({{{"op", "add"}, {"path", "/meta/owners"}, {"value", 1}}}))));
  EXPECT_FALSE(PathTouched("meta.owner", diff(json::array({{{"op", "add"}, {"path", "/meta/x"}, {"value", 1}}}))));
  EXPECT_FALSE(PathTouched("status", diff(json::array())));
  // Array indexes, escaped keys, move's source.
  EXPECT_TRUE(PathTouched("levels[1]", diff(json::array({{{"op", "replace"}, {"path", "/levels/1"}, {"value", 2}}}))));
  EXPECT_FALSE(PathTouched("levels[1]", diff(json::array({{{"op", "replace"}, {"path", "/levels/0"}, {"value", 2}}}))));
  EXPECT_TRUE(PathTouched(bver::AttributePath().Key("meta").Key("a/b").ToString(), diff(json::array({{{"op", "add"}, {"path", "/meta/a~1b"}, {"value", 1}}}))));
  EXPECT_TRUE(PathTouched("status", diff(json::array({{{"op", "move"}, {"from", "/status"}, {"path", "/old"}}}))));
  EXPECT_FALSE(PathTouched("status", diff(json::array({{{"op", "copy"}, {"from", "/status"}, {"path", "/old"}}}))));
  // A path that does not parse never matches.
  EXPECT_FALSE(PathTouched("a..b", diff(json::array({{{"op", "remove"}, {"path", ""}}}))));
  // ref.created (empty diff) changed every path.
  json created = RefEvent("ref.created", "bver://sites/site/s1~1", "power.substation", json::array(), 1);
  EXPECT_TRUE(Matches(P("", "", "", "", "status"), created));
}

TEST(MatchTest, RenderKeepsTypesAndStringifiesInText) {
  json ev = RefEvent("ref.patched", "bver://sites/site/s1~2", "power.substation", json::array());
  Result<json> r = RenderInput({{"site", "${event.object}"},
                                {"pinned", "${event.object_pointer}"},
                                {"version", "${event.payload.version}"},
                                {"label", "v${event.payload.version} of ${event.object}"},
                                {"nested", {{"list", {"${event.channel}", 3, true}}}},
                                {"all", "${event.payload}"},
                                {"plain", "no reference"}},
                               ev);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["site"], "bver://sites/site/s1");
  EXPECT_EQ((*r)["pinned"], "bver://sites/site/s1~2");
  EXPECT_EQ((*r)["version"], 2);
  EXPECT_EQ((*r)["label"], "v2 of bver://sites/site/s1");
  EXPECT_EQ((*r)["nested"]["list"], json::array({"traffic", 3, true}));
  EXPECT_EQ((*r)["all"]["kind"], "power.substation");
  EXPECT_EQ((*r)["plain"], "no reference");
  EXPECT_EQ(ObjectOf(ev), "bver://sites/site/s1");
  EXPECT_EQ(RepoOf(ev), "sites/site");
}

TEST(MatchTest, RenderNamesEveryBadReference) {
  json ev = RefEvent("ref.patched", "bver://sites/site/s1~2", "k", json::array());
  Result<json> r = RenderInput({{"a", "${event.payload.nope}"}, {"b", json::array({"x", "${input.site}"})}, {"c", "${event.x"}}, ev);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(r.status().violations().size(), 3u) << r.status().ToString();
  EXPECT_EQ(r.status().violations()[0].path, "a");
  EXPECT_EQ(r.status().violations()[0].rule, "trigger.input");
  EXPECT_EQ(r.status().violations()[1].path, "b[1]");
  EXPECT_EQ(r.status().violations()[2].path, "c");
}

}  // namespace
}  // namespace bver::triggers
