#include "src/patch/patch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace bver::patch {
namespace {

using Json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Json Parse(const char* text) { return Json::parse(text); }

// Applies `patch` to `doc` and returns the result; fails the test on error.
Json Applied(const char* doc, const char* patch) {
  Json value = Parse(doc);
  Status status = ApplyJsonPatch(value, Parse(patch));
  EXPECT_TRUE(status.ok()) << status.ToString();
  return value;
}

// Applies `patch` to `doc`, expects failure and an untouched document.
Status Failed(const char* doc, const char* patch) {
  Json value = Parse(doc);
  Status status = ApplyJsonPatch(value, Parse(patch));
  EXPECT_FALSE(status.ok()) << "patch applied: " << value.dump();
  EXPECT_EQ(value, Parse(doc)) << "a failed patch changed the document";
  return status;
}

// ------------------------------------------------------------- RFC 6901

TEST(PointerTest, EscapeAndUnescape) {
  EXPECT_EQ(EscapePointerToken("a/b~c"), "a~1b~0c");
  EXPECT_EQ(EscapePointerToken(""), "");
  EXPECT_EQ(EscapePointerToken("~1"), "~01");
  EXPECT_EQ(*UnescapePointerToken("a~1b~0c"), "a/b~c");
  // "~01" is "~" then "1", not "/": RFC 6901 section 4 unescapes ~1 first.
  EXPECT_EQ(*UnescapePointerToken("~01"), "~1");
  EXPECT_EQ(UnescapePointerToken("~2").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(UnescapePointerToken("a~").status().message(),
            "\"~\" at offset 1 must be followed by \"0\" or \"1\"");
}

TEST(PointerTest, ParseAndFormat) {
  EXPECT_THAT(*ParseJsonPointer(""), ElementsAre());
  EXPECT_THAT(*ParseJsonPointer("/"), ElementsAre(""));
  EXPECT_THAT(*ParseJsonPointer("/foo/"), ElementsAre("foo", ""));
  EXPECT_THAT(*ParseJsonPointer("/a~1b/0/m~0n"), ElementsAre("a/b", "0", "m~n"));
  EXPECT_EQ(ParseJsonPointer("a/b").status().message(),
            "a non-empty pointer must start with \"/\"");
  EXPECT_EQ(ParseJsonPointer("/ok/x~2").status().message(),
            "\"~\" at offset 5 must be followed by \"0\" or \"1\"");
  EXPECT_EQ(ParseJsonPointer("/~0~").status().message(),
            "\"~\" at offset 3 must be followed by \"0\" or \"1\"");
  for (const char* text : {"", "/", "/a~1b/0/m~0n", "//", "/~0~1"}) {
    EXPECT_EQ(FormatJsonPointer(*ParseJsonPointer(text)), text);
  }
}

// ------------------------------------------------------------- equality

TEST(JsonEqualTest, NumbersCompareByValue) {
  EXPECT_TRUE(JsonEqual(Json(1), Json(1.0)));
  EXPECT_TRUE(JsonEqual(Parse("1"), Json(1)));  // unsigned vs signed
  EXPECT_TRUE(JsonEqual(Json(-0.0), Json(0)));
  EXPECT_FALSE(JsonEqual(Json(1), Json(1.5)));
  EXPECT_FALSE(JsonEqual(Json(1), Json("1")));
  // Beyond 2^53 a double cannot hold every integer; equality stays exact.
  EXPECT_FALSE(JsonEqual(Json(std::int64_t{9007199254740993}), Json(9007199254740992.0)));
  EXPECT_TRUE(JsonEqual(Json(std::int64_t{9007199254740992}), Json(9007199254740992.0)));
  EXPECT_FALSE(JsonEqual(Json(std::int64_t{-1}), Json(std::uint64_t{18446744073709551615u})));
  EXPECT_FALSE(JsonEqual(Json(std::uint64_t{18446744073709551615u}), Json(1.8446744073709552e19)));
}

TEST(JsonEqualTest, StructuresCompareDeeply) {
  EXPECT_TRUE(JsonEqual(Parse(R"({"a":[1,{"b":2.0}],"c":null})"),
                        Parse(R"({"c":null,"a":[1.0,{"b":2}]})")));
  EXPECT_FALSE(JsonEqual(Parse(R"({"a":1})"), Parse(R"({"b":1})")));
  EXPECT_FALSE(JsonEqual(Parse(R"([1,2])"), Parse(R"([2,1])")));
  EXPECT_FALSE(JsonEqual(Parse(R"({})"), Parse(R"([])")));
  EXPECT_FALSE(JsonEqual(Parse("null"), Parse("false")));
}

// ------------------------------------------------------------- RFC 6902

TEST(JsonPatchTest, AddReplacesAnExistingMember) {
  EXPECT_EQ(Applied(R"({"a":1})", R"([{"op":"add","path":"/a","value":2}])"), Parse(R"({"a":2})"));
}

TEST(JsonPatchTest, AddAtSizeOrDashAppends) {
  EXPECT_EQ(Applied(R"([1,2])", R"([{"op":"add","path":"/2","value":3}])"), Parse("[1,2,3]"));
  EXPECT_EQ(Applied(R"([1,2])", R"([{"op":"add","path":"/-","value":3}])"), Parse("[1,2,3]"));
  EXPECT_EQ(Applied(R"([])", R"([{"op":"add","path":"/0","value":3}])"), Parse("[3]"));
}

TEST(JsonPatchTest, RootOperations) {
  EXPECT_EQ(Applied(R"("foo")", R"([{"op":"replace","path":"","value":"bar"}])"), Json("bar"));
  EXPECT_EQ(Applied(R"({"a":1})", R"([{"op":"test","path":"","value":{"a":1.0}}])"),
            Parse(R"({"a":1})"));
  EXPECT_EQ(Applied(R"({"a":1})", R"([{"op":"copy","from":"","path":"/b"}])"),
            Parse(R"({"a":1,"b":{"a":1}})"));
  EXPECT_EQ(Applied(R"({"a":1})", R"([{"op":"move","from":"","path":""}])"), Parse(R"({"a":1})"));
  Status status = Failed(R"({"a":1})", R"([{"op":"remove","path":""}])");
  EXPECT_EQ(status.message(),
            "operation 0 (remove): cannot remove the whole document (path is \"\")");
}

TEST(JsonPatchTest, MoveAndCopyOntoThemselves) {
  EXPECT_EQ(Applied(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a"}])"),
            Parse(R"({"a":{"b":1}})"));
  EXPECT_EQ(Applied(R"([1,2])", R"([{"op":"move","from":"/1","path":"/1"}])"), Parse("[1,2]"));
  EXPECT_EQ(Applied(R"({"a":1})", R"([{"op":"copy","from":"/a","path":"/a"}])"),
            Parse(R"({"a":1})"));
  // "add" into an array inserts, so a copy onto itself duplicates.
  EXPECT_EQ(Applied(R"([1,2])", R"([{"op":"copy","from":"/0","path":"/0"}])"), Parse("[1,1,2]"));
  // Moving onto itself still needs the location to exist.
  Status status = Failed(R"({})", R"([{"op":"move","from":"/a","path":"/a"}])");
  EXPECT_EQ(
      status.message(),
      "operation 0 (move): from \"/a\" does not exist: the object at the root has no member \"a\"");
}

TEST(JsonPatchTest, MoveEvaluatesPathAfterRemoval) {
  // RFC 6902 A.7.
  EXPECT_EQ(
      Applied(R"(["all","grass","cows","eat"])", R"([{"op":"move","from":"/1","path":"/3"}])"),
      Parse(R"(["all","cows","eat","grass"])"));
  // Into a sibling whose name merely starts with the same characters.
  EXPECT_EQ(Applied(R"({"a":1,"ab":{}})", R"([{"op":"move","from":"/a","path":"/ab/a"}])"),
            Parse(R"({"ab":{"a":1}})"));
}

TEST(JsonPatchTest, TestComparesNumbersByValue) {
  EXPECT_EQ(Applied(R"({"n":1})", R"([{"op":"test","path":"/n","value":1.0}])"),
            Parse(R"({"n":1})"));
  EXPECT_EQ(Applied(R"({"n":1.0})", R"([{"op":"test","path":"/n","value":1}])"),
            Parse(R"({"n":1.0})"));
  EXPECT_EQ(Applied(R"({"n":-3})", R"([{"op":"test","path":"/n","value":-3.0}])"),
            Parse(R"({"n":-3})"));
  Status status = Failed(R"({"n":9007199254740993})",
                         R"([{"op":"test","path":"/n","value":9007199254740992.0}])");
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
}

TEST(JsonPatchTest, ExtraMembersAreIgnored) {
  EXPECT_EQ(Applied(R"({})", R"([{"op":"add","path":"/a","value":1,"from":7,"x":[]}])"),
            Parse(R"({"a":1})"));
  // "remove" has no "value" or "from": a bad one there is not looked at.
  EXPECT_EQ(Applied(R"({"a":1})", R"([{"op":"remove","path":"/a","from":null}])"), Parse("{}"));
}

TEST(JsonPatchTest, EscapedKeys) {
  EXPECT_EQ(Applied(R"({"a/b":{"~":1}})", R"([{"op":"replace","path":"/a~1b/~0","value":2}])"),
            Parse(R"({"a/b":{"~":2}})"));
}

// ------------------------------------------------------------- messages

struct ErrorCase {
  const char* doc;
  const char* patch;
  StatusCode code;
  const char* message;
  const char* violation_path;
  const char* rule;
};

class JsonPatchErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(JsonPatchErrorTest, Message) {
  const ErrorCase& c = GetParam();
  Status status = Failed(c.doc, c.patch);
  EXPECT_EQ(status.code(), c.code);
  EXPECT_EQ(status.message(), c.message);
  ASSERT_EQ(status.violations().size(), 1u);
  EXPECT_EQ(status.violations()[0].path, c.violation_path);
  EXPECT_EQ(status.violations()[0].rule, c.rule);
  // The violation repeats the reason without the "operation N" lead.
  EXPECT_THAT(c.message, HasSubstr(status.violations()[0].message));
}

constexpr StatusCode kInvalid = StatusCode::kInvalidArgument;
constexpr StatusCode kFailedTest = StatusCode::kFailedPrecondition;

INSTANTIATE_TEST_SUITE_P(
    Malformed, JsonPatchErrorTest,
    ::testing::Values(
        ErrorCase{"{}", R"({"op":"add","path":"/a","value":1})", kInvalid,
                  "a JSON Patch must be an array of operations, not an object", "", "patch.syntax"},
        ErrorCase{"{}", R"([{"op":"test","path":"","value":{}}, 7])", kInvalid,
                  "operation 1: an operation must be an object, not a number", "/1",
                  "patch.syntax"},
        ErrorCase{"{}", R"([{"path":"/a","value":1}])", kInvalid,
                  "operation 0: missing \"op\" member", "/0/op", "patch.syntax"},
        ErrorCase{"{}", R"([{"op":1,"path":"/a","value":1}])", kInvalid,
                  "operation 0: \"op\" must be a string, not a number", "/0/op", "patch.syntax"},
        ErrorCase{"{}", R"([{"op":"spam","path":"/a","value":1}])", kInvalid,
                  "operation 0: unknown op \"spam\" (expected add, remove, replace, move, copy or "
                  "test)",
                  "/0/op", "patch.syntax"},
        ErrorCase{"{}", R"([{"op":"ADD","path":"/a","value":1}])", kInvalid,
                  "operation 0: unknown op \"ADD\" (expected add, remove, replace, move, copy or "
                  "test)",
                  "/0/op", "patch.syntax"},
        ErrorCase{"{}", R"([{"op":"add","value":1}])", kInvalid,
                  "operation 0 (add): missing \"path\" member", "/0/path", "patch.syntax"},
        ErrorCase{"{}", R"([{"op":"add","path":null,"value":1}])", kInvalid,
                  "operation 0 (add): \"path\" must be a string, not null", "/0/path",
                  "patch.syntax"},
        ErrorCase{"{}", R"([{"op":"add","path":"/a"}])", kInvalid,
                  "operation 0 (add): missing \"value\" member", "/0/value", "patch.syntax"},
        ErrorCase{"[1]", R"([{"op":"replace","path":"/0"}])", kInvalid,
                  "operation 0 (replace): missing \"value\" member", "/0/value", "patch.syntax"},
        ErrorCase{"[null]", R"([{"op":"test","path":"/0"}])", kInvalid,
                  "operation 0 (test): missing \"value\" member", "/0/value", "patch.syntax"},
        ErrorCase{"[1]", R"([{"op":"copy","path":"/-"}])", kInvalid,
                  "operation 0 (copy): missing \"from\" member", "/0/from", "patch.syntax"},
        ErrorCase{"[1]", R"([{"op":"move","path":"/-","from":["/0"]}])", kInvalid,
                  "operation 0 (move): \"from\" must be a string, not an array", "/0/from",
                  "patch.syntax"},
        ErrorCase{"{}", R"([{"op":"add","path":"a/b","value":1}])", kInvalid,
                  "operation 0 (add): invalid JSON pointer \"a/b\" in \"path\": a non-empty "
                  "pointer must start with \"/\"",
                  "/0/path", "pointer.syntax"},
        ErrorCase{"{}", R"([{"op":"add","path":"/~2","value":1}])", kInvalid,
                  "operation 0 (add): invalid JSON pointer \"/~2\" in \"path\": \"~\" at offset 1 "
                  "must be followed by \"0\" or \"1\"",
                  "/0/path", "pointer.syntax"},
        ErrorCase{R"({"a":1})", R"([{"op":"copy","from":"/a~","path":"/b"}])", kInvalid,
                  "operation 0 (copy): invalid JSON pointer \"/a~\" in \"from\": \"~\" at offset "
                  "2 must be followed by \"0\" or \"1\"",
                  "/0/from", "pointer.syntax"}));

INSTANTIATE_TEST_SUITE_P(
    Unresolved, JsonPatchErrorTest,
    ::testing::Values(
        ErrorCase{R"({"foo":"bar"})", R"([{"op":"remove","path":"/baz"}])", kInvalid,
                  "operation 0 (remove): path \"/baz\" does not exist: the object at the root has "
                  "no member \"baz\"",
                  "/0/path", "patch.target"},
        ErrorCase{R"({"foo":"bar"})", R"([{"op":"replace","path":"/foo/bar","value":1}])", kInvalid,
                  "operation 0 (replace): path \"/foo/bar\" does not exist: the value at "
                  "\"/foo\" is a string, not an object or array",
                  "/0/path", "patch.target"},
        ErrorCase{R"({"q":{"bar":2}})", R"([{"op":"add","path":"/a/b","value":1}])", kInvalid,
                  "operation 0 (add): cannot add at \"/a/b\": the object at the root has no "
                  "member \"a\"",
                  "/0/path", "patch.target"},
        ErrorCase{R"({"bar":[1,2]})", R"([{"op":"add","path":"/bar/8","value":5}])", kInvalid,
                  "operation 0 (add): cannot add at \"/bar/8\": index 8 is out of range for the "
                  "array at \"/bar\" (2 elements)",
                  "/0/path", "patch.target"},
        ErrorCase{R"({"bar":[1,2]})", R"([{"op":"add","path":"/bar/-1","value":5}])", kInvalid,
                  "operation 0 (add): cannot add at \"/bar/-1\": the array at \"/bar\" has no "
                  "element \"-1\" (an index is \"0\" or digits without a leading zero)",
                  "/0/path", "patch.target"},
        ErrorCase{R"(["foo","bar"])", R"([{"op":"remove","path":"/01"}])", kInvalid,
                  "operation 0 (remove): path \"/01\" does not exist: the array at the root has "
                  "no element \"01\" (leading zeros are not allowed in an index)",
                  "/0/path", "patch.target"},
        ErrorCase{R"(["foo"])", R"([{"op":"remove","path":"/-"}])", kInvalid,
                  "operation 0 (remove): path \"/-\" does not exist: \"-\" names the position "
                  "after the last element of the array at the root, which holds no value",
                  "/0/path", "patch.target"},
        ErrorCase{R"(["foo"])", R"([{"op":"replace","path":"/1","value":0}])", kInvalid,
                  "operation 0 (replace): path \"/1\" does not exist: index 1 is out of range for "
                  "the array at the root (1 element)",
                  "/0/path", "patch.target"},
        ErrorCase{R"([[]])", R"([{"op":"remove","path":"/0/0"}])", kInvalid,
                  "operation 0 (remove): path \"/0/0\" does not exist: index 0 is out of range "
                  "for the array at \"/0\" (0 elements)",
                  "/0/path", "patch.target"},
        ErrorCase{R"([1])", R"([{"op":"remove","path":"/99999999999999999999999"}])", kInvalid,
                  "operation 0 (remove): path \"/99999999999999999999999\" does not exist: index "
                  "99999999999999999999999 is out of range for the array at the root (1 element)",
                  "/0/path", "patch.target"},
        ErrorCase{R"({"foo":1})", R"([{"op":"copy","from":"/bar","path":"/foo"}])", kInvalid,
                  "operation 0 (copy): from \"/bar\" does not exist: the object at the root has "
                  "no member \"bar\"",
                  "/0/from", "patch.target"},
        ErrorCase{R"({"a":{"b":{}}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])", kInvalid,
                  "operation 0 (move): cannot move \"/a\" into its own child \"/a/b/c\"", "/0/path",
                  "patch.move"},
        ErrorCase{R"({"a":1})", R"([{"op":"move","from":"","path":"/b"}])", kInvalid,
                  "operation 0 (move): cannot move \"\" into its own child \"/b\"", "/0/path",
                  "patch.move"},
        ErrorCase{R"({"a":1})", R"([{"op":"move","from":"","path":""}, {"op":"remove","path":""}])",
                  kInvalid, "operation 1 (remove): cannot remove the whole document (path is \"\")",
                  "/1/path", "patch.target"}));

INSTANTIATE_TEST_SUITE_P(
    FailedTest, JsonPatchErrorTest,
    ::testing::Values(
        ErrorCase{R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])", kFailedTest,
                  "operation 0 (test): test failed at \"/baz\": expected \"bar\", found \"qux\"",
                  "/0", "patch.test"},
        ErrorCase{R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])",
                  kFailedTest,
                  "operation 0 (test): test failed at \"/~01\": expected \"10\", found 10", "/0",
                  "patch.test"},
        ErrorCase{R"(["foo","bar"])", R"([{"op":"test","path":"/1e0","value":"bar"}])", kFailedTest,
                  "operation 0 (test): test failed: path \"/1e0\" does not exist: the array at the "
                  "root has no element \"1e0\" (an index is \"0\" or digits without a leading "
                  "zero)",
                  "/0/path", "patch.test"},
        ErrorCase{
            R"({"a":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx)"
            R"(xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})",
            R"([{"op":"test","path":"/a","value":"y"}])", kFailedTest,
            "operation 0 (test): test failed at \"/a\": expected \"y\", found "
            "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...",
            "/0", "patch.test"}));

