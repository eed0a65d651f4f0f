#include "bver/pointer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace bver {
namespace {

using ::testing::TestWithParam;
using ::testing::ValuesIn;

// ---------------------------------------------------------------------------
// Valid pointers.

TEST(PointerParseTest, MinimalPointer) {
  Result<Pointer> p = Pointer::Parse("bver://sites/site/s1");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ns(), "sites");
  EXPECT_EQ(p->repo(), "site");
  EXPECT_EQ(p->id(), "s1");
  EXPECT_EQ(p->version(), std::nullopt);
  EXPECT_TRUE(p->path().empty());
}

TEST(PointerParseTest, AllParts) {
  Result<Pointer> p = Pointer::Parse("bver://grid-2/sub_station/A.b_c-9~42@meta.owner[3].name");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ns(), "grid-2");
  EXPECT_EQ(p->repo(), "sub_station");
  EXPECT_EQ(p->id(), "A.b_c-9");
  EXPECT_EQ(p->version(), 42u);
  EXPECT_EQ(p->path(), AttributePath().Key("meta").Key("owner").Index(3).Key("name"));
}

TEST(PointerParseTest, PathWithoutVersion) {
  Result<Pointer> p = Pointer::Parse("bver://a/b/c@x");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->version(), std::nullopt);
  EXPECT_EQ(p->path(), AttributePath().Key("x"));
}

TEST(PointerParseTest, UuidV7Id) {
  Result<Pointer> p = Pointer::Parse("bver://sites/site/01890a5d-ac96-774b-bcce-b302099a8057~1");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->id(), "01890a5d-ac96-774b-bcce-b302099a8057");
}

TEST(PointerParseTest, LengthLimitsAreInclusive) {
  const std::string name63 = "a" + std::string(62, 'z');
  const std::string id128 = "0" + std::string(127, 'Z');
  Result<Pointer> p = Pointer::Parse("bver://" + name63 + "/" + name63 + "/" + id128);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ns(), name63);
  EXPECT_EQ(p->repo(), name63);
  EXPECT_EQ(p->id(), id128);
}

TEST(PointerParseTest, NameAndIdCharacterClasses) {
  EXPECT_TRUE(Pointer::Parse("bver://a0_-z/z-_9/0aZ.-_").ok());
  EXPECT_TRUE(Pointer::Parse("bver://a/b/Z").ok());
  EXPECT_TRUE(Pointer::Parse("bver://a/b/9").ok());
  EXPECT_TRUE(Pointer::Parse("bver://a/b/x..y").ok());
  EXPECT_TRUE(Pointer::Parse("bver://a/b/x-").ok());
}

TEST(PointerParseTest, VersionLimits) {
  Result<Pointer> one = Pointer::Parse("bver://a/b/c~1");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->version(), 1u);
  Result<Pointer> max = Pointer::Parse("bver://a/b/c~18446744073709551615");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->version(), UINT64_MAX);
  Result<Pointer> ten = Pointer::Parse("bver://a/b/c~10");
  ASSERT_TRUE(ten.ok());
  EXPECT_EQ(ten->version(), 10u);
}

// ---------------------------------------------------------------------------
// Valid attribute paths.

TEST(PathParseTest, Identifiers) {
  Result<AttributePath> p = AttributePath::Parse("_a.B9._");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, AttributePath().Key("_a").Key("B9").Key("_"));
}

TEST(PathParseTest, Indexes) {
  Result<AttributePath> p = AttributePath::Parse("m[0][1][18446744073709551615].x[10]");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p, AttributePath().Key("m").Index(0).Index(1).Index(UINT64_MAX).Key("x").Index(10));
}

TEST(PathParseTest, QuotedKeyStartsPathOrFollowsDot) {
  Result<AttributePath> p = AttributePath::Parse("[\"x y\"].b.[\"c.d\"][0].[\"\"]");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p, AttributePath().Key("x y").Key("b").Key("c.d").Index(0).Key(""));
}

struct EscapeCase {
  std::string quoted;  // the JSON string, with its quotes
  std::string key;     // the decoded key
};

class PathEscapeTest : public TestWithParam<EscapeCase> {};

TEST_P(PathEscapeTest, DecodesJsonString) {
  const EscapeCase& c = GetParam();
  Result<AttributePath> p = AttributePath::Parse("[" + c.quoted + "]");
  ASSERT_TRUE(p.ok()) << c.quoted << ": " << p.status().ToString();
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ(p->segments()[0].key(), c.key) << c.quoted;
}

