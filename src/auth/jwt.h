// Bearer JWTs (RFC 7519) signed with HS256 (a shared secret) or RS256 (an
// RSA key pair; the server holds only the PEM public key), carrying the
// caller's scopes in the `scope` claim, space-separated (RFC 8693 §4.2).
//
// What Verify checks, in this order, answering Unauthenticated on the first
// failure (messages never echo the token):
//   - form: three base64url parts (no padding), header and claims JSON objects,
//     at most kMaxTokenBytes;
//   - alg: exactly "HS256" or "RS256", and only one this verifier was given a
//     key for. "none" and every other value are refused, and each key is
//     bound to its one algorithm, so an RS256 public key can never be used
//     as an HS256 secret (alg confusion). A `crit` header is refused (no
//     extension is understood); `typ`, if present, must be JWT or at+jwt;
//   - the signature, before any claim is read;
//   - exp (required) and nbf (optional), each with `leeway_seconds`;
//   - iss and aud when configured (aud may be a string or an array);
//   - sub (or, failing that, client_id): the subject, 1-256 characters
//     without control characters.
//
// Thread safety: a JwtVerifier is immutable after Create; Verify may be
// called from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bver/status.h"
#include "src/auth/principal.h"

namespace bver::auth {

inline constexpr std::size_t kMaxTokenBytes = 8192;
inline constexpr std::size_t kMinHs256SecretBytes = 32;

struct JwtConfig {
  std::string hs256_secret;          // empty: HS256 refused; else at least 32 bytes (RFC 7518 §3.2)
  std::string rs256_public_key_pem;  // empty: RS256 refused; else an RSA public key (>= 2048 bits) in PEM
  std::string issuer;                // non-empty: `iss` must equal it
  std::string audience;              // non-empty: `aud` must be or contain it
  std::int64_t leeway_seconds = 30;  // clock skew allowed on exp and nbf, 0-300
};

class JwtVerifier {
 public:
  // InvalidArgument when neither key is given, the secret is too short, the
  // PEM does not hold an RSA public key of at least 2048 bits, or the
  // leeway is out of range. Messages never contain the secret.
  static Result<std::unique_ptr<JwtVerifier>> Create(const JwtConfig& config);
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // The principal of a valid token (kind kJwt, subject "jwt:<sub>", scopes
  // from `scope`) at time `now_seconds` (Unix time).
  Result<Principal> Verify(std::string_view token, std::int64_t now_seconds) const;

  // "HS256", "RS256" or "HS256 RS256": what this verifier accepts.
  std::string AcceptedAlgorithms() const;

 private:
  struct Impl;
  explicit JwtVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bver::auth
