#include "src/orch/template.h"

#include <cctype>

namespace bver::orch {
namespace {

using nlohmann::json;

// Follows ".name" and "[n]" segments of `rest` from `at`.
Result<std::optional<json>> Walk(const json& at, std::string_view rest, std::string_view expr) {
  const json* cur = &at;
  std::size_t i = 0;
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("reference ${" + std::string(expr) + "}: " + why,
                                {{"", "orch.reference", "write ${input.x}, ${steps.<id>.output.x}, ${item} or ${run.id}"}});
  };
  while (i < rest.size()) {
    if (rest[i] == '.') {
      std::size_t j = i + 1;
      while (j < rest.size() && rest[j] != '.' && rest[j] != '[') ++j;
      std::string key(rest.substr(i + 1, j - i - 1));
      if (key.empty()) return bad("an empty field name");
      if (!cur->is_object()) return std::optional<json>();
      auto it = cur->find(key);
      if (it == cur->end()) return std::optional<json>();
      cur = &*it;
      i = j;
    } else if (rest[i] == '[') {
      std::size_t j = rest.find(']', i);
      if (j == std::string_view::npos || j == i + 1) return bad("an unclosed or empty [index]");
      std::size_t n = 0;
      for (std::size_t k = i + 1; k < j; ++k) {
        if (!std::isdigit(static_cast<unsigned char>(rest[k]))) return bad("an index must be a number");
        n = n * 10 + static_cast<std::size_t>(rest[k] - '0');
      }
      if (!cur->is_array() || n >= cur->size()) return std::optional<json>();
      cur = &(*cur)[n];
      i = j + 1;
    } else {
      return bad("expected .name or [n] at \"" + std::string(rest.substr(i)) + "\"");
    }
  }
  return std::optional<json>(*cur);
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

Result<std::optional<json>> Lookup(std::string_view expr, const TemplateScope& scope) {
  auto root = [&](std::string_view name) {
    return expr == name || StartsWith(expr, std::string(name) + ".") || StartsWith(expr, std::string(name) + "[");
  };
  static const json kNull;
  if (root("input")) return Walk(scope.input ? *scope.input : kNull, expr.substr(5), expr);
  if (root("item")) {
    if (scope.item == nullptr) {
      return InvalidArgumentError("reference ${" + std::string(expr) + "}: ${item} is only defined in a for_each step",
                                  {{"", "orch.reference", "add for_each to the step, or refer to something else"}});
    }
    return Walk(*scope.item, expr.substr(4), expr);
  }
  if (expr == "run.id") return std::optional<json>(scope.run_id);
  if (expr == "run.correlation_id") return std::optional<json>(scope.correlation_id);
  if (StartsWith(expr, "steps.")) {
    std::string_view rest = expr.substr(6);
    std::size_t dot = rest.find('.');
    std::string id(rest.substr(0, dot));
    if (dot == std::string_view::npos || !StartsWith(rest.substr(dot), ".output")) {
      return InvalidArgumentError("reference ${" + std::string(expr) + "}: a step is referred to by its output",
                                  {{"", "orch.reference", "write ${steps." + id + ".output} or ${steps." + id +
                                                              ".output.<field>}"}});
    }
    std::string_view after = rest.substr(dot + 7);
    if (scope.steps == nullptr || !scope.steps->contains(id)) return std::optional<json>();
    return Walk(scope.steps->at(id), after, expr);
  }
  return InvalidArgumentError("reference ${" + std::string(expr) + "}: unknown root",
                              {{"", "orch.reference", "start with input, steps.<id>.output, item or run"}});
}

Result<json> Expand(const json& value, const TemplateScope& scope) {
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      BVER_ASSIGN_OR_RETURN(out[it.key()], Expand(it.value(), scope));
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& v : value) {
      BVER_ASSIGN_OR_RETURN(json e, Expand(v, scope));
      out.push_back(std::move(e));
    }
    return out;
  }
  if (!value.is_string()) return value;
  const std::string& s = value.get_ref<const std::string&>();
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t open = s.find("${", i);
    if (open == std::string::npos) {
      out += s.substr(i);
      break;
    }
    std::size_t close = s.find('}', open);
    if (close == std::string::npos) {
      return InvalidArgumentError("unclosed reference in \"" + s + "\"", {{"", "orch.reference", "close it with }"}});
    }
    std::string expr = s.substr(open + 2, close - open - 2);
    BVER_ASSIGN_OR_RETURN(std::optional<json> v, Lookup(expr, scope));
    if (!v) {
      return InvalidArgumentError("reference ${" + expr + "} leads to no value",
                                  {{"", "orch.reference", "the field is missing, or the step did not succeed"}});
    }
    if (open == 0 && close == s.size() - 1) return *v;  // exactly one reference: the value itself
    out += s.substr(i, open - i);
    out += v->is_string() ? v->get<std::string>() : v->dump();
    i = close + 1;
  }
  return json(out);
}

Result<bool> Condition(const std::string& when, const TemplateScope& scope) {
  std::string_view w = when;
  while (!w.empty() && std::isspace(static_cast<unsigned char>(w.front()))) w.remove_prefix(1);
  while (!w.empty() && std::isspace(static_cast<unsigned char>(w.back()))) w.remove_suffix(1);
  bool negate = false;
  if (StartsWith(w, "!")) {
    negate = true;
    w.remove_prefix(1);
  }
  if (!StartsWith(w, "${") || w.back() != '}' || w.find('}') != w.size() - 1) {
    return InvalidArgumentError("condition \"" + when + "\" is not one reference",
                                {{"", "orch.when", "write \"${steps.<id>.output.<field>}\" or \"!${...}\""}});
  }
  BVER_ASSIGN_OR_RETURN(std::optional<json> v, Lookup(w.substr(2, w.size() - 3), scope));
  bool truthy = v.has_value() && !v->is_null() && !(v->is_boolean() && !v->get<bool>()) &&
                !(v->is_number() && v->get<double>() == 0) && !(v->is_string() && v->get<std::string>().empty()) &&
                !((v->is_array() || v->is_object()) && v->empty());
  return negate ? !truthy : truthy;
}

}  // namespace bver::orch