INSTANTIATE_TEST_SUITE_P(AllEscapes, PathEscapeTest,
                         ValuesIn(std::vector<EscapeCase>{
                             {R"("\"")", "\""},
                             {R"("\\")", "\\"},
                             {R"("\/")", "/"},
                             {R"("\b")", "\b"},
                             {R"("\f")", "\f"},
                             {R"("\n")", "\n"},
                             {R"("\r")", "\r"},
                             {R"("\t")", "\t"},
                             {R"("\u0041")", "A"},
                             {R"("\u00e9")", "\xC3\xA9"},
                             {R"("\u00E9")", "\xC3\xA9"},
                             {R"("\u20AC")", "\xE2\x82\xAC"},
                             {R"("\uFFFF")", "\xEF\xBF\xBF"},
                             {R"("\u0000")", std::string(1, '\0')},
                             {R"("\u001f")", "\x1f"},
                             {R"("\uD83D\uDE00")", "\xF0\x9F\x98\x80"},  // U+1F600
                             {R"("\ud800\udc00")", "\xF0\x90\x80\x80"},  // U+10000
                             {R"("\uDBFF\uDFFF")", "\xF4\x8F\xBF\xBF"},  // U+10FFFF
                             {"\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"",
                              "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"},
                             {"\"\x7f\"", "\x7f"},
                             {R"("a]b[c.d")", "a]b[c.d"},
                             {R"("")", ""},
                         }));

// ---------------------------------------------------------------------------
// Errors: the exact column and message for every rule.

struct ErrorCase {
  std::string text;
  std::size_t column;
  std::string detail;  // what follows "malformed ... at column N: "
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << "\"" << c.text << "\""; }

void ExpectSyntaxError(const Status& s, std::string_view what, std::string_view rule,
                       const ErrorCase& c) {
  ASSERT_FALSE(s.ok()) << "accepted: " << c.text;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  const std::string column = "column " + std::to_string(c.column);
  EXPECT_EQ(s.message(), std::string(what) + " at " + column + ": " + c.detail);
  ASSERT_EQ(s.violations().size(), 1u);
  EXPECT_EQ(s.violations()[0].path, column);
  EXPECT_EQ(s.violations()[0].rule, rule);
  EXPECT_EQ(s.violations()[0].message, c.detail);
}

const std::string kName = "([a-z][a-z0-9_-]{0,62})";
const std::string kIdent =
    "expected an identifier ([A-Za-z_][A-Za-z0-9_]*) or a quoted key ([\"...\"])";
const std::string kEscape = R"(expected an escape (\" \\ \/ \b \f \n \r \t or \uXXXX))";
const std::string kAfterId =
    "expected \"~\", \"@\" or end of input, or an id character [A-Za-z0-9._-]";
const std::string kVersion = "expected a version ([1-9][0-9]*)";
const std::string kIndex = "expected an index (0 or [1-9][0-9]*)";
const std::string kEmptyPath =
    "expected an attribute path after \"@\" (an identifier [A-Za-z_][A-Za-z0-9_]* or a quoted key "
    "[\"...\"])";

class PointerErrorTest : public TestWithParam<ErrorCase> {};

TEST_P(PointerErrorTest, NamesColumnExpectedAndFound) {
  ExpectSyntaxError(Pointer::Parse(GetParam().text).status(), "malformed pointer", "pointer.syntax",
                    GetParam());
}

// Columns: "bver://" is 1-7, so the namespace starts at column 8.
INSTANTIATE_TEST_SUITE_P(Scheme, PointerErrorTest,
                         ValuesIn(std::vector<ErrorCase>{
                             {"", 1, "expected the scheme \"bver://\", found end of input"},
                             {"http://a/b/c", 1, "expected the scheme \"bver://\", found \"h\""},
                             {"BVER://a/b/c", 1, "expected the scheme \"bver://\", found \"B\""},
                             {"bver:/a/b/c", 7, "expected the scheme \"bver://\", found \"a\""},
                             {"bver:", 6, "expected the scheme \"bver://\", found end of input"},
                             {" bver://a/b/c", 1, "expected the scheme \"bver://\", found \" \""},
                             {"bver//a/b/c", 5, "expected the scheme \"bver://\", found \"/\""},
                         }));

INSTANTIATE_TEST_SUITE_P(
    Namespace, PointerErrorTest,
    ValuesIn(std::vector<ErrorCase>{
        {"bver://", 8, "expected a namespace name " + kName + ", found end of input"},
        {"bver:///b/c", 8, "expected a namespace name " + kName + ", found \"/\""},
        {"bver://Sites/b/c", 8, "expected a namespace name " + kName + ", found \"S\""},
        {"bver://1a/b/c", 8, "expected a namespace name " + kName + ", found \"1\""},
        {"bver://_a/b/c", 8, "expected a namespace name " + kName + ", found \"_\""},
        {"bver://-a/b/c", 8, "expected a namespace name " + kName + ", found \"-\""},
        {"bver://si.tes/b/c", 10,
         "expected \"/\" or a namespace character [a-z0-9_-], found \".\""},
        {"bver://siTes/b/c", 10, "expected \"/\" or a namespace character [a-z0-9_-], found \"T\""},
        {"bver://a", 9, "expected \"/\" or a namespace character [a-z0-9_-], found end of input"},
        {"bver://a b/c/d", 9, "expected \"/\" or a namespace character [a-z0-9_-], found \" \""},
        {"bver://a" + std::string(63, 'b') + "/c/d", 71,
         "expected \"/\" (a namespace name is at most 63 characters), found \"b\""},
        {"bver://\xC3\xA9/b/c", 8, "expected a namespace name " + kName + ", found \"\xC3\xA9\""},
        {"bver://\xFF/b/c", 8,
         "expected a namespace name " + kName + ", found byte 0xFF (not UTF-8)"},
        {std::string("bver://\x01/b/c"), 8,
         "expected a namespace name " + kName + ", found control character U+0001"},
    }));

