// Principal: who is calling an operation, as authentication established it
// (BVER.md §7). The broker (src/runtime/broker.h) decides from a Principal's
// scopes whether an operation may run; it never authenticates itself.
//
// Scopes are plain strings ("sites.site:read", "events:read"). The scope
// "admin" implies every other scope. Matching is exact: no wildcards.
//
// A Principal is a value type: copy it freely and share it between threads
// as long as no thread modifies it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bver::auth {

inline constexpr std::string_view kAdminScope = "admin";

enum class PrincipalKind {
  kAnonymous,  // no credentials were presented
  kApiKey,     // an API key (api_keys.h)
  kJwt,        // a bearer JWT (jwt.h)
  kLocal,      // the local operator: the CLI, or a server with auth off on loopback
};
// "anonymous", "api_key", "jwt", "local".
const char* PrincipalKindName(PrincipalKind kind);

struct Principal {
  // "key:<id>", "jwt:<sub>", "local:<name>"; empty for anonymous. Recorded as
  // the actor of every write, so it never holds a secret.
  std::string subject;
  std::vector<std::string> scopes;  // sorted, without duplicates
  PrincipalKind kind = PrincipalKind::kAnonymous;

  bool authenticated() const { return kind != PrincipalKind::kAnonymous; }
  bool IsAdmin() const;
  // True when the principal holds `scope` or is admin.
  bool HasScope(std::string_view scope) const;

  static Principal Anonymous();
  // The local operator, admin unless other scopes are given.
  static Principal Local(std::string name, std::vector<std::string> scopes = {std::string(kAdminScope)});
};

// A scope as BVER writes them: 1-128 characters of [A-Za-z0-9._:/-].
bool IsValidScope(std::string_view scope);

// Scopes from text separated by spaces and/or commas, sorted and without
// duplicates; empty pieces are dropped. Validity is not checked.
std::vector<std::string> SplitScopes(std::string_view text);

// The scopes joined by single spaces (the JWT `scope` claim form).
std::string JoinScopes(const std::vector<std::string>& scopes);

}  // namespace bver::auth
