#include "src/store/backend.h"

#include <nlohmann/json.hpp>

namespace bver::store {

bool IsPushableFilter(const Filter& f) {
  if (f.path.empty()) return false;
  for (const PathSegment& s : f.path.segments()) {
    if (s.is_key() && s.key().find_first_of("\"\\") != std::string::npos) return false;
  }
  if (f.op == FilterOp::kExists || f.op == FilterOp::kNotExists) return true;
  if (!f.value) return false;
  const nlohmann::json& v = *f.value;
  return v.is_number() || v.is_string() || v.is_boolean() || v.is_null();
}

}  // namespace bver::store

namespace bver::store {

bool LabelsMatch(const std::string& required, const std::string& offered) {
  if (required.empty() || required == "{}") return true;
  nlohmann::json need = nlohmann::json::parse(required, nullptr, false);
  if (!need.is_object()) return false;
  nlohmann::json have = offered.empty() ? nlohmann::json::object() : nlohmann::json::parse(offered, nullptr, false);
  if (!have.is_object()) return false;
  for (const auto& [k, v] : need.items()) {
    auto it = have.find(k);
    if (it == have.end() || *it != v) return false;
  }
  return true;
}

}  // namespace bver::store
