#include "src/schema/uri.h"

#include <vector>

namespace bver::schema::internal {
namespace {

bool IsSchemeStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool IsSchemeChar(char c) {
  return IsSchemeStart(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 section 5.2.4.
std::string RemoveDotSegments(std::string_view path) {
  std::vector<std::string_view> out;
  bool absolute = !path.empty() && path.front() == '/';
  bool trailing_slash = false;
  std::size_t pos = absolute ? 1 : 0;
  while (pos <= path.size()) {
    std::size_t slash = path.find('/', pos);
    std::string_view seg =
        path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    bool last = slash == std::string_view::npos;
    if (seg == ".") {
      trailing_slash = last;
    } else if (seg == "..") {
      if (!out.empty()) out.pop_back();
      trailing_slash = last;
    } else {
      out.push_back(seg);
      trailing_slash = false;
    }
    if (last) break;
    pos = slash + 1;
  }
  std::string result = absolute ? "/" : "";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0) result += '/';
    result += out[i];
  }
  if (trailing_slash && !result.empty() && result.back() != '/') result += '/';
  return result;
}

std::string Merge(const UriParts& base, std::string_view ref_path) {
  if (base.authority.has_value() && base.path.empty()) return "/" + std::string(ref_path);
  std::size_t slash = base.path.rfind('/');
  if (slash == std::string::npos) return std::string(ref_path);
  return base.path.substr(0, slash + 1) + std::string(ref_path);
}

}  // namespace

bool HasScheme(std::string_view text) {
  if (text.empty() || !IsSchemeStart(text[0])) return false;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (text[i] == ':') return true;
    if (!IsSchemeChar(text[i])) return false;
  }
  return false;
}

UriParts ParseUri(std::string_view text) {
  UriParts parts;
  std::size_t hash = text.find('#');
  if (hash != std::string_view::npos) {
    parts.fragment = std::string(text.substr(hash + 1));
    text = text.substr(0, hash);
  }
  std::size_t question = text.find('?');
  if (question != std::string_view::npos) {
    parts.query = std::string(text.substr(question + 1));
    text = text.substr(0, question);
  }
  if (HasScheme(text)) {
    std::size_t colon = text.find(':');
    parts.scheme = std::string(text.substr(0, colon));
    text = text.substr(colon + 1);
  }
  if (text.substr(0, 2) == "//") {
    text = text.substr(2);
    std::size_t slash = text.find('/');
    parts.authority = std::string(text.substr(0, slash));
    text = slash == std::string_view::npos ? std::string_view() : text.substr(slash);
  }
  parts.path = std::string(text);
  return parts;
}

std::string RecomposeUri(const UriParts& parts) {
  std::string out;
  if (parts.scheme) out += *parts.scheme + ":";
  if (parts.authority) out += "//" + *parts.authority;
  out += parts.path;
  if (parts.query) out += "?" + *parts.query;
  if (parts.fragment && !parts.fragment->empty()) out += "#" + *parts.fragment;
  return out;
}

std::string ResolveUri(std::string_view base_text, std::string_view ref_text) {
  UriParts ref = ParseUri(ref_text);
  UriParts base = ParseUri(base_text);
  UriParts target;
  if (ref.scheme) {
    target = ref;
    target.path = RemoveDotSegments(ref.path);
  } else {
    if (ref.authority) {
      target.authority = ref.authority;
      target.path = RemoveDotSegments(ref.path);
      target.query = ref.query;
    } else {
      if (ref.path.empty()) {
        target.path = base.path;
        target.query = ref.query ? ref.query : base.query;
      } else {
        if (ref.path.front() == '/') {
          target.path = RemoveDotSegments(ref.path);
        } else {
          target.path = RemoveDotSegments(Merge(base, ref.path));
        }
        target.query = ref.query;
      }
      target.authority = base.authority;
    }
    target.scheme = base.scheme;
  }
  target.fragment = ref.fragment;
  return RecomposeUri(target);
}

std::string_view WithoutFragment(std::string_view uri) {
  std::size_t hash = uri.find('#');
  return hash == std::string_view::npos ? uri : uri.substr(0, hash);
}

std::string_view FragmentOf(std::string_view uri) {
  std::size_t hash = uri.find('#');
  return hash == std::string_view::npos ? std::string_view() : uri.substr(hash + 1);
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace bver::schema::internal
