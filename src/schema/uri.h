// URI references as JSON Schema uses them for $id, $ref and $dynamicRef:
// RFC 3986 parsing, reference resolution and fragment decoding. Internal to
// the schema module. Pure functions; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bver::schema::internal {

// The five components of RFC 3986 appendix B. An absent component differs
// from an empty one ("http://x/?" has an empty query, "http://x/" none).
struct UriParts {
  std::optional<std::string> scheme;
  std::optional<std::string> authority;
  std::string path;
  std::optional<std::string> query;
  std::optional<std::string> fragment;
};

// Splits any string into components; never fails (RFC 3986 appendix B).
UriParts ParseUri(std::string_view text);

// The string form of `parts` (RFC 3986 section 5.3).
std::string RecomposeUri(const UriParts& parts);

// `ref` resolved against `base` (RFC 3986 section 5.2.2, with
// remove_dot_segments). An empty fragment is dropped from the result.
std::string ResolveUri(std::string_view base, std::string_view ref);

// True when `text` starts with a scheme ("https:", "urn:").
bool HasScheme(std::string_view text);

// `uri` without its fragment (and without the '#').
std::string_view WithoutFragment(std::string_view uri);

// The fragment of `uri` (after the first '#'), or empty.
std::string_view FragmentOf(std::string_view uri);

// Decodes %XX escapes; an invalid escape is kept as is.
std::string PercentDecode(std::string_view text);

}  // namespace bver::schema::internal
