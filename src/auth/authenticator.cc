#include "src/auth/authenticator.h"

#include <chrono>

namespace bver::auth {
namespace {

std::string Trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  std::size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

Authenticator::Authenticator(ApiKeys* keys, std::unique_ptr<JwtVerifier> jwt, std::function<std::int64_t()> clock)
    : keys_(keys), jwt_(std::move(jwt)), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] {
      return std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
}

Authenticator::~Authenticator() = default;

Result<Principal> Authenticator::Bearer(const std::string& token) const {
  if (ApiKeys::LooksLikeKey(token)) {
    if (keys_ == nullptr) return UnauthenticatedError("API keys are not accepted here");
    return keys_->Verify(token);
  }
  if (jwt_ == nullptr) {
    return UnauthenticatedError("bearer JWTs are not accepted: no JWT key is configured (see docs/auth.md)");
  }
  return jwt_->Verify(token, clock_() / 1000000);
}

Result<Principal> Authenticator::Authenticate(const Credentials& c) const {
  std::string authorization = Trim(c.authorization);
  std::string api_key = Trim(c.api_key);
  if (authorization.empty() && api_key.empty()) return Principal::Anonymous();
  std::string token;
  if (!authorization.empty()) {
    std::size_t sp = authorization.find(' ');
    if (sp == std::string::npos || !EqualsIgnoreCase(std::string_view(authorization).substr(0, sp), "bearer")) {
      return UnauthenticatedError("the Authorization header must be \"Bearer <API key or JWT>\"");
    }
    token = Trim(authorization.substr(sp + 1));
    if (token.empty()) return UnauthenticatedError("the Authorization header has an empty bearer token");
  }
  if (!api_key.empty()) {
    if (!token.empty() && token != api_key) {
      return UnauthenticatedError("two different credentials were presented (Authorization and X-API-Key)");
    }
    if (!ApiKeys::LooksLikeKey(api_key)) return UnauthenticatedError("invalid or revoked API key");
    token = api_key;
  }
  return Bearer(token);
}

}  // namespace bver::auth
