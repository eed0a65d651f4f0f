#include "src/core/canonical_json.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

namespace bver::core {
namespace {

using nlohmann::json;

std::string Canon(const json& v) {
  Result<std::string> r = CanonicalJson(v);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::string("<error>");
}

std::string CanonText(std::string_view text) { return Canon(json::parse(text)); }

// RFC 8785 §3.2.2: the sample object and its canonical form.
TEST(CanonicalJsonTest, Rfc8785SampleObject) {
  const char* input = R"({
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";
  EXPECT_EQ(CanonText(input),
            "{\"literals\":[null,true,false],"
            "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
            "\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 §3.2.3: property sorting by UTF-16 code units. U+1F600 (as the
// pair D83D DE00) sorts before U+FB33 although its code point is larger.
TEST(CanonicalJsonTest, Rfc8785SortingExample) {
  const char* input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  EXPECT_EQ(CanonText(input),
            "{\"\\r\":\"Carriage Return\","
            "\"1\":\"One\","
            "\"\xC2\x80\":\"Control\","
            "\"\xC3\xB6\":\"Latin Small Letter O With Diaeresis\","
            "\"\xE2\x82\xAC\":\"Euro Sign\","
            "\"\xF0\x9F\x98\x80\":\"Emoji: Grinning Face\","
            "\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

// The cyberphone/json-canonicalization test data (input → expected output).
TEST(CanonicalJsonTest, ReferenceTestData) {
  EXPECT_EQ(CanonText(R"([56, {"d": true, "10": null, "1": [ ]}])"),
            R"([56,{"1":[],"10":null,"d":true}])");
  EXPECT_EQ(CanonText(R"({"1": {"f": {"f": "hi","F": 5} ,"\n": 56.0},
                          "10": { }, "": "empty", "a": { }, "111": [ { } ], "A": { }})"),
            R"({"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}})");
  EXPECT_EQ(CanonText("{\"peach\": 1, \"p\xC3\xA9"
                      "ch\xC3\xA9\": 2, \"p\xC3\xAA"
                      "che\": 3, "
                      "\"sin\": 4}"),
            "{\"peach\":1,\"p\xC3\xA9"
            "ch\xC3\xA9\":2,\"p\xC3\xAA"
            "che\":3,\"sin\":4}");
  // No Unicode normalization.
  EXPECT_EQ(CanonText(R"({"Unnormalized Unicode":"\u1e0d\u0307"})"),
            "{\"Unnormalized Unicode\":\"\xE1\xB8\x8D\xCC\x87\"}");
  EXPECT_EQ(CanonText(R"({"\u20ac": "Euro Sign", "1": "One", "\u0080": "Control\u007f",
                          "\ud83d\ude02": "Smiley", "\u00f6": "O", "\ufb33": "Dalet",
                          "</script>": "Browser Challenge"})"),
            "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\xC2\x80\":\"Control\x7f\","
            "\"\xC3\xB6\":\"O\",\"\xE2\x82\xAC\":\"Euro Sign\",\"\xF0\x9F\x98\x82\":\"Smiley\","
            "\"\xEF\xAC\xB3\":\"Dalet\"}");
}

struct NumberCase {
  std::uint64_t bits;
  std::string text;
};

class Rfc8785NumberTest : public ::testing::TestWithParam<NumberCase> {};

// RFC 8785 Appendix B: IEEE 754 bit patterns and their JSON text.
TEST_P(Rfc8785NumberTest, MatchesAppendixB) {
  const double d = std::bit_cast<double>(GetParam().bits);
  Result<std::string> r = CanonicalNumber(d);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, GetParam().text);
  EXPECT_EQ(Canon(json(d)), GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(AppendixB, Rfc8785NumberTest,
                         ::testing::ValuesIn(std::vector<NumberCase>{
                             {0x0000000000000000, "0"},
                             {0x8000000000000000, "0"},
                             {0x0000000000000001, "5e-324"},
                             {0x8000000000000001, "-5e-324"},
                             {0x7fefffffffffffff, "1.7976931348623157e+308"},
                             {0xffefffffffffffff, "-1.7976931348623157e+308"},
                             {0x4340000000000000, "9007199254740992"},
                             {0xc340000000000000, "-9007199254740992"},
                             {0x4430000000000000, "295147905179352830000"},
                             {0x44b52d02c7e14af5, "9.999999999999997e+22"},
                             {0x44b52d02c7e14af6, "1e+23"},
                             {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
                             {0x444b1ae4d6e2ef4e, "999999999999999700000"},
                             {0x444b1ae4d6e2ef4f, "999999999999999900000"},
                             {0x444b1ae4d6e2ef50, "1e+21"},
                             {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
                             {0x3eb0c6f7a0b5ed8d, "0.000001"},
                             {0x41b3de4355555553, "333333333.3333332"},
                             {0x41b3de4355555554, "333333333.33333325"},
                             {0x41b3de4355555555, "333333333.3333333"},
                             {0x41b3de4355555556, "333333333.3333334"},
                             {0x41b3de4355555557, "333333333.33333343"},
                             {0xbecbf647612f3696, "-0.0000033333333333333333"},
                             {0x43143ff3c1cb0959, "1424953923781206.2"},
                         }));

TEST(CanonicalJsonTest, NumberFormBoundaries) {
  const std::vector<std::pair<double, std::string>> cases = {
      {1, "1"},
      {-1.5, "-1.5"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1e20, "100000000000000000000"},
      {1e21, "1e+21"},
      {1.5e21, "1.5e+21"},
      {123456789012345680000.0, "123456789012345680000"},
      {1e-6, "0.000001"},
      {1.5e-6, "0.0000015"},
      {1e-7, "1e-7"},
      {1.25e-7, "1.25e-7"},
      {0.5, "0.5"},
      {100, "100"},
      {-0.0, "0"},
      {std::numeric_limits<double>::denorm_min(), "5e-324"},
      {std::numeric_limits<double>::denorm_min() * 2, "1e-323"},
      {std::numeric_limits<double>::min(), "2.2250738585072014e-308"},
      {1e300, "1e+300"},
  };
  for (const auto& [d, text] : cases) {
    EXPECT_EQ(*CanonicalNumber(d), text) << d;
  }
}

TEST(CanonicalJsonTest, NonFiniteNumbersAreErrors) {
  for (double d : {std::nan(""), std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(CanonicalNumber(d).status().code(), StatusCode::kInvalidArgument);
    Result<std::string> r = CanonicalJson(json{{"a", {1, d}}});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("cannot canonicalize JSON at a[1]: "), std::string::npos)
        << r.status().message();
    ASSERT_EQ(r.status().violations().size(), 1u);
    EXPECT_EQ(r.status().violations()[0].path, "a[1]");
  }
  EXPECT_EQ(CanonicalJson(json(std::nan(""))).status().message(),
            "cannot canonicalize JSON: NaN has no JSON form");
}

TEST(CanonicalJsonTest, IntegersWithinTwoToThe53AreExact) {
  const std::int64_t max = std::int64_t{1} << 53;
  EXPECT_EQ(Canon(json(max)), "9007199254740992");
  EXPECT_EQ(Canon(json(-max)), "-9007199254740992");
  EXPECT_EQ(Canon(json(std::uint64_t{1} << 53)), "9007199254740992");
  EXPECT_EQ(Canon(json(0)), "0");
  EXPECT_EQ(Canon(json(-7)), "-7");
  EXPECT_EQ(Canon(json::parse("-0")), "0");
  EXPECT_EQ(Canon(json::parse("[1.0, -0.0, 1e2, 100E-2]")), "[1,0,100,1]");
}

TEST(CanonicalJsonTest, IntegersBeyondTwoToThe53AreErrors) {
  const std::vector<json> values = {
      json(std::int64_t{(std::int64_t{1} << 53) + 1}),
      json(-((std::int64_t{1} << 53) + 1)),
      json(std::numeric_limits<std::int64_t>::min()),
      json(std::numeric_limits<std::int64_t>::max()),
      json(std::numeric_limits<std::uint64_t>::max()),
      json::parse("9007199254740993"),
  };
  const std::vector<std::string> read_as = {
      "9007199254740992",    "-9007199254740992",    "-9223372036854776000",
      "9223372036854776000", "18446744073709552000", "9007199254740992",
  };
  for (std::size_t i = 0; i < values.size(); ++i) {
    const json& v = values[i];
    Result<std::string> r = CanonicalJson(json{{"count", v}});
    ASSERT_FALSE(r.ok()) << v.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(),
              "cannot canonicalize JSON at count: integer " + v.dump() +
                  " is beyond 2^53 in magnitude and is not a double, so I-JSON (RFC 7493) "
                  "cannot carry it exactly (readers would see " +
                  read_as[i] + "); send it as a string");
    ASSERT_EQ(r.status().violations().size(), 1u);
    EXPECT_EQ(r.status().violations()[0].path, "count");
  }
  // 2^60 is a double, but ECMAScript prints it as 1152921504606847000: no
  // text is both canonical and exact for the integer, so it is refused too.
  EXPECT_FALSE(CanonicalJson(json(std::int64_t{1} << 60)).ok());
}

// Large integers whose text is already the ECMAScript form of a double are
// what any double-based writer produces; they pass unchanged, so canonical
// output read back by nlohmann (which keeps them as integers) is stable.
TEST(CanonicalJsonTest, LargeIntegersInDoubleFormPass) {
  EXPECT_EQ(Canon(json(std::uint64_t{1000000000000000000})), "1000000000000000000");
  EXPECT_EQ(Canon(json(std::int64_t{-1428547813435902200})), "-1428547813435902200");
  EXPECT_EQ(Canon(json::parse("1428547813435902200")), "1428547813435902200");
  EXPECT_EQ(Canon(json::parse("1.4285478134359022e18")), "1428547813435902200");
  EXPECT_EQ(Canon(json::parse("[1e19, 1e20]")), "[10000000000000000000,100000000000000000000]");
}

TEST(CanonicalJsonTest, StringEscapes) {
  std::string all_controls;
  for (int c = 0; c < 0x20; ++c) all_controls += static_cast<char>(c);
  EXPECT_EQ(Canon(json(all_controls)),
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
            "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019"
            "\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");
  EXPECT_EQ(Canon(json("\"\\/")), "\"\\\"\\\\/\"");
  // DEL, non-ASCII and U+2028 go out as they are.
  EXPECT_EQ(Canon(json("\x7f\xC3\xA9\xE2\x80\xA8\xF0\x9F\x98\x80")),
            "\"\x7f\xC3\xA9\xE2\x80\xA8\xF0\x9F\x98\x80\"");
  EXPECT_EQ(Canon(json("")), "\"\"");
}

TEST(CanonicalJsonTest, InvalidUtf8IsAnError) {
  Result<std::string> s = CanonicalJson(json{{"k", {"ok", "a\xFF"}}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "cannot canonicalize JSON at k[1]: string is not valid UTF-8 (at byte 1)");
  // A surrogate encoded directly (CESU-8) and an overlong form.
  EXPECT_FALSE(CanonicalJson(json("\xED\xA0\x80")).ok());
  EXPECT_FALSE(CanonicalJson(json("\xC0\xAF")).ok());
  Result<std::string> k = CanonicalJson(json{{"a", {{"\xC3", 1}}}});
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().message(),
            "cannot canonicalize JSON at a: an object key is not valid UTF-8 (at byte 0)");
}

TEST(CanonicalJsonTest, SortsByUtf16NotByUtf8OrCodePoint) {
  // U+FFFD (EF BF BD, unit FFFD) sorts after U+10000 (unit D800): UTF-8 byte
  // order would put it first.
  json v = {{"\xEF\xBF\xBD", 1}, {"\xF0\x90\x80\x80", 2}, {"\xEE\x80\x80", 3}, {"z", 4}};
  EXPECT_EQ(Canon(v), "{\"z\":4,\"\xF0\x90\x80\x80\":2,\"\xEE\x80\x80\":3,\"\xEF\xBF\xBD\":1}");
  // Prefixes sort first; comparison is by unit, not by locale or case.
  EXPECT_EQ(Canon(json{{"ab", 1}, {"a", 2}, {"B", 3}, {"b", 4}, {"", 5}}),
            R"({"":5,"B":3,"a":2,"ab":1,"b":4})");
}

TEST(CanonicalJsonTest, NestedStructuresAndLiterals) {
  EXPECT_EQ(Canon(json::parse(R"(
    {"z": {"b": [3, {"y": null, "x": [true, false]}], "a": {}},
     "a": [[], [[]], {"k": "v"}]})")),
            R"({"a":[[],[[]],{"k":"v"}],"z":{"a":{},"b":[3,{"x":[true,false],"y":null}]}})");
  EXPECT_EQ(Canon(json()), "null");
  EXPECT_EQ(Canon(json::array()), "[]");
  EXPECT_EQ(Canon(json::object()), "{}");
  EXPECT_EQ(Canon(json(true)), "true");
}

TEST(CanonicalJsonTest, IndependentOfInputFormatting) {
  EXPECT_EQ(CanonText("{ \"b\" : [ 1 , 2.0 ] ,\n\t\"a\" : \"\\u0041\" }"),
            CanonText(R"({"a":"A","b":[1,2]})"));
}

TEST(CanonicalJsonTest, OutputIsAFixedPoint) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 500; ++i) {
    json v = json::object();
    for (int k = 0; k < 5; ++k) {
      const double d = std::bit_cast<double>(rng());
      if (!std::isfinite(d)) continue;
      v["k" + std::to_string(rng() % 100)] =
          json::array({d, static_cast<std::int64_t>(rng() % 1000)});
    }
    const std::string once = Canon(v);
    const json reparsed = json::parse(once);
    EXPECT_EQ(Canon(reparsed), once);
    // The number text reads back as the same double.
    EXPECT_EQ(reparsed, v);
  }
}

TEST(CanonicalJsonTest, DepthLimit) {
  json deep = json::array();
  for (int i = 1; i < kMaxJsonDepth; ++i) deep = json::array({deep});
  EXPECT_TRUE(CanonicalJson(deep).ok());
  json deeper = json::array({deep});
  Result<std::string> r = CanonicalJson(deeper);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper than 512 levels"), std::string::npos);
}

TEST(CanonicalJsonTest, BinaryIsAnError) {
  Result<std::string> r = CanonicalJson(json{{"b", json::binary({1, 2})}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot canonicalize JSON at b: binary values have no JSON form");
}

}  // namespace
}  // namespace bver::core
