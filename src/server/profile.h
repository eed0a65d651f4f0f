// Profiles: what a runtime may do (policy) kept apart from where it runs and
// with which secrets (wiring). `bver up --profile prod` (or $BVER_PROFILE)
// picks one; promoting a project from dev to prod is a profile change, not
// a code change (docs/operating.md "Profiles").
//
// Built in: local (the default), dev and prod. bver.config.yaml may declare
// more, or refine the built-ins, under `profiles:`:
//
//   profiles:
//     prod:
//       extends: prod          # default: the built-in of that name, else local
//       policy:
//         auth: required       # required | optional (optional: no auth on loopback only)
//         durability: full     # full | fast (SQLite's synchronous level)
//         triggers: { max_chain_firings: 16, max_per_trigger: 3 }
//         rate_limit: { requests_per_second: 200, burst: 400 }   # per caller; off: none
//       wiring:
//         store: postgresql://bver@db.internal/bver
//         store_passfile: secrets/pgpass      # libpq password file (PGPASSFILE)
//         nats_url: nats://127.0.0.1:4222
//         listen: 0.0.0.0:8080
//         jwt: { hs256_secret_env: BVER_JWT_SECRET, issuer: ..., audience: ... }
//
// The policy has a revision, "NAME#" + 12 hex digits of the SHA-256 of its
// canonical JSON: it changes exactly when the policy does, and the runtime
// stamps it on every event, receipt and job result it writes.
//
// Wiring names secrets (an environment variable, a file); it never holds
// one. A password inside wiring.store, or a key that would hold a secret's
// value, is refused with the way to name it instead.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::server {

struct Policy {
  bool auth_required = false;
  std::string durability = "full";  // "full" | "fast"
  int max_chain_firings = 16;
  int max_per_trigger = 3;
  double rate_limit_rps = 0;  // requests per second per caller; 0: no limit
  int rate_limit_burst = 0;

  nlohmann::json ToJson() const;
};

struct Wiring {
  std::string store;           // a store URL without a password; empty: the usual choice
  std::string store_passfile;  // PGPASSFILE for a PostgreSQL store, resolved against the project
  std::string nats_url;
  std::string listen;  // HOST:PORT
  // The JWT settings live under profiles.NAME.wiring.jwt (read by
  // auth::LoadAuthConfig with this profile's name) instead of auth.jwt.
  bool has_jwt = false;

  nlohmann::json ToJson() const;
};

struct Profile {
  std::string name;
  std::string description;
  std::string source;  // "built-in", or "bver.config.yaml:LINE:COL"
  Policy policy;
  Wiring wiring;
  std::string revision;

  // {name, revision, source, policy, wiring}: safe to print and to store,
  // since wiring holds only names of secrets.
  nlohmann::json ToJson() const;
};

// The profile `name` of the project in `project_dir`; an empty name means
// $BVER_PROFILE, else "local". NotFound (listing the known profiles) for an
// unknown name; InvalidArgument naming file:line:column for a bad value.
Result<Profile> LoadProfile(const std::string& project_dir, const std::string& name);

// Every profile the project knows: the built-ins and those it declares.
Result<std::vector<Profile>> ListProfiles(const std::string& project_dir);

// The store URL with the profile's durability applied: a sqlite: URL
// without a durability option gets the policy's when it is not the default
// (full); one whose option contradicts the policy is FailedPrecondition.
// PostgreSQL URLs are returned as given (its durability is the server's
// synchronous_commit).
Result<std::string> ApplyDurability(const std::string& store_url, const Profile& profile);

}  // namespace bver::server
