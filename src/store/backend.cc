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
