// Authenticator: turns what a transport received into a Principal.
//
//   Authorization: Bearer bver_<id>_<secret>   an API key (api_keys.h)
//   Authorization: Bearer <header>.<claims>.<sig>   a JWT (jwt.h)
//   X-API-Key: bver_<id>_<secret>               an API key (also BVER_API_KEY for stdio)
//
// No credentials at all give the anonymous principal (the broker then
// answers Unauthenticated for every operation); credentials that are
// present but wrong are Unauthenticated here, never silently anonymous.
//
// Thread safety: Authenticate may be called from any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "bver/status.h"
#include "src/auth/api_keys.h"
#include "src/auth/jwt.h"
#include "src/auth/principal.h"

namespace bver::auth {

struct Credentials {
  std::string authorization;  // the Authorization header's value, or empty
  std::string api_key;        // the X-API-Key header's value (or BVER_API_KEY), or empty
};

class Authenticator {
 public:
  // Either may be null: keys null refuses API keys, jwt null refuses JWTs.
  // `keys` must outlive this object. `clock` gives microseconds since the
  // epoch (default: the system clock).
  Authenticator(ApiKeys* keys, std::unique_ptr<JwtVerifier> jwt,
                std::function<std::int64_t()> clock = nullptr);
  ~Authenticator();

  // Anonymous when both fields are empty. Unauthenticated for a malformed
  // Authorization header, an unknown scheme, a wrong/expired/revoked
  // credential, or both fields given with different credentials.
  // Unavailable when the store that holds the keys cannot be read.
  Result<Principal> Authenticate(const Credentials& credentials) const;

  // True when some credential can be accepted (keys or a JWT key).
  bool CanAuthenticate() const { return keys_ != nullptr || jwt_ != nullptr; }

 private:
  Result<Principal> Bearer(const std::string& token) const;

  ApiKeys* keys_;
  std::unique_ptr<JwtVerifier> jwt_;
  std::function<std::int64_t()> clock_;
};

}  // namespace bver::auth