INSTANTIATE_TEST_SUITE_P(
    Repo, PointerErrorTest,
    ValuesIn(std::vector<ErrorCase>{
        {"bver://a//c", 10, "expected a repo name " + kName + ", found \"/\""},
        {"bver://a/", 10, "expected a repo name " + kName + ", found end of input"},
        {"bver://a/Site/c", 10, "expected a repo name " + kName + ", found \"S\""},
        {"bver://a/9/c", 10, "expected a repo name " + kName + ", found \"9\""},
        {"bver://a/b", 11, "expected \"/\" or a repo character [a-z0-9_-], found end of input"},
        {"bver://a/b.c/d", 11, "expected \"/\" or a repo character [a-z0-9_-], found \".\""},
        {"bver://a/b~1", 11, "expected \"/\" or a repo character [a-z0-9_-], found \"~\""},
        {"bver://a/b" + std::string(63, 'c') + "/d", 73,
         "expected \"/\" (a repo name is at most 63 characters), found \"c\""},
    }));

INSTANTIATE_TEST_SUITE_P(
    Id, PointerErrorTest,
    ValuesIn(std::vector<ErrorCase>{
        {"bver://a/b/", 12,
         "expected a reference id ([A-Za-z0-9][A-Za-z0-9._-]{0,127}), found end of input"},
        {"bver://a/b/_x", 12,
         "expected a reference id ([A-Za-z0-9][A-Za-z0-9._-]{0,127}), found \"_\""},
        {"bver://a/b/.x", 12,
         "expected a reference id ([A-Za-z0-9][A-Za-z0-9._-]{0,127}), found \".\""},
        {"bver://a/b/-x", 12,
         "expected a reference id ([A-Za-z0-9][A-Za-z0-9._-]{0,127}), found \"-\""},
        {"bver://a/b/~1", 12,
         "expected a reference id ([A-Za-z0-9][A-Za-z0-9._-]{0,127}), found \"~\""},
        {"bver://a/b/c/d", 13, kAfterId + ", found \"/\""},
        {"bver://a/b/c d", 13, kAfterId + ", found \" \""},
        {"bver://a/b/c:d", 13, kAfterId + ", found \":\""},
        {"bver://a/b/c\xC3\xA9", 13, kAfterId + ", found \"\xC3\xA9\""},
        {"bver://a/b/c\n", 13, kAfterId + ", found control character U+000A"},
        {"bver://a/b/" + std::string(129, 'x'), 140,
         "expected \"~\", \"@\" or end of input (an id is at most 128 characters), found \"x\""},
    }));

INSTANTIATE_TEST_SUITE_P(
    Version, PointerErrorTest,
    ValuesIn(std::vector<ErrorCase>{
        {"bver://a/b/c~", 14, kVersion + ", found end of input"},
        {"bver://a/b/c~x", 14, kVersion + ", found \"x\""},
        {"bver://a/b/c~-1", 14, kVersion + ", found \"-\""},
        {"bver://a/b/c~@x", 14, kVersion + ", found \"@\""},
        {"bver://a/b/c~0", 14,
         kVersion + "; versions start at 1 and have no leading zeros, found \"0\""},
        {"bver://a/b/c~01", 14,
         kVersion + "; versions start at 1 and have no leading zeros, found \"01\""},
        {"bver://a/b/c~007@x", 14,
         kVersion + "; versions start at 1 and have no leading zeros, found \"007\""},
        {"bver://a/b/c~18446744073709551616", 14,
         "expected a version of at most 18446744073709551615, found \"18446744073709551616\""},
        {"bver://a/b/c~99999999999999999999999999999999", 14,
         "expected a version of at most 18446744073709551615, found "
         "\"999999999999999999999999...\""},
        {"bver://a/b/c~1x", 15, "expected \"@\" or end of input after the version, found \"x\""},
        {"bver://a/b/c~1~2", 15, "expected \"@\" or end of input after the version, found \"~\""},
        {"bver://a/b/c~1.5", 15, "expected \"@\" or end of input after the version, found \".\""},
    }));

