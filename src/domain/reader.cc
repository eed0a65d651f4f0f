#include "src/domain/reader.h"

#include <regex>

namespace bver::domain {

using nlohmann::json;

namespace {

std::string Describe(const AttributePath& path) {
  return path.empty() ? std::string("(document root)") : path.ToString();
}

const char* TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "a mapping";
    default: return "an unsupported value";
  }
}

}  // namespace

void Diagnostics::Error(const AttributePath& path, const std::string& rule,
                        const std::string& message) {
  violations_.push_back({doc_.Where(path), rule, Describe(path) + ": " + message});
}

Status Diagnostics::ToStatus() const {
  if (violations_.empty()) return Status::Ok();
  std::string first = violations_.front().path + ": " + violations_.front().message;
  std::string msg = doc_.file() + ": " + std::to_string(violations_.size()) +
                    (violations_.size() == 1 ? " error" : " errors") + "; first: " + first;
  return InvalidArgumentError(msg, violations_);
}

ObjectReader::ObjectReader(Diagnostics& diag, const json& value, AttributePath path,
                           std::initializer_list<const char*> allowed_keys)
    : diag_(diag), value_(&value), path_(std::move(path)) {
  if (!value.is_object()) {
    diag_.Error(path_, "domain.type", std::string("expected a mapping, found ") + TypeName(value));
    return;
  }
  valid_ = true;
  for (auto it = value.begin(); it != value.end(); ++it) {
    bool known = false;
    for (const char* k : allowed_keys) {
      if (it.key() == k) known = true;
    }
    if (!known) {
      std::string expected;
      for (const char* k : allowed_keys) {
        if (!expected.empty()) expected += ", ";
        expected += k;
      }
      diag_.Error(path_.Key(it.key()), "domain.unknown_key",
                  "unknown key \"" + it.key() + "\"; expected one of: " + expected);
    }
  }
}

bool ObjectReader::Has(const char* key) const { return valid_ && value_->contains(key); }

const json* ObjectReader::Get(const char* key) const {
  if (!Has(key)) return nullptr;
  return &(*value_)[key];
}

std::optional<std::string> ObjectReader::String(const char* key, bool required) {
  const json* v = Get(key);
  if (v == nullptr) {
    if (required && valid_) {
      diag_.Error(path_, "domain.required", std::string("missing required key \"") + key + "\"");
    }
    return std::nullopt;
  }
  if (!v->is_string()) {
    std::string hint = v->is_number() ? " (quote it, e.g. \"1.0.0\")" : "";
    diag_.Error(path_.Key(key), "domain.type",
                std::string("expected a string, found ") + TypeName(*v) + hint);
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<bool> ObjectReader::Bool(const char* key) {
  const json* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    diag_.Error(path_.Key(key), "domain.type",
                std::string("expected true or false, found ") + TypeName(*v));
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<std::int64_t> ObjectReader::Integer(const char* key, std::int64_t min,
                                                  std::int64_t max) {
  const json* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer()) {
    diag_.Error(path_.Key(key), "domain.type",
                std::string("expected a whole number, found ") + TypeName(*v));
    return std::nullopt;
  }
  std::int64_t n = v->is_number_unsigned() && v->get<std::uint64_t>() > INT64_MAX
                       ? INT64_MAX
                       : v->get<std::int64_t>();
  if (n < min || n > max) {
    diag_.Error(path_.Key(key), "domain.range",
                "expected a number from " + std::to_string(min) + " to " + std::to_string(max) +
                    ", found " + std::to_string(n));
    return std::nullopt;
  }
  return n;
}

std::vector<std::string> ObjectReader::StringList(const char* key) {
  std::vector<std::string> out;
  const json* v = Get(key);
  if (v == nullptr) return out;
  if (v->is_string()) {  // a single value is a list of one
    out.push_back(v->get<std::string>());
    return out;
  }
  if (!v->is_array()) {
    diag_.Error(path_.Key(key), "domain.type",
                std::string("expected a list of strings, found ") + TypeName(*v));
    return out;
  }
  for (std::size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) {
      diag_.Error(path_.Key(key).Index(i), "domain.type",
                  std::string("expected a string, found ") + TypeName((*v)[i]));
      continue;
    }
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

const json* ObjectReader::Object(const char* key, bool required) {
  const json* v = Get(key);
  if (v == nullptr) {
    if (required && valid_) {
      diag_.Error(path_, "domain.required", std::string("missing required key \"") + key + "\"");
    }
    return nullptr;
  }
  if (!v->is_object()) {
    diag_.Error(path_.Key(key), "domain.type",
                std::string("expected a mapping, found ") + TypeName(*v));
    return nullptr;
  }
  return v;
}

bool IsSemver(const std::string& s) {
  static const std::regex kSemver(
      R"((0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)");
  return std::regex_match(s, kSemver);
}

}  // namespace bver::domain