// ------------------------------------------------------------- atomicity

TEST(JsonPatchAtomicityTest, ThirdOperationFailing) {
  const char* doc = R"({"a":{"b":[1,2,3]},"c":"d"})";
  const std::vector<const char*> third_ops = {
      R"({"op":"remove","path":"/missing"})",
      R"({"op":"test","path":"/c","value":"e"})",
      R"({"op":"bogus","path":"/c"})",
      R"({"op":"add","path":"/a/b/9","value":0})",
      R"({"op":"move","from":"/a","path":"/a/b/0"})",
      R"("not an operation")",
  };
  for (const char* third : third_ops) {
    SCOPED_TRACE(third);
    std::string patch = std::string(R"([{"op":"add","path":"/a/b/-","value":4},)") +
                        R"({"op":"remove","path":"/c"},)" + third +
                        R"(,{"op":"add","path":"/z","value":0}])";
    Json value = Parse(doc);
    Status status = ApplyJsonPatch(value, Json::parse(patch));
    ASSERT_FALSE(status.ok());
    EXPECT_THAT(status.message(), ::testing::StartsWith("operation 2"));
    EXPECT_EQ(status.violations().at(0).path.substr(0, 2), "/2");
    EXPECT_EQ(value, Parse(doc));
  }
}

// ------------------------------------------------------------- RFC 7386

