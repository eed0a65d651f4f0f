#include "src/core/json_path.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace bver::core {
namespace {

using nlohmann::json;

const json& Doc() {
  static const json* const kDoc = new json(json::parse(R"({
    "name": "North",
    "meta": {"owner": {"name": "ops"}, "tags": []},
    "terminals": [{"label": "T1"}, {"label": "T2", "ports": [[1, 2], [3]]}],
    "x y": {"": 0, "a.b": true, "\u00e9": null},
    "n": 4.5
  })"));
  return *kDoc;
}

AttributePath P(std::string_view text) {
  Result<AttributePath> p = AttributePath::Parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status().ToString();
  return p.ok() ? *p : AttributePath();
}

TEST(ResolvePathTest, EmptyPathIsTheWholeDocument) {
  Result<const json*> r = ResolvePath(Doc(), AttributePath());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, &Doc());
}

TEST(ResolvePathTest, FindsValues) {
  struct Case {
    std::string path;
    json want;
  };
  const std::vector<Case> cases = {
      {"name", "North"},
      {"meta.owner.name", "ops"},
      {"meta.tags", json::array()},
      {"terminals[0].label", "T1"},
      {"terminals[1].ports[0][1]", 2},
      {"terminals[1].ports[1][0]", 3},
      {"[\"x y\"].[\"\"]", 0},
      {"[\"x y\"].[\"a.b\"]", true},
      {"[\"x y\"].[\"\\u00e9\"]", nullptr},
      {"n", 4.5},
  };
  for (const Case& c : cases) {
    Result<const json*> r = ResolvePath(Doc(), P(c.path));
    ASSERT_TRUE(r.ok()) << c.path << ": " << r.status().ToString();
    EXPECT_EQ(**r, c.want) << c.path;
  }
}

TEST(ResolvePathTest, ReturnsPointerIntoTheDocument) {
  Result<const json*> r = ResolvePath(Doc(), P("meta.owner"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, &Doc()["meta"]["owner"]);
}

TEST(ResolvePathTest, MissingNamesFirstMissingSegment) {
  struct Case {
    std::string path;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"ownr", "no attribute \"ownr\" (the document has no key \"ownr\")"},
      {"meta.ownr", "no attribute \"meta.ownr\" (meta has no key \"ownr\")"},
      {"meta.ownr.name", "no attribute \"meta.ownr\" (meta has no key \"ownr\")"},
      {"meta.owner.nam", "no attribute \"meta.owner.nam\" (meta.owner has no key \"nam\")"},
      {"terminals[2].label", "no attribute \"terminals[2]\" (terminals has 2 elements)"},
      {"terminals[1].ports[1][1]",
       "no attribute \"terminals[1].ports[1][1]\" (terminals[1].ports[1] has 1 element)"},
      {"meta.tags[0]", "no attribute \"meta.tags[0]\" (meta.tags has 0 elements)"},
      {"terminals[18446744073709551615]",
       "no attribute \"terminals[18446744073709551615]\" (terminals has 2 elements)"},
      {"name.first", "no attribute \"name.first\" (name is a string, not an object)"},
      {"name[0]", "no attribute \"name[0]\" (name is a string, not an array)"},
      {"n.x", "no attribute \"n.x\" (n is a number, not an object)"},
      {"meta[0]", "no attribute \"meta[0]\" (meta is an object, not an array)"},
      {"terminals.label",
       "no attribute \"terminals.label\" (terminals is an array, not an object)"},
      {"[\"x y\"].[\"\\u00e9\"].z",
       "no attribute \"[\"x y\"].[\"\xC3\xA9\"].z\" ([\"x y\"].[\"\xC3\xA9\"] is null, not an "
       "object)"},
      {"[\"x y\"].[\"a.b\"][0]",
       "no attribute \"[\"x y\"].[\"a.b\"][0]\" ([\"x y\"].[\"a.b\"] is a boolean, not an array)"},
      {"meta.[\"a b\"]", "no attribute \"meta.[\"a b\"]\" (meta has no key \"a b\")"},
  };
  for (const Case& c : cases) {
    Result<const json*> r = ResolvePath(Doc(), P(c.path));
    ASSERT_FALSE(r.ok()) << c.path;
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << c.path;
    EXPECT_EQ(r.status().message(), c.message) << c.path;
  }
}

TEST(ResolvePathTest, ScalarAndArrayRoots) {
  EXPECT_EQ(ResolvePath(json(5), P("a")).status().message(),
            "no attribute \"a\" (the document is a number, not an object)");
  json arr = json::array({json::object({{"k", 1}})});
  Result<const json*> r = ResolvePath(arr, AttributePath().Index(0).Key("k"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, 1);
  EXPECT_EQ(ResolvePath(arr, AttributePath().Index(3)).status().message(),
            "no attribute \"[3]\" (the document has 1 element)");
  EXPECT_EQ(ResolvePath(json(), P("a")).status().message(),
            "no attribute \"a\" (the document is null, not an object)");
}

TEST(ResolvePathTest, KeysWithControlCharactersAndNul) {
  json doc = json::object({{std::string("a\0b", 3), json::object({{"\n", 1}})}});
  Result<const json*> r = ResolvePath(doc, AttributePath().Key(std::string("a\0b", 3)).Key("\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, 1);
  EXPECT_EQ(
      ResolvePath(doc, AttributePath().Key(std::string("a\0b", 3)).Key("\t")).status().message(),
      "no attribute \"[\"a\\u0000b\"].[\"\\t\"]\" ([\"a\\u0000b\"] has no key \"\\t\")");
}

}  // namespace
}  // namespace bver::core
