// JSON Schema (draft 2020-12) validation: BVER's own validator.
//
// A SchemaRegistry holds schema documents addressable by absolute URI, so
// that "$ref" can cross documents without any network access. A Validator is
// one compiled schema: Compile resolves every reference, checks every keyword
// and compiles every regex once; afterwards the Validator is immutable and
// safe to use from many threads at once without external synchronization.
//
// Validation reports every failure as a bver::Violation whose path is the
// instance location in attribute-path form ("meta.owner", "terminals[0]",
// "" for the whole instance) and whose rule is the failing keyword
// ("required", "type", ...). Nothing here throws, and no schema or instance
// can crash it: nesting and $ref recursion are bounded (evaluation needs
// about 1 KB of stack per nesting level, under 512 KB at the limit).
//
// Supported: the core, applicator, unevaluated, validation, meta-data,
// format-annotation and content vocabularies of draft 2020-12 ("format" and
// "content*" are annotations only, as the specification's default says).
// See docs/schema.md.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "bver/status.h"

namespace bver::schema {

namespace internal {
class CompiledSchema;
class Compiler;
struct RegistryData;
}  // namespace internal

// Schema documents by absolute URI. Fill it before compiling; it is not
// synchronized, so do not Add while another thread compiles against it.
// Validators keep what they use, so the registry may be destroyed after
// Compile.
class SchemaRegistry {
 public:
  SchemaRegistry();
  ~SchemaRegistry();
  SchemaRegistry(SchemaRegistry&&) noexcept;
  SchemaRegistry& operator=(SchemaRegistry&&) noexcept;
  SchemaRegistry(const SchemaRegistry&) = delete;
  SchemaRegistry& operator=(const SchemaRegistry&) = delete;

  // Registers `schema` as the document retrieved from `uri` (absolute, no
  // fragment). Resources the document declares with "$id" become reachable
  // by their own URIs too. InvalidArgument when the URI is not absolute or
  // the document is not an object or boolean (or is nested absurdly deep);
  // AlreadyExists when the URI is taken.
  Status Add(std::string uri, nlohmann::json schema);

  // True when `uri` (without fragment) names a registered document or a
  // resource inside one.
  bool Contains(std::string_view uri) const;

 private:
  friend class internal::Compiler;
  std::unique_ptr<internal::RegistryData> data_;
};

// A compiled schema.
class Validator {
 public:
  ~Validator();
  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  // Compiles `schema` (an object or a boolean). References resolve against
  // the schema itself, then `registry`, then the built-in draft 2020-12
  // metaschemas. InvalidArgument, with one Violation per problem (path =
  // schema location in attribute-path form, rule = keyword), when the schema
  // is malformed: wrong keyword types, invalid regexes, unresolvable
  // references, a required vocabulary we do not know, absurd nesting.
  static Result<std::unique_ptr<Validator>> Compile(const nlohmann::json& schema,
                                                    const SchemaRegistry* registry = nullptr);

  // OK, or InvalidArgument "instance is invalid (N errors)" listing every
  // failure as a Violation{instance path, keyword, sentence}.
  Status Validate(const nlohmann::json& instance) const;

  // True when `instance` is valid; stops at the first failure.
  bool IsValid(const nlohmann::json& instance) const;

 private:
  explicit Validator(std::unique_ptr<internal::CompiledSchema> compiled);
  std::unique_ptr<internal::CompiledSchema> compiled_;
};

// Reads the JSON files at `schema_path` and `instance_path`, compiles the
// schema and validates the instance. InvalidArgument naming the file when a
// file cannot be read or parsed (with byte offset, line and column for parse
// errors) or the schema is malformed; otherwise the result of Validate,
// prefixed with the instance path.
Status ValidateFiles(const std::string& schema_path, const std::string& instance_path);

}  // namespace bver::schema
