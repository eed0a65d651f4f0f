#include "src/domain/source.h"

#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace bver::domain {
namespace {

using nlohmann::json;

std::string FormatWhere(const std::string& file, SourceLocation loc) {
  if (loc.line == 0) return file;
  return file + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column);
}

SourceLocation FromMark(const YAML::Mark& mark) {
  if (mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

// YAML 1.2 core schema resolution of plain (unquoted) scalars.
json ResolvePlainScalar(const std::string& s) {
  static const std::regex kInt(R"([-+]?[0-9]+)");
  static const std::regex kOct(R"(0o[0-7]+)");
  static const std::regex kHex(R"(0x[0-9a-fA-F]+)");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, kInt)) {
    errno = 0;
    char* end = nullptr;
    if (s[0] == '-') {
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (errno == 0) return v;
    } else {
      unsigned long long v = std::strtoull(s.c_str(), &end, 10);
      if (errno == 0) {
        if (v <= static_cast<unsigned long long>(INT64_MAX)) return static_cast<std::int64_t>(v);
        return static_cast<std::uint64_t>(v);
      }
    }
    return std::strtod(s.c_str(), nullptr);  // out of integer range: keep the magnitude
  }
  if (std::regex_match(s, kOct)) return std::strtoll(s.c_str() + 2, nullptr, 8);
  if (std::regex_match(s, kHex)) return std::strtoll(s.c_str() + 2, nullptr, 16);
  if (std::regex_match(s, kFloat)) return std::strtod(s.c_str(), nullptr);
  if (s == ".inf" || s == "+.inf" || s == ".Inf" || s == "-.inf" || s == ".nan" || s == ".NaN") {
    // JSON has no infinities or NaN; keep the text so validation can say so.
    return s;
  }
  return s;
}

class Converter {
 public:
  Converter(std::string file, std::map<std::string, SourceLocation>& locations)
      : file_(std::move(file)), locations_(locations) {}

  Result<json> Convert(const YAML::Node& node, const AttributePath& path, int depth) {
    if (++nodes_ > kMaxSourceNodes) {
      return Error(node, "document too large: more than " + std::to_string(kMaxSourceNodes) +
                             " values (alias expansion?)");
    }
    if (depth > kMaxSourceDepth) {
      return Error(node, "nesting deeper than " + std::to_string(kMaxSourceDepth) + " levels");
    }
    locations_.emplace(path.ToString(), FromMark(node.Mark()));
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json(nullptr);
      case YAML::NodeType::Scalar:
        if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return json(node.Scalar());
        return ResolvePlainScalar(node.Scalar());
      case YAML::NodeType::Sequence: {
        json out = json::array();
        std::uint64_t i = 0;
        for (const YAML::Node& item : node) {
          BVER_ASSIGN_OR_RETURN(json v, Convert(item, path.Index(i), depth + 1));
          out.push_back(std::move(v));
          ++i;
        }
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        for (auto it = node.begin(); it != node.end(); ++it) {
          const YAML::Node key = it->first;  // a copy: it->first is a temporary
          if (key.Type() != YAML::NodeType::Scalar) {
            return Error(key, "mapping keys must be plain strings");
          }
          const std::string& k = key.Scalar();
          if (out.contains(k)) {
            return Error(key, "duplicate key \"" + k + "\"");
          }
          BVER_ASSIGN_OR_RETURN(json v, Convert(it->second, path.Key(k), depth + 1));
          out[k] = std::move(v);
          // Keys locate at the key itself: that is where a reader looks.
          locations_[path.Key(k).ToString()] = FromMark(key.Mark());
        }
        return out;
      }
    }
    return Error(node, "unsupported YAML node");
  }

 private:
  Status Error(const YAML::Node& node, const std::string& message) {
    std::string where = FormatWhere(file_, FromMark(node.Mark()));
    return InvalidArgumentError(where + ": " + message, {{where, "yaml", message}});
  }

  std::string file_;
  std::map<std::string, SourceLocation>& locations_;
  std::size_t nodes_ = 0;
};

}  // namespace

SourceDocument::SourceDocument(std::string file, std::unique_ptr<json> value,
                               std::map<std::string, SourceLocation> locations)
    : file_(std::move(file)), value_(std::move(value)), locations_(std::move(locations)) {}
SourceDocument::~SourceDocument() = default;
SourceDocument::SourceDocument(SourceDocument&&) noexcept = default;
SourceDocument& SourceDocument::operator=(SourceDocument&&) noexcept = default;

SourceLocation SourceDocument::Locate(const AttributePath& path) const {
  std::vector<PathSegment> segments = path.segments();
  while (true) {
    auto it = locations_.find(AttributePath(segments).ToString());
    if (it != locations_.end()) return it->second;
    if (segments.empty()) return {};
    segments.pop_back();
  }
}

std::string SourceDocument::Where(const AttributePath& path) const {
  return FormatWhere(file_, Locate(path));
}

Result<SourceDocument> ParseYaml(std::string_view text, std::string file) {
  if (text.size() > kMaxSourceBytes) {
    return InvalidArgumentError(file + ": file larger than " + std::to_string(kMaxSourceBytes) +
                                " bytes");
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where = FormatWhere(file, FromMark(e.mark));
    std::string what = e.msg.empty() ? std::string("malformed YAML") : e.msg;
    return InvalidArgumentError(where + ": malformed YAML: " + what, {{where, "yaml", what}});
  }
  std::map<std::string, SourceLocation> locations;
  Converter converter(file, locations);
  try {
    BVER_ASSIGN_OR_RETURN(json value, converter.Convert(root, AttributePath(), 0));
    return SourceDocument(std::move(file), std::make_unique<json>(std::move(value)),
                          std::move(locations));
  } catch (const YAML::Exception& e) {
    std::string where = FormatWhere(file, FromMark(e.mark));
    return InvalidArgumentError(where + ": malformed YAML: " + e.msg, {{where, "yaml", e.msg}});
  }
}

Result<std::string> ReadFileToString(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFoundError("cannot open " + path + ": " + std::strerror(errno));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return InvalidArgumentError("cannot read " + path);
  std::string s = std::move(buf).str();
  if (s.size() > max_bytes) {
    return InvalidArgumentError(path + ": file larger than " + std::to_string(max_bytes) + " bytes");
  }
  return s;
}

Result<SourceDocument> LoadYamlFile(const std::string& path) {
  BVER_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseYaml(text, path);
}

}  // namespace bver::domain
