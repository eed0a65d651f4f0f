// API keys: long random secrets a client presents as
// `Authorization: Bearer bver_<id>_<secret>` (or `X-API-Key`), each granting
// a fixed set of scopes (BVER.md §7).
//
//   key    = "bver_" id "_" secret
//   id     = 16 lower-case hex digits (8 random bytes): public, names the key
//   secret = 64 lower-case hex digits (32 random bytes): shown once, never stored
//
// The store keeps, per key, only "sha256:<salt>:<hash>" where salt is 16
// random bytes (hex) and hash = SHA-256(salt bytes || secret text) (hex).
// A salted fast hash is enough because the secret is 256 random bits: no
// dictionary applies and brute force is out of reach, while a slow KDF
// would cost every request milliseconds. Hashes are compared in constant
// time. A revoked key stops working at once in the process that revoked it,
// and within `cache_ttl_ms` in every other process sharing the store.
//
// Thread safety: every method may be called from any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bver/status.h"
#include "src/auth/principal.h"
#include "src/store/backend.h"

namespace bver::auth {

struct ApiKeyInfo {
  std::string id;
  std::string name;
  std::vector<std::string> scopes;
  std::int64_t created_at_us = 0;
  std::int64_t revoked_at_us = 0;  // 0: active
  bool active() const { return revoked_at_us == 0; }
};

struct CreatedApiKey {
  ApiKeyInfo info;
  std::string key;  // "bver_<id>_<secret>": the only time the secret exists outside the client
};

class ApiKeys {
 public:
  struct Options {
    // How long a key row read from the store is reused before it is read
    // again: bounds how late another process's revocation is seen. 0: always read.
    std::int64_t cache_ttl_ms = 1000;
    std::function<std::int64_t()> clock;  // microseconds since the epoch; default: system clock
  };

  // `keys` (the store's key table) must outlive this object.
  explicit ApiKeys(store::KeyTable& keys);
  ApiKeys(store::KeyTable& keys, Options options);
  ~ApiKeys();

  // Creates a key with `scopes` (at least one; each IsValidScope) and an
  // optional name (at most 200 characters). InvalidArgument otherwise.
  Result<CreatedApiKey> Create(const std::string& name, const std::vector<std::string>& scopes);
  // Every key, revoked ones included, in id order. Never a secret.
  Result<std::vector<ApiKeyInfo>> List();
  // Revokes the key with this id (or the full key text). NotFound when there
  // is no such key; revoking a revoked key is OK and keeps the first time.
  Status Revoke(std::string_view id_or_key);

  // The principal of a presented key: kind kApiKey, subject "key:<id>".
  // Unauthenticated, with one message for malformed, unknown, wrong and
  // revoked keys alike (the message never echoes the key).
  Result<Principal> Verify(std::string_view presented);

  // True when `text` has the form of a BVER API key (the "bver_" prefix):
  // lets a caller tell a key from a JWT in a bearer token.
  static bool LooksLikeKey(std::string_view text);

  // The stored form for `secret` under `salt` (raw bytes); for tests.
  static std::string HashSecretForTest(std::string_view salt, std::string_view secret);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bver::auth
