#include "src/schema/validator.h"

#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "src/schema/compiled.h"
#include "src/schema/compiler.h"
#include "src/schema/evaluator.h"
#include "src/schema/uri.h"

namespace bver::schema {

using internal::Json;

SchemaRegistry::SchemaRegistry() : data_(std::make_unique<internal::RegistryData>()) {}
SchemaRegistry::~SchemaRegistry() = default;
SchemaRegistry::SchemaRegistry(SchemaRegistry&&) noexcept = default;
SchemaRegistry& SchemaRegistry::operator=(SchemaRegistry&&) noexcept = default;

Status SchemaRegistry::Add(std::string uri, nlohmann::json schema) {
  try {
    if (!internal::HasScheme(uri)) {
      return InvalidArgumentError("schema URI " + internal::Quote(uri) +
                                  " is not absolute (it needs a scheme such as https:)");
    }
    if (!internal::FragmentOf(uri).empty()) {
      return InvalidArgumentError("schema URI " + internal::Quote(uri) +
                                  " must not have a fragment");
    }
    uri = std::string(internal::WithoutFragment(uri));
    if (!schema.is_object() && !schema.is_boolean()) {
      return InvalidArgumentError("schema " + internal::Quote(uri) +
                                  " must be an object or a boolean, got " +
                                  std::string(internal::JsonTypeName(schema)));
    }
    if (internal::JsonDepth(schema, internal::kMaxDocumentDepth) > internal::kMaxDocumentDepth) {
      return InvalidArgumentError("schema " + internal::Quote(uri) + " is nested deeper than " +
                                  std::to_string(internal::kMaxDocumentDepth) + " levels");
    }
    if (data_->documents.count(uri) != 0) {
      return AlreadyExistsError("a schema is already registered as " + internal::Quote(uri));
    }
    std::vector<std::string> ids = internal::EmbeddedResourceIds(schema, uri);
    data_->documents.emplace(uri, std::make_shared<const Json>(std::move(schema)));
    for (std::string& id : ids) {
      if (id != uri) data_->embedded.emplace(std::move(id), uri);
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return InternalError(std::string("registering schema failed: ") + e.what());
  }
}

bool SchemaRegistry::Contains(std::string_view uri) const {
  std::string key(internal::WithoutFragment(uri));
  return data_->documents.count(key) != 0 || data_->embedded.count(key) != 0;
}

Validator::Validator(std::unique_ptr<internal::CompiledSchema> compiled)
    : compiled_(std::move(compiled)) {}

Validator::~Validator() = default;

Result<std::unique_ptr<Validator>> Validator::Compile(const nlohmann::json& schema,
                                                      const SchemaRegistry* registry) {
  try {
    internal::Compiler compiler(registry);
    BVER_ASSIGN_OR_RETURN(std::unique_ptr<internal::CompiledSchema> compiled,
                          compiler.Compile(schema));
    return std::unique_ptr<Validator>(new Validator(std::move(compiled)));
  } catch (const std::exception& e) {
    return InternalError(std::string("schema compilation failed: ") + e.what());
  }
}

Status Validator::Validate(const nlohmann::json& instance) const {
  try {
    std::vector<Violation> errors;
    if (internal::Evaluate(*compiled_, instance, &errors)) return Status::Ok();
    if (errors.empty()) {
      // Cannot happen (every failure reports), but never answer "invalid"
      // without saying why.
      errors.push_back(Violation{"", "schema", "the instance does not match the schema"});
    }
    std::string message = "instance is invalid (" + std::to_string(errors.size()) +
                          (errors.size() == 1 ? " error)" : " errors)");
    return InvalidArgumentError(std::move(message), std::move(errors));
  } catch (const std::exception& e) {
    return InternalError(std::string("validation failed: ") + e.what());
  }
}

bool Validator::IsValid(const nlohmann::json& instance) const {
  try {
    return internal::Evaluate(*compiled_, instance, nullptr);
  } catch (...) {
    return false;
  }
}

namespace {

Result<Json> ReadJsonFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidArgumentError("cannot read " + std::string(what) + " file " +
                                internal::Quote(path));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return InvalidArgumentError("cannot read " + std::string(what) + " file " +
                                internal::Quote(path));
  }
  std::string text = buffer.str();
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based offset of the last byte read.
    std::size_t byte = e.byte == 0 ? 0 : e.byte - 1;
    std::size_t line = 1;
    std::size_t column = 1;
    for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string detail = e.what();
    if (std::size_t colon = detail.find(": "); colon != std::string::npos) {
      detail = detail.substr(colon + 2);
    }
    std::string where = "byte " + std::to_string(byte) + " (line " + std::to_string(line) +
                        ", column " + std::to_string(column) + ")";
    return InvalidArgumentError(
        "cannot parse " + std::string(what) + " file " + internal::Quote(path) + " at " + where +
            ": " + detail,
        {Violation{path + ":" + std::to_string(line) + ":" + std::to_string(column), "json.syntax",
                   detail}});
  }
}

}  // namespace

Status ValidateFiles(const std::string& schema_path, const std::string& instance_path) {
  try {
    BVER_ASSIGN_OR_RETURN(Json schema, ReadJsonFile(schema_path, "schema"));
    BVER_ASSIGN_OR_RETURN(Json instance, ReadJsonFile(instance_path, "instance"));
    Result<std::unique_ptr<Validator>> validator = Validator::Compile(schema);
    if (!validator.ok()) return validator.status().WithPrefix(schema_path);
    Status status = (*validator)->Validate(instance);
    if (!status.ok()) return status.WithPrefix(instance_path);
    return status;
  } catch (const std::exception& e) {
    return InternalError(std::string("validating files failed: ") + e.what());
  }
}

}  // namespace bver::schema