INSTANTIATE_TEST_SUITE_P(
    PathInPointer, PointerErrorTest,
    ValuesIn(std::vector<ErrorCase>{
        {"bver://a/b/c@", 14, kEmptyPath + ", found end of input"},
        {"bver://a/b/c~2@", 16, kEmptyPath + ", found end of input"},
        {"bver://a/b/c@1a", 14, kIdent + ", found \"1\""},
        {"bver://a/b/c@a..b", 16, kIdent + ", found \".\""},
        {"bver://a/b/c@a.", 16, kIdent + ", found end of input"},
        {"bver://a/b/c@a[01]", 16, kIndex + " without leading zeros, found \"01\""},
        {"bver://a/b/c@a b", 15, "expected \".\", \"[\" or end of input, found \" \""},
        {"bver://a/b/c@a@b", 15, "expected \".\", \"[\" or end of input, found \"@\""},
        {"bver://a/b/c@a~1", 15, "expected \".\", \"[\" or end of input, found \"~\""},
        // Column counts characters: "é" is one column although it is two bytes.
        {"bver://a/b/c@[\"\xC3\xA9\\\"x\"]x", 22,
         "expected \".\", \"[\" or end of input, found \"x\""},
        {"bver://a/b/c@a.[\"\\x\"]", 18, kEscape + ", found \"\\x\""},
    }));

class PathErrorTest : public TestWithParam<ErrorCase> {};

