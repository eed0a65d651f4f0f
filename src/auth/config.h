// Where the server's JWT keys come from. Secrets are read at run time only
// (BVER.md §7): from the environment or from files, never from
// bver.config.yaml itself, which may be committed.
//
// Environment (wins over the file):
//   BVER_JWT_HS256_SECRET            the HS256 secret itself (>= 32 bytes)
//   BVER_JWT_HS256_SECRET_FILE       a file holding it (one trailing newline is dropped)
//   BVER_JWT_RS256_PUBLIC_KEY_FILE   a PEM file with the RSA public key
//   BVER_JWT_ISSUER, BVER_JWT_AUDIENCE, BVER_JWT_LEEWAY_SECONDS
//
// bver.config.yaml beside bver.yaml:
//   auth:
//     jwt:
//       hs256_secret_env: NAME          # read the secret from $NAME
//       hs256_secret_file: PATH         # or from a file (relative to the project folder)
//       rs256_public_key_file: PATH
//       issuer: https://issuer.example
//       audience: bver
//       leeway_seconds: 30
//
// A key `hs256_secret` (the secret written into the file) is refused.
#pragma once

#include <optional>
#include <string>

#include "bver/status.h"
#include "src/auth/jwt.h"

namespace bver::auth {

struct AuthConfig {
  std::optional<JwtConfig> jwt;  // absent: JWTs are not accepted
};

// Reads the configuration of the project in `project_dir`. InvalidArgument
// naming file:line:column (or the variable) for a wrong value; NotFound for
// a named file that does not exist. Messages never contain a secret. With a
// `profile` whose wiring has a `jwt` mapping (profiles.NAME.wiring.jwt,
// src/server/profile.h), that mapping is read instead of auth.jwt.
Result<AuthConfig> LoadAuthConfig(const std::string& project_dir, const std::string& profile = "");

}  // namespace bver::auth