struct MergeCase {
  const char* original;
  const char* patch;
  const char* result;
};

class MergePatchTest : public ::testing::TestWithParam<MergeCase> {};

TEST_P(MergePatchTest, Rfc7386) {
  const MergeCase& c = GetParam();
  Json doc = Parse(c.original);
  ASSERT_TRUE(ApplyMergePatch(doc, Parse(c.patch)).ok());
  EXPECT_EQ(doc, Parse(c.result));
}

// RFC 7386 Appendix A, every row, then the examples of sections 1 and 3.
INSTANTIATE_TEST_SUITE_P(
    AppendixA, MergePatchTest,
    ::testing::Values(MergeCase{R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
                      MergeCase{R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
                      MergeCase{R"({"a":"b"})", R"({"a":null})", R"({})"},
                      MergeCase{R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
                      MergeCase{R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
                      MergeCase{R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
                      MergeCase{R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})",
                                R"({"a":{"b":"d"}})"},
                      MergeCase{R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
                      MergeCase{R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
                      MergeCase{R"({"a":"b"})", R"(["c"])", R"(["c"])"},
                      MergeCase{R"({"a":"foo"})", R"(null)", R"(null)"},
                      MergeCase{R"({"a":"foo"})", R"("bar")", R"("bar")"},
                      MergeCase{R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
                      MergeCase{R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
                      MergeCase{R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"}));

INSTANTIATE_TEST_SUITE_P(
    Sections, MergePatchTest,
    ::testing::Values(
        // Section 1.
        MergeCase{R"({"a":"b","c":{"d":"e","f":"g"}})", R"({"a":"z","c":{"f":null}})",
                  R"({"a":"z","c":{"d":"e"}})"},
        // Section 3.
        MergeCase{R"({"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},
                      "tags":["example","sample"],"content":"This will be unchanged"})",
                  R"({"title":"Hello!","phoneNumber":"+01-123-456-7890",
                      "author":{"familyName":null},"tags":["example"]})",
                  R"({"title":"Hello!","author":{"givenName":"John"},"tags":["example"],
                      "content":"This will be unchanged","phoneNumber":"+01-123-456-7890"})"},
        // Not in the RFC: a null member of a patch for a missing member is a no-op,
        // and a scalar document becomes an object.
        MergeCase{R"({"a":1})", R"({"b":null})", R"({"a":1})"},
        MergeCase{R"(7)", R"({"a":{"b":null,"c":[null]}})", R"({"a":{"c":[null]}})"}));

TEST(MergePatchAliasTest, PatchIsTheDocumentOrPartOfIt) {
  Json doc = Parse(R"({"a":{"a":null,"b":1},"c":2})");
  ASSERT_TRUE(ApplyMergePatch(doc, doc).ok());
  EXPECT_EQ(doc, Parse(R"({"a":{"b":1},"c":2})"));
  Json nested = Parse(R"({"x":{"x":null,"y":1}})");
  ASSERT_TRUE(ApplyMergePatch(nested, nested["x"]).ok());
  EXPECT_EQ(nested, Parse(R"({"y":1})"));
}

// ------------------------------------------------------------- Diff

TEST(DiffTest, SmallCases) {
  EXPECT_EQ(Diff(Parse(R"({"a":1})"), Parse(R"({"a":1.0})")), Json::array());
  EXPECT_EQ(Diff(Parse("1"), Parse(R"("1")")),
            Parse(R"([{"op":"replace","path":"","value":"1"}])"));
  EXPECT_EQ(Diff(Parse(R"({"c":1,"a/b":2,"d":{"x":1}})"), Parse(R"({"a/b":3,"b~":4,"d":{"x":2}})")),
            Parse(R"([{"op":"replace","path":"/a~1b","value":3},
                      {"op":"add","path":"/b~0","value":4},
                      {"op":"remove","path":"/c"},
                      {"op":"replace","path":"/d/x","value":2}])"));
  // Insertion and deletion in the middle of an array are one operation each.
  EXPECT_EQ(Diff(Parse("[1,2,3,4,5]"), Parse("[1,2,9,3,4,5]")),
            Parse(R"([{"op":"add","path":"/2","value":9}])"));
  EXPECT_EQ(Diff(Parse("[1,2,3,4,5]"), Parse("[1,2,4,5]")),
            Parse(R"([{"op":"remove","path":"/2"}])"));
  EXPECT_EQ(Diff(Parse("[1,2,3,4,5]"), Parse("[1,5]")),
            Parse(R"([{"op":"remove","path":"/3"},{"op":"remove","path":"/2"},
                      {"op":"remove","path":"/1"}])"));
  // An element changed in place is diffed inside.
  EXPECT_EQ(Diff(Parse(R"([{"a":1,"b":2},7])"), Parse(R"([{"a":1,"b":3},7])")),
            Parse(R"([{"op":"replace","path":"/0/b","value":3}])"));
}

// A seeded generator of small nested documents whose keys and values collide
// often, so that pairs share structure as real revisions do.
class RandomJson {
 public:
  explicit RandomJson(std::uint32_t seed) : rng_(seed) {}

  std::size_t Below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }

  Json Scalar() {
    switch (Below(9)) {
      case 0:
        return nullptr;
      case 1:
        return Below(2) == 0;
      case 2:
        return static_cast<std::int64_t>(Below(7)) - 3;
      case 3:
        return static_cast<std::uint64_t>(Below(3));
      case 4:
        return static_cast<double>(Below(5)) / 2;  // 0, 0.5, 1.0, ... equal to integers at times
      case 5:
        return std::int64_t{9007199254740993};
      case 6:
        return 9007199254740992.0;
      default:
        return Key();
    }
  }

  std::string Key() {
    static const char* const kKeys[] = {"a", "b", "c", "", "~", "/", "a/b", "~1", "0", "-", "é"};
    return kKeys[Below(sizeof(kKeys) / sizeof(kKeys[0]))];
  }

  Json Value(int depth) {
    if (depth <= 0 || Below(3) == 0) return Scalar();
    if (Below(2) == 0) {
      Json object = Json::object();
      for (std::size_t i = Below(5); i > 0; --i) object[Key()] = Value(depth - 1);
      return object;
    }
    Json array = Json::array();
    for (std::size_t i = Below(6); i > 0; --i) array.push_back(Value(depth - 1));
    return array;
  }

  // A revision of `v`: members and elements added, removed, changed.
  Json Mutate(const Json& v, int depth) {
    if (Below(8) == 0) return Value(depth);
    Json out = v;
    if (out.is_object()) {
      for (std::size_t i = Below(3); i > 0; --i) out.erase(Key());
      for (std::size_t i = Below(3); i > 0; --i) out[Key()] = Value(depth - 1);
      for (auto& [key, member] : out.items()) {
        if (Below(3) == 0) member = Mutate(member, depth - 1);
      }
    } else if (out.is_array()) {
      for (std::size_t i = Below(3); i > 0 && !out.empty(); --i) {
        out.erase(out.begin() + static_cast<std::ptrdiff_t>(Below(out.size())));
      }
      for (std::size_t i = Below(3); i > 0; --i) {
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(Below(out.size() + 1)),
                   Value(depth - 1));
      }
      for (Json& element : out) {
        if (Below(3) == 0) element = Mutate(element, depth - 1);
      }
    } else if (Below(2) == 0) {
      out = Scalar();
    }
    return out;
  }

 private:
  std::mt19937 rng_;
};

TEST(DiffTest, RandomRoundTrip) {
  RandomJson random(20240611);
  int non_empty = 0;
  int multi_op = 0;
  for (int i = 0; i < 2000; ++i) {
    const Json from = random.Value(5);
    const Json to = random.Below(5) == 0 ? random.Value(5) : random.Mutate(from, 5);
    SCOPED_TRACE("pair " + std::to_string(i) + ": " + from.dump() + " -> " + to.dump());
    const Json diff = Diff(from, to);
    ASSERT_EQ(diff, Diff(from, to)) << "Diff is not deterministic";
    non_empty += diff.empty() ? 0 : 1;
    multi_op += diff.size() > 1 ? 1 : 0;
    Json doc = from;
    Status status = ApplyJsonPatch(doc, diff);
    ASSERT_TRUE(status.ok()) << status.ToString() << "\ndiff: " << diff.dump();
    ASSERT_EQ(doc, to) << "diff: " << diff.dump();
    ASSERT_TRUE(JsonEqual(doc, to)) << "diff: " << diff.dump();
    ASSERT_EQ(Diff(from, from), Json::array());
    if (JsonEqual(from, to)) {
      ASSERT_EQ(diff, Json::array());
    }
    // The reverse direction as well.
    Json back = to;
    ASSERT_TRUE(ApplyJsonPatch(back, Diff(to, from)).ok());
    ASSERT_TRUE(JsonEqual(back, from));
  }
  // The generator must produce real differences, many of them compound.
  EXPECT_GT(non_empty, 1500);
  EXPECT_GT(multi_op, 500);
}

// Random operations on random documents: a patch either applies or leaves
// the document exactly as it was.
TEST(JsonPatchAtomicityTest, RandomPatchesAreAllOrNothing) {
  RandomJson random(7);
  const char* const kOps[] = {"add", "remove", "replace", "move", "copy", "test"};
  auto random_pointer = [&random](const Json& doc) {
    std::string pointer;
    const Json* cur = &doc;
    while (random.Below(3) != 0) {
      if (cur->is_object() && !cur->empty() && random.Below(4) != 0) {
        auto it = cur->begin();
        std::advance(it, static_cast<std::ptrdiff_t>(random.Below(cur->size())));
        pointer += "/" + EscapePointerToken(it.key());
        cur = &*it;
      } else if (cur->is_array() && !cur->empty() && random.Below(4) != 0) {
        std::size_t i = random.Below(cur->size());
        pointer += "/" + std::to_string(i);
        cur = &(*cur)[i];
      } else {
        pointer += "/" + EscapePointerToken(random.Key());
        break;
      }
    }
    return pointer;
  };
  int applied = 0;
  for (int i = 0; i < 2000; ++i) {
    const Json original = random.Value(4);
    Json patch = Json::array();
    for (std::size_t n = 1 + random.Below(4); n > 0; --n) {
      Json op = {{"op", kOps[random.Below(6)]}, {"path", random_pointer(original)}};
      if (random.Below(6) != 0) op["from"] = random_pointer(original);
      if (random.Below(6) != 0) op["value"] = random.Value(2);
      patch.push_back(op);
    }
    SCOPED_TRACE(original.dump() + " with " + patch.dump());
    Json doc = original;
    Status status = ApplyJsonPatch(doc, patch);
    if (status.ok()) {
      ++applied;
    } else {
      ASSERT_EQ(doc, original);
      ASSERT_EQ(status.violations().size(), 1u);
      ASSERT_THAT(status.message(), ::testing::StartsWith("operation "));
    }
  }
  // Both outcomes must be exercised for the property to mean anything.
  EXPECT_GT(applied, 100);
  EXPECT_LT(applied, 1900);
}

}  // namespace
}  // namespace bver::patch
