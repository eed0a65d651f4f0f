// What the schemas.* operations call (schema_ops.h): the registry of event
// payload schemas, id@X.Y.Z with a compatibility mode per id (BVER.md §6,
// docs/events.md). The composition root provides it over
// events::PayloadRegistry, so src/runtime never depends on src/events.
//
// Thread safety: implementations are called from any number of threads.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::runtime {

class SchemaService {
 public:
  virtual ~SchemaService() = default;
  // {id, version, ref, mode, registered_at}. FailedPrecondition with what
  // would break (one violation each) when not compatible with the latest
  // version under the id's mode; `mode` empty: the id's, or backward.
  virtual Result<nlohmann::json> Register(const std::string& id, const std::string& version,
                                          const nlohmann::json& schema, const std::string& mode) = 0;
  // {id, mode, previous?, compatible, breaks: [{path, rule, message}]}: the
  // dry run of Register against the latest version.
  virtual Result<nlohmann::json> Check(const std::string& id, const nlohmann::json& schema, const std::string& mode) = 0;
  // {id, version, ref, mode, registered_at, schema}; version empty: the latest.
  virtual Result<nlohmann::json> Get(const std::string& id, const std::string& version) = 0;
  // {"schemas": [{id, version, ref, mode, registered_at}...]}, every version.
  virtual Result<nlohmann::json> List() = 0;
};

}  // namespace bver::runtime