TEST_P(PathErrorTest, NamesColumnExpectedAndFound) {
  ExpectSyntaxError(AttributePath::Parse(GetParam().text).status(), "malformed attribute path",
                    "path.syntax", GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Segments, PathErrorTest,
    ValuesIn(std::vector<ErrorCase>{
        {"", 1, kIdent + ", found end of input"},
        {"1a", 1, kIdent + ", found \"1\""},
        {"-a", 1, kIdent + ", found \"-\""},
        {".a", 1, kIdent + ", found \".\""},
        {" a", 1, kIdent + ", found \" \""},
        {"\xC3\xA9", 1, kIdent + ", found \"\xC3\xA9\""},
        {"a..b", 3, kIdent + ", found \".\""},
        {"a.", 3, kIdent + ", found end of input"},
        {"a.1", 3, kIdent + ", found \"1\""},
        {"a.b.", 5, kIdent + ", found end of input"},
        {"a[0].", 6, kIdent + ", found end of input"},
        {"a-b", 2, "expected \".\", \"[\" or end of input, found \"-\""},
        {"a b", 2, "expected \".\", \"[\" or end of input, found \" \""},
        {"a/b", 2, "expected \".\", \"[\" or end of input, found \"/\""},
        {"a]", 2, "expected \".\", \"[\" or end of input, found \"]\""},
        {"a\xC3\xA9", 2, "expected \".\", \"[\" or end of input, found \"\xC3\xA9\""},
        {"a\x80", 2, "expected \".\", \"[\" or end of input, found byte 0x80 (not UTF-8)"},
        {"a[0]b", 5, "expected \".\", \"[\" or end of input, found \"b\""},
        {"[\"a\"]b", 6, "expected \".\", \"[\" or end of input, found \"b\""},
    }));

INSTANTIATE_TEST_SUITE_P(
    Indexes, PathErrorTest,
    ValuesIn(std::vector<ErrorCase>{
        {"a[", 3, kIndex + ", found end of input"},
        {"a[]", 3, kIndex + ", found \"]\""},
        {"a[-1]", 3, kIndex + ", found \"-\""},
        {"a[x]", 3, kIndex + ", found \"x\""},
        {"a[ 1]", 3, kIndex + ", found \" \""},
        {"a[\"k\"]", 3, kIndex + "; a quoted key follows a dot, as in a.[\"key\"], found '\"'"},
        {"a[01]", 3, kIndex + " without leading zeros, found \"01\""},
        {"a[00]", 3, kIndex + " without leading zeros, found \"00\""},
        {"a[1", 4, "expected \"]\" closing the index, found end of input"},
        {"a[12", 5, "expected \"]\" closing the index, found end of input"},
        {"a[1x]", 4, "expected \"]\" closing the index, found \"x\""},
        {"a[1.5]", 4, "expected \"]\" closing the index, found \".\""},
        {"a[0][", 6, kIndex + ", found end of input"},
        {"a[18446744073709551616]", 3,
         "expected an index of at most 18446744073709551615, found \"18446744073709551616\""},
        {"[0]", 2,
         "expected a quoted key (a JSON string); a path starts with a key, not an index, found "
         "\"0\""},
        {"a.[0]", 4,
         "expected a quoted key (a JSON string); an index follows without a dot, as in a[0], found "
         "\"0\""},
    }));

INSTANTIATE_TEST_SUITE_P(
    QuotedKeys, PathErrorTest,
    ValuesIn(std::vector<ErrorCase>{
        {"[", 2, "expected a quoted key (a JSON string), found end of input"},
        {"[]", 2, "expected a quoted key (a JSON string), found \"]\""},
        {"[x]", 2, "expected a quoted key (a JSON string), found \"x\""},
        {"['x']", 2, "expected a quoted key (a JSON string), found \"'\""},
        {"a.[", 4, "expected a quoted key (a JSON string), found end of input"},
        {"[\"", 3, "expected a closing '\"' for the string opened at column 2, found end of input"},
        {"[\"abc", 6,
         "expected a closing '\"' for the string opened at column 2, found end of input"},
        {"a.[\"x", 6,
         "expected a closing '\"' for the string opened at column 4, found end of input"},
        {"[\"x\"", 5, "expected \"]\" closing the quoted key, found end of input"},
        {"[\"x\"x]", 5, "expected \"]\" closing the quoted key, found \"x\""},
        {"[\"x\"\"]", 5, "expected \"]\" closing the quoted key, found '\"'"},
        // Raw control characters must be escaped.
        {"[\"a\nb\"]", 4,
         "expected a string character (control characters must be escaped), found control "
         "character U+000A"},
        {"[\"\t\"]", 3,
         "expected a string character (control characters must be escaped), found control "
         "character U+0009"},
        {std::string("[\"\0\"]", 5), 3,
         "expected a string character (control characters must be escaped), found control "
         "character U+0000"},
        {"[\"\x1f\"]", 3,
         "expected a string character (control characters must be escaped), found control "
         "character U+001F"},
    }));

INSTANTIATE_TEST_SUITE_P(
    Escapes, PathErrorTest,
    ValuesIn(std::vector<ErrorCase>{
        {R"(["\x"])", 3, kEscape + ", found \"\\x\""},
        {R"(["\a"])", 3, kEscape + ", found \"\\a\""},
        {R"(["\'"])", 3, kEscape + ", found \"\\'\""},
        {R"(["\U0041"])", 3, kEscape + ", found \"\\U\""},
        {R"(["\0"])", 3, kEscape + ", found \"\\0\""},
        {"[\"ab\\\xC3\xA9\"]", 5, kEscape + ", found \"\\\xC3\xA9\""},
        {"[\"\\", 3, kEscape + ", found \"\\\" at the end of input"},
        {R"(["\u"])", 3, "expected four hex digits after \\u, found '\\u\"'"},
        {R"(["\u12"])", 3, "expected four hex digits after \\u, found '\\u12\"'"},
        {R"(["\u12g4"])", 3, "expected four hex digits after \\u, found \"\\u12g\""},
        {R"(["\u-123"])", 3, "expected four hex digits after \\u, found \"\\u-\""},
        {"[\"\\u00", 3, "expected four hex digits after \\u, found \"\\u00\""},
        // Surrogates must come as a high-low pair.
        {R"(["\uDC00"])", 3,
         "expected a character escape, not a lone low surrogate, found \"\\uDC00\""},
        {R"(["a\udfff"])", 4,
         "expected a character escape, not a lone low surrogate, found \"\\udfff\""},
        {R"(["\uD83D"])", 9,
         "expected a low surrogate escape (\\uDC00-\\uDFFF) after the high surrogate \\uD83D, "
         "found '\"]'"},
        {R"(["\uD83Dx"])", 9,
         "expected a low surrogate escape (\\uDC00-\\uDFFF) after the high surrogate \\uD83D, "
         "found 'x\"]'"},
        {R"(["\uD83D\u0041"])", 9,
         "expected a low surrogate escape (\\uDC00-\\uDFFF) after the high surrogate \\uD83D, "
         "found \"\\u0041\""},
        {R"(["\uD83D\uD83D"])", 9,
         "expected a low surrogate escape (\\uDC00-\\uDFFF) after the high surrogate \\uD83D, "
         "found \"\\uD83D\""},
        {R"(["\uD83D\n"])", 9,
         "expected a low surrogate escape (\\uDC00-\\uDFFF) after the high surrogate \\uD83D, "
         "found '\\n\"]'"},
        {"[\"\\uDBFF", 9,
         "expected a low surrogate escape (\\uDC00-\\uDFFF) after the high surrogate \\uDBFF, "
         "found end of input"},
    }));

INSTANTIATE_TEST_SUITE_P(
    Utf8, PathErrorTest,
    ValuesIn(std::vector<ErrorCase>{
        {"[\"\xFF\"]", 3, "expected valid UTF-8, found byte 0xFF (not UTF-8)"},
        {"[\"\x80\"]", 3, "expected valid UTF-8, found byte 0x80 (not UTF-8)"},
        // Truncated sequence.
        {"[\"\xC3\"]", 3, "expected valid UTF-8, found byte 0xC3 (not UTF-8)"},
        {"[\"\xE2\x82\"]", 3, "expected valid UTF-8, found bytes 0xE2 0x82 (not UTF-8)"},
        // Overlong encodings of "/" and of U+0000.
        {"[\"\xC0\xAF\"]", 3, "expected valid UTF-8, found bytes 0xC0 0xAF (not UTF-8)"},
        {"[\"\xE0\x80\x80\"]", 3, "expected valid UTF-8, found bytes 0xE0 0x80 0x80 (not UTF-8)"},
        // A UTF-16 surrogate encoded as UTF-8 (CESU-8).
        {"[\"\xED\xA0\x80\"]", 3, "expected valid UTF-8, found bytes 0xED 0xA0 0x80 (not UTF-8)"},
        // Above U+10FFFF.
        {"[\"\xF4\x90\x80\x80\"]", 3,
         "expected valid UTF-8, found bytes 0xF4 0x90 0x80 0x80 (not UTF-8)"},
        {"[\"\xF5\x80\x80\x80\"]", 3,
         "expected valid UTF-8, found bytes 0xF5 0x80 0x80 0x80 (not UTF-8)"},
        // After valid multi-byte characters the column still counts characters.
        {"[\"\xC3\xA9\xF0\x9F\x98\x80\xFE\"]", 5,
         "expected valid UTF-8, found byte 0xFE (not UTF-8)"},
    }));

TEST(PathErrorTest, PathErrorsInPointerCountFromPointerStart) {
  // The same path error, standalone and inside a pointer: the column shifts
  // by the length of "bver://a/b/c@" (13).
  Status standalone = AttributePath::Parse("a.[\"\\q\"]").status();
  Status in_pointer = Pointer::Parse("bver://a/b/c@a.[\"\\q\"]").status();
  EXPECT_EQ(standalone.violations()[0].path, "column 5");
  EXPECT_EQ(in_pointer.violations()[0].path, "column 18");
  EXPECT_EQ(standalone.violations()[0].message, in_pointer.violations()[0].message);
}

TEST(PathErrorTest, LongInputIsCutInMessages) {
  Status s = AttributePath::Parse("a[" + std::string(1000, '9') + "]").status();
  ASSERT_FALSE(s.ok());
  EXPECT_LT(s.message().size(), 200u);
}

// ---------------------------------------------------------------------------
// Round trips.

class CanonicalPointerTest : public TestWithParam<std::string> {};

TEST_P(CanonicalPointerTest, TextComesBackIdentical) {
  Result<Pointer> p = Pointer::Parse(GetParam());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ToString(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Texts, CanonicalPointerTest,
    ValuesIn(std::vector<std::string>{
        "bver://sites/site/s1",
        "bver://sites/site/s1~1",
        "bver://sites/site/s1~18446744073709551615",
        "bver://sites/site/s1@name",
        "bver://sites/site/s1~7@meta.owner.name",
        "bver://sites/site/s1@terminals[0].label",
        "bver://sites/site/s1@m[0][1]",
        "bver://sites/site/s1@[\"x y\"].b",
        "bver://sites/site/s1@a.[\"x y\"]",
        "bver://sites/site/s1@a.[\"\"]",
        "bver://sites/site/s1@a.[\"0\"]",
        "bver://sites/site/s1@a.[\"a.b\"][3].[\"[x]\"]",
        "bver://sites/site/s1@a.[\"\\\"\\\\\"]",
        "bver://sites/site/s1@a.[\"\\b\\f\\n\\r\\t\\u0000\\u001f\"]",
        "bver://sites/site/s1@a.[\"/\"]",
        "bver://sites/site/s1@a.[\"\x7f\"]",
        "bver://sites/site/s1@a.[\"\xC3\xA9t\xC3\xA9\"]",
        "bver://sites/site/s1@a.[\"\xF0\x9F\x98\x80\"]",
        "bver://sites/site/s1@a.[\"\xE2\x80\xA8\"]",
        "bver://my-ns/my_repo/01890a5d-ac96-774b-bcce-b302099a8057~3@_x.y_1[10]",
    }));

struct NonCanonicalCase {
  std::string text;
  std::string canonical;
};

class NonCanonicalPathTest : public TestWithParam<NonCanonicalCase> {};

TEST_P(NonCanonicalPathTest, FormatsCanonicallyAndStaysFixed) {
  Result<AttributePath> p = AttributePath::Parse(GetParam().text);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ToString(), GetParam().canonical);
  Result<AttributePath> again = AttributePath::Parse(p->ToString());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *p);
  EXPECT_EQ(again->ToString(), GetParam().canonical);
}

