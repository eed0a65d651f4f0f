#include "src/schema/uri.h"

#include <gtest/gtest.h>

namespace bver::schema::internal {
namespace {

// RFC 3986 section 5.4: reference resolution examples.
TEST(UriTest, ResolvesTheRfc3986Examples) {
  const char* base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"},
      {";x", "http://a/b/c/;x"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../g", "http://a/g"},
      {"../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
  };
  for (const auto& [ref, want] : cases) {
    EXPECT_EQ(ResolveUri(base, ref), want) << ref;
  }
}

TEST(UriTest, UrnsAndEmptyFragments) {
  EXPECT_EQ(ResolveUri("urn:uuid:deadbeef-1234", "#/$defs/a"), "urn:uuid:deadbeef-1234#/$defs/a");
  EXPECT_EQ(ResolveUri("urn:example:a?+r?=q", "#x"), "urn:example:a?+r?=q#x");
  EXPECT_EQ(ResolveUri("http://x/y.json", "#"), "http://x/y.json");
  EXPECT_EQ(ResolveUri("file:///c:/folder/file.json", "#/$defs/foo"),
            "file:///c:/folder/file.json#/$defs/foo");
}

TEST(UriTest, Helpers) {
  EXPECT_TRUE(HasScheme("https://x"));
  EXPECT_TRUE(HasScheme("urn:x"));
  EXPECT_FALSE(HasScheme("x.json"));
  EXPECT_FALSE(HasScheme("/a:b"));
  EXPECT_EQ(WithoutFragment("a#b#c"), "a");
  EXPECT_EQ(FragmentOf("a#b#c"), "b#c");
  EXPECT_EQ(FragmentOf("a"), "");
  EXPECT_EQ(PercentDecode("foo%22bar%25%zz%2"), "foo\"bar%%zz%2");
}

}  // namespace
}  // namespace bver::schema::internal
