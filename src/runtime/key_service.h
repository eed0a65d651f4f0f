// What the keys.* operations call (key_ops.h): the API key table, as the
// composition root provides it (src/server/runtime.cc over auth::ApiKeys).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::runtime {

class KeyService {
 public:
  virtual ~KeyService() = default;
  // {"id", "name", "scopes", "created_at", "active", "key"}: the secret is
  // in this answer only. `scopes` are already checked against the platform.
  virtual Result<nlohmann::json> CreateKey(const std::string& name, const std::vector<std::string>& scopes) = 0;
  // {"keys": [{"id", "name", "scopes", "created_at", "active", "revoked_at"?}]}: never a secret.
  virtual Result<nlohmann::json> ListKeys() = 0;
  // {"id", "revoked": true}. NotFound for an unknown id.
  virtual Result<nlohmann::json> RevokeKey(const std::string& id_or_key) = 0;
};

}  // namespace bver::runtime
