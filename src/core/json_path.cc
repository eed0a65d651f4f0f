#include "src/core/json_path.h"

#include <nlohmann/json.hpp>

namespace bver::core {
namespace {

// "an object", "a string", ... for messages.
std::string_view KindOf(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return "a number";
    case nlohmann::json::value_t::binary:
      return "binary data";
    case nlohmann::json::value_t::discarded:
      return "a discarded value";
  }
  return "a value";
}

// The key as a JSON string, for messages: "ownr".
std::string QuoteKey(const std::string& key) {
  AttributePath one = AttributePath().Key(key);
  std::string text = one.ToString();
  // A quoted key prints as ["..."]; strip the brackets to keep the JSON string.
  if (!text.empty() && text.front() == '[') return text.substr(1, text.size() - 2);
  return "\"" + text + "\"";
}

// Canonical text of the first `n` segments of `path`.
std::string Prefix(const AttributePath& path, std::size_t n) {
  const auto begin = path.segments().begin();
  return AttributePath(std::vector<PathSegment>(begin, begin + static_cast<std::ptrdiff_t>(n)))
      .ToString();
}

// NotFound for segment `i` of `path`: names the path up to and including that
// segment, and why its parent does not have it.
Status Missing(const AttributePath& path, std::size_t i, const std::string& why) {
  std::string parent = i == 0 ? std::string("the document") : Prefix(path, i);
  return NotFoundError("no attribute \"" + Prefix(path, i + 1) + "\" (" + parent + " " + why + ")");
}

}  // namespace

Result<const nlohmann::json*> ResolvePath(const nlohmann::json& doc, const AttributePath& path) {
  const nlohmann::json* cur = &doc;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const PathSegment& seg = path.segments()[i];
    if (seg.is_key()) {
      if (!cur->is_object()) {
        return Missing(path, i, "is " + std::string(KindOf(*cur)) + ", not an object");
      }
      auto it = cur->find(seg.key());
      if (it == cur->end()) return Missing(path, i, "has no key " + QuoteKey(seg.key()));
      cur = &*it;
    } else {
      if (!cur->is_array()) {
        return Missing(path, i, "is " + std::string(KindOf(*cur)) + ", not an array");
      }
      if (seg.index() >= cur->size()) {
        std::size_t n = cur->size();
        return Missing(path, i, "has " + std::to_string(n) + (n == 1 ? " element" : " elements"));
      }
      cur = &(*cur)[static_cast<std::size_t>(seg.index())];
    }
  }
  return cur;
}

}  // namespace bver::core