INSTANTIATE_TEST_SUITE_P(Texts, NonCanonicalPathTest,
                         ValuesIn(std::vector<NonCanonicalCase>{
                             {R"(["a"])", "a"},
                             {R"(["a"].["b"][0])", "a.b[0]"},
                             {R"(a.["\u0041"])", "a.A"},
                             {R"(a.["\/"])", R"(a.["/"])"},
                             {R"(a.["\u00e9"])", "a.[\"\xC3\xA9\"]"},
                             {R"(a.["\u001F"])", R"(a.["\u001f"])"},
                             {R"(a.["\u0008\u000C\u000a\u000D\u0009"])", R"(a.["\b\f\n\r\t"])"},
                             {R"(a.["\u0022\u005c"])", R"(a.["\"\\"])"},
                             {R"(a.["\ud83d\ude00"])", "a.[\"\xF0\x9F\x98\x80\"]"},
                             {R"(a.["\u007f"])", "a.[\"\x7f\"]"},
                         }));

TEST(RoundTripTest, ConstructedPathsNeedingQuotes) {
  const std::vector<std::string> keys = {
      "",
      "x y",
      "a.b",
      "0",
      "0abc",
      "[0]",
      "\"",
      "\\",
      "\"\\\"",
      "\b\f\n\r\t",
      "\x01\x1f",
      "\x7f",
      "a/b",
      "~",
      "@",
      "caf\xC3\xA9",
      "\xE2\x82\xAC",
      "\xF0\x9F\x98\x80",
      "\xEF\xBF\xBF",
      "\xE2\x80\xA8",
      "\xF4\x8F\xBF\xBF",
      std::string("a\0b", 3),
      "]",
      "[\"x\"]",
      "ok_Name9",
  };
  for (const std::string& key : keys) {
    AttributePath path = AttributePath().Key("root").Key(key).Index(7).Key(key);
    Result<AttributePath> back = AttributePath::Parse(path.ToString());
    ASSERT_TRUE(back.ok()) << path.ToString() << ": " << back.status().ToString();
    EXPECT_EQ(*back, path) << path.ToString();
    EXPECT_EQ(back->ToString(), path.ToString());

    AttributePath leading = AttributePath().Key(key).Index(0);
    Result<AttributePath> leading_back = AttributePath::Parse(leading.ToString());
    ASSERT_TRUE(leading_back.ok()) << leading.ToString();
    EXPECT_EQ(*leading_back, leading);

    Result<Pointer> p = Pointer::Make("ns", "repo", "id-1", 5, path);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    Result<Pointer> pb = Pointer::Parse(p->ToString());
    ASSERT_TRUE(pb.ok()) << p->ToString() << ": " << pb.status().ToString();
    EXPECT_EQ(*pb, *p);
    EXPECT_EQ(pb->ToString(), p->ToString());
  }
}

