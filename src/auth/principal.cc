#include "src/auth/principal.h"

#include <algorithm>

namespace bver::auth {

const char* PrincipalKindName(PrincipalKind kind) {
  switch (kind) {
    case PrincipalKind::kAnonymous: return "anonymous";
    case PrincipalKind::kApiKey: return "api_key";
    case PrincipalKind::kJwt: return "jwt";
    case PrincipalKind::kLocal: return "local";
  }
  return "anonymous";
}

bool Principal::IsAdmin() const {
  return authenticated() && std::binary_search(scopes.begin(), scopes.end(), kAdminScope);
}

bool Principal::HasScope(std::string_view scope) const {
  if (!authenticated()) return false;
  return IsAdmin() || std::binary_search(scopes.begin(), scopes.end(), scope);
}

Principal Principal::Anonymous() { return Principal{}; }

Principal Principal::Local(std::string name, std::vector<std::string> scopes) {
  std::sort(scopes.begin(), scopes.end());
  scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
  return Principal{"local:" + name, std::move(scopes), PrincipalKind::kLocal};
}

bool IsValidScope(std::string_view scope) {
  if (scope.empty() || scope.size() > 128) return false;
  for (char c : scope) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string> SplitScopes(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const std::string& s : scopes) out += (out.empty() ? "" : " ") + s;
  return out;
}

}  // namespace bver::auth
