#include "src/store/filter.h"

#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

namespace bver::store {

using nlohmann::json;

Result<Filter> ParseFilter(const std::string& w) {
  Filter f;
  static const std::pair<const char*, FilterOp> kOps[] = {
      {"!=", FilterOp::kNe}, {"<=", FilterOp::kLe}, {">=", FilterOp::kGe},
      {"=", FilterOp::kEq},  {"<", FilterOp::kLt},  {">", FilterOp::kGt}};
  std::size_t best = std::string::npos;
  std::size_t len = 0;
  for (const auto& [tok, op] : kOps) {
    std::size_t at = w.find(tok);
    if (at != std::string::npos && (at < best || (at == best && std::strlen(tok) > len))) {
      best = at;
      len = std::strlen(tok);
      f.op = op;
    }
  }
  std::string path = best == std::string::npos ? w : w.substr(0, best);
  if (best == std::string::npos) {
    f.op = FilterOp::kExists;
    if (!path.empty() && path[0] == '!') {
      f.op = FilterOp::kNotExists;
      path = path.substr(1);
    }
  } else {
    std::string value = w.substr(best + len);
    json v = json::parse(value, nullptr, false);
    f.value = std::make_shared<const json>(v.is_discarded() ? json(value) : v);
  }
  Result<AttributePath> p = AttributePath::Parse(path);
  if (!p.ok()) return InvalidArgumentError("\"" + w + "\": " + p.status().message());
  f.path = *p;
  return f;
}

}  // namespace bver::store