TEST(RoundTripTest, ExtremeValues) {
  Pointer p(std::string(1, 'a') + std::string(62, '-'), "z" + std::string(62, '9'),
            "Z" + std::string(127, '.'), UINT64_MAX,
            AttributePath().Key("a").Index(UINT64_MAX).Index(0));
  Result<Pointer> back = Pointer::Parse(p.ToString());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, p);
}

// Random paths over an alphabet rich in characters that need quoting or
// escaping: Parse(ToString(x)) == x and ToString is a fixed point.
TEST(RoundTripTest, RandomPaths) {
  std::mt19937_64 rng(20240601);
  const std::vector<std::uint32_t> code_points = {
      'a',   'Z',   '_',    '0',    '9',    ' ',    '.',    '[',     ']',     '"',     '\\', '/',
      '@',   '~',   0x00,   0x01,   0x08,   0x09,   0x0A,   0x0C,    0x0D,    0x1F,    0x7F, 0xE9,
      0x7FF, 0x800, 0x2028, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF};
  const auto utf8 = [](std::uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  };
  for (int round = 0; round < 2000; ++round) {
    AttributePath path;
    const int segments = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < segments; ++i) {
      if (i > 0 && rng() % 3 == 0) {
        path = path.Index(rng() % 4 == 0 ? rng() : rng() % 100);
        continue;
      }
      std::string key;
      const int len = static_cast<int>(rng() % 6);
      for (int j = 0; j < len; ++j) key += utf8(code_points[rng() % code_points.size()]);
      path = path.Key(key);
    }
    const std::string text = path.ToString();
    Result<AttributePath> back = AttributePath::Parse(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().ToString();
    ASSERT_EQ(*back, path) << text;
    ASSERT_EQ(back->ToString(), text);
  }
}

// ---------------------------------------------------------------------------
// Make.

struct MakeCase {
  std::string ns, repo, id;
  std::optional<std::uint64_t> version;
  AttributePath path;
  std::string part;
  std::string message;
};

void PrintTo(const MakeCase& c, std::ostream* os) { *os << c.message; }

class MakeErrorTest : public TestWithParam<MakeCase> {};

TEST_P(MakeErrorTest, NamesThePart) {
  const MakeCase& c = GetParam();
  Result<Pointer> p = Pointer::Make(c.ns, c.repo, c.id, c.version, c.path);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.status().message(), c.message);
  ASSERT_EQ(p.status().violations().size(), 1u);
  EXPECT_EQ(p.status().violations()[0].path, c.part);
  EXPECT_EQ(p.status().violations()[0].rule, "pointer.syntax");
}

