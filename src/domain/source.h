// A YAML (or JSON) document read into JSON, remembering where every value
// came from, so that errors found later can name file:line:column.
//
// bver.yaml, plugin manifests and configuration all use this one reader.
// Not thread-safe to build; immutable afterwards.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "bver/pointer.h"
#include "bver/status.h"

namespace bver::domain {

struct SourceLocation {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
};

class SourceDocument {
 public:
  SourceDocument(std::string file, std::unique_ptr<nlohmann::json> value,
                 std::map<std::string, SourceLocation> locations);
  ~SourceDocument();
  SourceDocument(SourceDocument&&) noexcept;
  SourceDocument& operator=(SourceDocument&&) noexcept;

  const std::string& file() const { return file_; }
  const nlohmann::json& value() const { return *value_; }

  // Where the value at `path` starts; the nearest known ancestor when the
  // path itself has no entry (for example a key that is missing).
  SourceLocation Locate(const AttributePath& path) const;
  // "bver.yaml:12:7".
  std::string Where(const AttributePath& path) const;

 private:
  std::string file_;
  std::unique_ptr<nlohmann::json> value_;
  // Keyed by AttributePath::ToString() of each value's path.
  std::map<std::string, SourceLocation> locations_;
};

// Limits that keep a hostile document (alias bombs, deep nesting) from
// exhausting the process.
inline constexpr std::size_t kMaxSourceBytes = 16u << 20;
inline constexpr std::size_t kMaxSourceNodes = 1u << 20;
inline constexpr int kMaxSourceDepth = 128;

// Parses YAML 1.2 text (JSON is YAML). Plain scalars become null, booleans
// (true/false), integers and floats by the YAML core schema; quoted scalars
// are always strings. Duplicate mapping keys and non-scalar keys are errors.
// Errors: InvalidArgument with a violation whose path is "file:line:column".
Result<SourceDocument> ParseYaml(std::string_view text, std::string file);

// Reads and parses a file. A missing or unreadable file is NotFound /
// InvalidArgument naming the file.
Result<SourceDocument> LoadYamlFile(const std::string& path);

// Reads a whole file into a string (bounded by kMaxSourceBytes).
Result<std::string> ReadFileToString(const std::string& path, std::size_t max_bytes = kMaxSourceBytes);

}  // namespace bver::domain
