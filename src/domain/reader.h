// Strict, location-aware reading of a SourceDocument: unknown keys, wrong
// types and missing fields become Violations that name file:line:column.
// Internal to the domain module.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bver/pointer.h"
#include "bver/status.h"
#include "src/domain/source.h"

namespace bver::domain {

class Diagnostics {
 public:
  explicit Diagnostics(const SourceDocument& doc) : doc_(doc) {}

  // Records a problem at `path` of the document.
  void Error(const AttributePath& path, const std::string& rule, const std::string& message);

  bool ok() const { return violations_.empty(); }
  Status ToStatus() const;
  const SourceDocument& doc() const { return doc_; }

 private:
  const SourceDocument& doc_;
  std::vector<Violation> violations_;
};

// Reads one mapping of the document.
class ObjectReader {
 public:
  // Reports an error (and reads nothing) when the value is not a mapping.
  ObjectReader(Diagnostics& diag, const nlohmann::json& value, AttributePath path,
               std::initializer_list<const char*> allowed_keys);

  bool valid() const { return valid_; }
  const AttributePath& path() const { return path_; }

  bool Has(const char* key) const;
  const nlohmann::json* Get(const char* key) const;

  std::optional<std::string> String(const char* key, bool required = false);
  std::optional<bool> Bool(const char* key);
  std::optional<std::int64_t> Integer(const char* key, std::int64_t min, std::int64_t max);
  std::vector<std::string> StringList(const char* key);
  // A mapping value: returns nullptr (with an error) when present but not a mapping.
  const nlohmann::json* Object(const char* key, bool required = false);

 private:
  Diagnostics& diag_;
  const nlohmann::json* value_;
  AttributePath path_;
  bool valid_ = false;
};

bool IsSemver(const std::string& s);

}  // namespace bver::domain