INSTANTIATE_TEST_SUITE_P(
    Parts, MakeErrorTest,
    ValuesIn(std::vector<MakeCase>{
        {"", "r", "i", {}, {}, "namespace", "invalid namespace \"\": must not be empty"},
        {"Sites",
         "r",
         "i",
         {},
         {},
         "namespace",
         "invalid namespace \"Sites\": must start with a lower-case letter (a-z)"},
        {"1a",
         "r",
         "i",
         {},
         {},
         "namespace",
         "invalid namespace \"1a\": must start with a lower-case letter (a-z)"},
        {"si.tes",
         "r",
         "i",
         {},
         {},
         "namespace",
         "invalid namespace \"si.tes\": character 3 \".\" is not allowed (use a-z, 0-9, \"_\" "
         "and \"-\")"},
        {"a" + std::string(63, 'b'),
         "r",
         "i",
         {},
         {},
         "namespace",
         "invalid namespace \"abbbbbbbbbbbbbbbbbbbbbbb...\": longer than 63 characters (64)"},
        {"n", "", "i", {}, {}, "repo", "invalid repo \"\": must not be empty"},
        {"n",
         "re po",
         "i",
         {},
         {},
         "repo",
         "invalid repo \"re po\": character 3 \" \" is not allowed (use a-z, 0-9, \"_\" and "
         "\"-\")"},
        {"n",
         "r\n",
         "i",
         {},
         {},
         "repo",
         "invalid repo \"r\\u000a\": character 2 \"\\u000a\" is not allowed (use a-z, 0-9, \"_\" "
         "and \"-\")"},
        {"n", "r", "", {}, {}, "id", "invalid id \"\": must not be empty"},
        {"n",
         "r",
         "_x",
         {},
         {},
         "id",
         "invalid id \"_x\": must start with a letter or a digit (A-Z, a-z, 0-9)"},
        {"n",
         "r",
         "a/b",
         {},
         {},
         "id",
         "invalid id \"a/b\": character 2 \"/\" is not allowed (use A-Z, a-z, 0-9, \".\", \"_\" "
         "and \"-\")"},
        {"n",
         "r",
         std::string(129, 'x'),
         {},
         {},
         "id",
         "invalid id \"xxxxxxxxxxxxxxxxxxxxxxxx...\": longer than 128 characters (129)"},
        {"n", "r", "i", 0, {}, "version", "invalid version 0: versions start at 1"},
        {"n",
         "r",
         "i",
         {},
         AttributePath().Index(0).Key("a"),
         "path",
         "invalid path \"[0].a\": a path must start with a key, not an index"},
        {"n",
         "r",
         "i",
         {},
         AttributePath().Key("a").Key("b\xFF"),
         "path",
         "invalid path: key 2 \"b\\xFF\" is not valid UTF-8"},
    }));

TEST(MakeTest, AcceptsValidParts) {
  Result<Pointer> p = Pointer::Make("sites", "site", "s-1", 3, AttributePath().Key("a").Index(2));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ToString(), "bver://sites/site/s-1~3@a[2]");
  EXPECT_TRUE(Pointer::Make("a" + std::string(62, 'b'), "r", std::string(128, '1')).ok());
}

// ---------------------------------------------------------------------------
// The rest of the value API.

TEST(PointerTest, CopiesWithParts) {
  Pointer p = *Pointer::Parse("bver://a/b/c~2@x.y");
  EXPECT_EQ(p.WithVersion(9).ToString(), "bver://a/b/c~9@x.y");
  EXPECT_EQ(p.Unpinned().ToString(), "bver://a/b/c@x.y");
  EXPECT_EQ(p.WithPath(AttributePath().Key("z")).ToString(), "bver://a/b/c~2@z");
  EXPECT_EQ(p.Reference().ToString(), "bver://a/b/c");
  EXPECT_EQ(p.Reference(), *Pointer::Parse("bver://a/b/c"));
}

TEST(PointerTest, StartsWith) {
  AttributePath p = *AttributePath::Parse("a.b[0].c");
  EXPECT_TRUE(p.StartsWith(AttributePath()));
  EXPECT_TRUE(p.StartsWith(*AttributePath::Parse("a.b")));
  EXPECT_TRUE(p.StartsWith(*AttributePath::Parse("a.b[0]")));
  EXPECT_TRUE(p.StartsWith(p));
  EXPECT_FALSE(p.StartsWith(*AttributePath::Parse("a.c")));
  EXPECT_FALSE(p.StartsWith(*AttributePath::Parse("a.b[1]")));
  EXPECT_FALSE(p.StartsWith(*AttributePath::Parse("a.b[0].c.d")));
}

TEST(PointerTest, GrammarPredicates) {
  EXPECT_TRUE(IsValidNamespaceName("a"));
  EXPECT_TRUE(IsValidNamespaceName("a-b_c9"));
  EXPECT_FALSE(IsValidNamespaceName(""));
  EXPECT_FALSE(IsValidNamespaceName("A"));
  EXPECT_FALSE(IsValidNamespaceName("a" + std::string(63, 'b')));
  EXPECT_TRUE(IsValidReferenceId("0"));
  EXPECT_FALSE(IsValidReferenceId("-0"));
  EXPECT_FALSE(IsValidReferenceId(std::string(129, 'a')));
  EXPECT_TRUE(IsPathIdentifier("_"));
  EXPECT_FALSE(IsPathIdentifier("0"));
  EXPECT_FALSE(IsPathIdentifier(""));
}

}  // namespace
}  // namespace bver
